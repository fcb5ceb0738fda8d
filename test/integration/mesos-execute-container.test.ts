/**
 * mesos-execute's --volumes and --rlimits reach a real agent running the
 * filesystem/linux and posix/rlimits isolators (needs root for the mounts);
 * --containerizer=docker reaches its Docker containerizer, driving the fake
 * docker CLI of test/fixtures/fake-docker (no Docker daemon here).
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  type FakeDocker,
  installFakeDocker,
  subcommandOf,
} from "../fixtures/fake-docker/install.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { mesosExecute } from "../harness/mesos-execute.js";
import { type DaemonHandle, stopAll, tempDir } from "../harness/processes.js";
import { BUSYBOX, buildManifestImage, type LayerFiles } from "./images-helpers.js";

const isRoot = process.getuid?.() === 0;
const skip = isRoot ? false : "needs root (filesystem/linux mounts volumes)";

const skipImage =
  skip !== false ? skip : BUSYBOX === undefined ? "needs busybox (busybox-static)" : false;

let master: DaemonHandle;
let docker: FakeDocker;

/** Writes `<registry>/mini:latest.tar`, a one-layer `docker save` archive holding busybox. */
function buildImage(registry: string): void {
  const files: LayerFiles = { "bin/busybox": "", "etc/os-release": "ID=mesos-execute-test\n" };
  for (const tool of ["sh", "cat", "grep"]) files[`bin/${tool}`] = { link: "busybox" };
  buildManifestImage(registry, "mini:latest.tar", {
    repository: "mini",
    layers: [{ files }],
    config: { Env: ["PATH=/bin"] },
  });
}

before(async () => {
  docker = installFakeDocker(tempDir("mesos-execute-fake-docker-"));
  const registry = tempDir("mesos-execute-registry-");
  if (skipImage === false) buildImage(registry);
  ({ master } = await startOneAgentCluster({
    containerizers: "mesos,docker",
    docker: docker.path,
    ...(isRoot
      ? {
          isolation: "filesystem/linux,posix/rlimits,docker/runtime",
          image_providers: "docker",
          docker_registry: registry,
          docker_store_dir: tempDir("mesos-execute-store-"),
        }
      : {}),
  }));
});

after(async () => {
  docker?.removeAll();
  await stopAll();
});

function execute(...args: string[]) {
  return mesosExecute(master, args);
}

test("mesos-execute: --rlimits sets the task's limits", { skip }, async () => {
  const run = await execute(
    "--name=limited",
    "--command=grep -E '^Max core file size +4096 +8192 ' /proc/self/limits",
    '--rlimits={"rlimits":[{"type":"RLMT_CORE","soft":4096,"hard":8192}]}',
  );
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /TASK_FINISHED for task 'limited'/);
});

test("mesos-execute: --volumes mounts a host directory into the sandbox", { skip }, async () => {
  const host = tempDir("mesos-execute-volume-");
  mkdirSync(join(host, "inner"));
  writeFileSync(join(host, "inner", "marker"), "hello\n");
  const volumes = [{ container_path: "data", host_path: host, mode: "RO" }];
  const run = await execute(
    "--name=mounted",
    `--command=test "$(cat data/inner/marker)" = hello && ! touch data/inner/other`,
    `--volumes=${JSON.stringify(volumes)}`,
  );
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /TASK_FINISHED for task 'mounted'/);
});

test("mesos-execute: --docker_image runs the command in the image", {
  skip: skipImage,
}, async () => {
  const run = await execute(
    "--name=imaged",
    "--command=grep -q ID=mesos-execute-test /etc/os-release",
    "--docker_image=mini",
  );
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /TASK_FINISHED for task 'imaged'/);
});

test("mesos-execute: --containerizer=docker --networks=NET runs the container on that Docker network", async () => {
  const run = await execute(
    "--name=networked",
    "--command=echo hi",
    "--containerizer=docker",
    "--docker_image=busybox",
    "--networks=net1",
  );
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /TASK_FINISHED for task 'networked'/);
  const runs = docker.callsOf("run").map((c) => subcommandOf(c.argv).args);
  assert.equal(runs.length, 1, JSON.stringify(runs));
  const args = runs[0] ?? [];
  assert.equal(args[args.indexOf("--net") + 1], "net1", args.join(" "));
});

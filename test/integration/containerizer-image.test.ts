/**
 * Container images without Docker: the test builds a two-layer busybox
 * image as a `docker save` archive in a local registry directory; an
 * executor whose ExecutorInfo names the image runs inside the image's root
 * filesystem with the sandbox at /mnt/mesos/sandbox. Needs root and a
 * static busybox (Debian's busybox-static); skips otherwise.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CgroupsHierarchy } from "../../src/agent/containerizer/cgroups/hierarchy.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, stopAll, tempDir, waitFor } from "../harness/processes.js";
import { executeTask, removeRootCgroups, sandboxOf, scalar } from "./containerizer-helpers.js";
import { buildManifestImage, imageSkip, type LayerFiles } from "./images-helpers.js";

const skip = imageSkip;

const CGROUPS_ROOT = `mesos-test-${process.pid}`;
let master: DaemonHandle;
let agent: DaemonHandle;

/** Writes `<registry>/testimage:latest.tar`: busybox and /etc in layer 1, a whiteout in layer 2. */
function buildImage(registry: string): void {
  const base: LayerFiles = {
    "bin/busybox": "",
    "etc/os-release": 'NAME="mesos-ts test image"\nID=mesos-ts-test\n',
    "etc/removed-later": "this file is whited out by layer 2\n",
  };
  for (const tool of ["sh", "cat", "ls", "echo", "pwd", "ps", "test"]) {
    base[`bin/${tool}`] = { link: "busybox" };
  }
  buildManifestImage(registry, "testimage:latest.tar", {
    repository: "testimage",
    layers: [
      { files: base },
      { files: { "etc/.wh.removed-later": "", "etc/motd": "from layer two\n" } },
    ],
    config: {
      Env: ["PATH=/bin", "GREETING=hello-from-image"],
      Cmd: ["/bin/sh", "-c", "echo cmd-from-image $GREETING; pwd"],
      WorkingDir: "/etc",
    },
  });
}

before(async () => {
  if (skip !== undefined) return;
  const registry = tempDir("mesos-registry-");
  buildImage(registry);
  ({ master, agent } = await startOneAgentCluster({
    isolation: "filesystem/linux,namespaces/pid,docker/runtime",
    image_providers: "docker",
    docker_registry: registry,
    docker_store_dir: tempDir("mesos-docker-store-"),
    cgroups_root: CGROUPS_ROOT,
  }));
});

after(async () => {
  await stopAll();
  const cgroups = CgroupsHierarchy.detect("/sys/fs/cgroup", CGROUPS_ROOT);
  if (skip === undefined && !("error" in cgroups)) removeRootCgroups(cgroups);
});

const image = {
  type: "MESOS",
  mesos: { image: { type: "DOCKER", docker: { name: "testimage" } } },
};

test("images: an executor with a docker image runs in the image's root filesystem, sandbox at /mnt/mesos/sandbox", {
  skip,
}, async () => {
  const script = [
    "cat /etc/os-release",
    "cat /etc/motd",
    "test -e /etc/removed-later && echo WHITEOUT-IGNORED",
    "ls /",
    "echo pwd=$(pwd) sandbox=$MESOS_SANDBOX greeting=$GREETING path=$PATH",
    "echo in-sandbox > /mnt/mesos/sandbox/written",
    "test -e /usr/bin/node && echo HOST-VISIBLE",
    "exit 0",
  ].join("; ");
  const run = await executeTask(master, {
    name: "in-image",
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: "true",
    executor: {
      executor_id: { value: "in-image" },
      command: { value: script },
      container: image,
      resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    },
  });
  // The executor never subscribes (it is a shell script): the task fails when it exits.
  assert.equal(run.finalState, "TASK_FAILED", run.stdout);
  const sandbox = await sandboxOf(agent, "in-image");
  const stdout = await waitFor("the executor's output", () => {
    const text = readFileSync(join(sandbox, "stdout"), "utf8");
    return text.includes("pwd=") ? text : undefined;
  });
  assert.match(stdout, /NAME="mesos-ts test image"/);
  assert.match(stdout, /from layer two/);
  assert.doesNotMatch(stdout, /WHITEOUT-IGNORED|HOST-VISIBLE/);
  // docker/runtime: the executor starts in the image's WorkingDir, as in Mesos.
  assert.match(
    stdout,
    /pwd=\/etc sandbox=\/mnt\/mesos\/sandbox greeting=hello-from-image path=\/bin$/m,
  );
  assert.equal(readFileSync(join(sandbox, "written"), "utf8"), "in-sandbox\n");
});

test("images: a command task with an image runs in its root filesystem; the executor stays on the host", {
  skip,
}, async () => {
  const run = await executeTask(master, {
    name: "command-in-image",
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command:
      "cat /etc/os-release; echo pwd=$(pwd) sandbox=$MESOS_SANDBOX; test -e /usr/bin/node && echo HOST-$(echo VISIBLE); true",
    container: image,
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  const stdout = readFileSync(join(await sandboxOf(agent, "command-in-image"), "stdout"), "utf8");
  assert.match(stdout, /NAME="mesos-ts test image"/);
  // docker/runtime: the image's WorkingDir.
  assert.match(stdout, /pwd=\/etc sandbox=\/mnt\/mesos\/sandbox/);
  assert.doesNotMatch(stdout, /HOST-VISIBLE/);
});

test("docker/runtime: a command task without a value runs the image's Cmd with its Env", {
  skip,
}, async () => {
  const run = await executeTask(master, {
    name: "image-cmd",
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: { shell: false },
    container: image,
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  const stdout = readFileSync(join(await sandboxOf(agent, "image-cmd"), "stdout"), "utf8");
  assert.match(stdout, /^cmd-from-image hello-from-image$/m);
  assert.match(stdout, /^\/etc$/m);
});

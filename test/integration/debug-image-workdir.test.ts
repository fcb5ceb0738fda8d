/**
 * A container session (a DEBUG container) in a nested container with an
 * image, run as another user than its parent: as Mesos' launcher, it
 * starts in the parent's working directory inside the image although the
 * user could not reach it by its path (a directory on the way that only
 * root may pass), because root enters it before the user switch. Needs
 * root and a static busybox; skips otherwise.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { ProcessIO } from "../../src/common/protocol/generated/mesos-v1-agent.js";
import { codecFor } from "../../src/common/protocol/index.js";
import { readRecords } from "../../src/common/recordio/index.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { launchSession, operatorCall } from "../harness/operator.js";
import { type DaemonHandle, stopAll, tempDir, waitLong } from "../harness/processes.js";
import { taskGroupExecutor } from "../harness/task-groups.js";
import { scalar } from "./containerizer-helpers.js";
import { buildLegacyImage, busyboxFiles, imageContainer, imageSkip } from "./images-helpers.js";

const skip = imageSkip;
const processIoCodec = codecFor<ProcessIO>("mesos.v1.agent.ProcessIO");
let master: DaemonHandle;
let agent: DaemonHandle;
const schedulers: ChildProcess[] = [];

before(async () => {
  if (skip !== undefined) return;
  const registry = tempDir("mesos-debug-workdir-registry-");
  buildLegacyImage(registry, "private.tar", {
    repository: "private",
    layers: [
      { id: "debug-workdir-base", files: { ...busyboxFiles(), "priv/home": { dir: true } } },
    ],
    config: { Env: ["PATH=/bin"], WorkingDir: "/priv/home" },
  });
  ({ master, agent } = await startOneAgentCluster({
    isolation: "filesystem/linux,docker/runtime",
    image_providers: "docker",
    docker_registry: registry,
    docker_store_dir: tempDir("mesos-debug-workdir-store-"),
    executor_shutdown_grace_period: "2secs",
  }));
});

after(async () => {
  for (const s of schedulers) s.kill("SIGKILL");
  await stopAll();
});

/** Starts a task group with one sleeping task; resolves with its executor's container id. */
async function executorContainer(): Promise<string> {
  const tasks = [
    {
      name: "sleeper",
      task_id: { value: "sleeper" },
      agent_id: { value: "" },
      resources: [scalar("cpus", 0.1), scalar("mem", 32)],
      command: { value: "sleep 300" },
    },
  ];
  return taskGroupExecutor(master, agent, tasks, schedulers);
}

/** The host path of the root filesystem of nested container `child` of `parent`. */
function rootfsOf(parent: string, child: string): string | undefined {
  const dir = join(
    agent.workDir,
    "provisioner",
    "containers",
    parent,
    "containers",
    child,
    "backends",
    "copy",
    "rootfses",
  );
  const found = existsSync(dir) ? readdirSync(dir) : [];
  return found[0] === undefined ? undefined : join(dir, found[0]);
}

test("a session run as another user in a nested container with an image starts in the parent's working directory, which only root can reach", {
  skip,
}, async () => {
  const nobody = Number(execFileSync("id", ["-u", "nobody"], { encoding: "utf8" }).trim());
  const executor = await executorContainer();
  // The parent runs as root in /priv/home (the image's WorkingDir); it makes
  // /priv root's alone and /priv/home the user's.
  const parent = { value: "private", parent: { value: executor } };
  const launched = await operatorCall(agent, {
    type: "LAUNCH_NESTED_CONTAINER",
    launch_nested_container: {
      container_id: parent,
      command: {
        value: `busybox chmod 700 /priv && busybox chown ${nobody} /priv/home && echo mine > /priv/home/mine && exec sleep 300`,
      },
      container: imageContainer("private"),
    },
  });
  assert.equal(launched.status, 200, launched.text);
  const home = await waitLong("the parent to make its directories", () => {
    const rootfs = rootfsOf(executor, "private");
    if (rootfs === undefined || !existsSync(join(rootfs, "priv", "home", "mine"))) return undefined;
    return join(rootfs, "priv", "home");
  });
  assert.equal(statSync(join(home, "..")).mode & 0o777, 0o700);
  assert.equal(statSync(home).uid, nobody);

  const session = { value: "debug", parent };
  const res = await launchSession(agent, session, {
    value: "pwd; cat mine; id -u",
    user: "nobody",
  });
  assert.equal(res.status, 200, await res.clone().text());
  const out = { stdout: "", stderr: "" };
  assert.ok(res.body !== null);
  for await (const record of readRecords(res.body as AsyncIterable<Uint8Array>)) {
    const decoded = processIoCodec.decodeJson(record);
    assert.ok(decoded.ok);
    const data = decoded.value.data;
    if (decoded.value.type !== "DATA" || data === undefined) continue;
    const text = Buffer.from(data.data ?? new Uint8Array()).toString("utf8");
    if (data.type === "STDOUT") out.stdout += text;
    if (data.type === "STDERR") out.stderr += text;
  }
  assert.equal(out.stdout, `/priv/home\nmine\n${nobody}\n`, out.stderr);
  const waited = await operatorCall(agent, {
    type: "WAIT_NESTED_CONTAINER",
    wait_nested_container: { container_id: session },
  });
  assert.equal(waited.status, 200, waited.text);
  assert.deepEqual(JSON.parse(waited.text), {
    type: "WAIT_NESTED_CONTAINER",
    wait_nested_container: { exit_status: 0 },
  });
  await operatorCall(agent, {
    type: "KILL_NESTED_CONTAINER",
    kill_nested_container: { container_id: parent },
  });
});

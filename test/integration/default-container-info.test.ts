import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, stopAll, tempDir } from "../harness/processes.js";
import { executeTask, scalar } from "./containerizer-helpers.js";

const skip =
  process.platform !== "linux" || process.getuid?.() !== 0
    ? "needs root on Linux (mount namespaces)"
    : undefined;
let master: DaemonHandle;
let shared: string;

before(async () => {
  if (skip !== undefined) return;
  shared = tempDir("mesos-default-container-");
  ({ master } = await startOneAgentCluster({
    isolation: "filesystem/linux",
    default_container_info: JSON.stringify({
      type: "MESOS",
      volumes: [{ container_path: "shared", host_path: shared, mode: "RW" }],
    }),
  }));
});

after(stopAll);

const small = [scalar("cpus", 0.1), scalar("mem", 32)];

test("--default_container_info: an executor launched without a ContainerInfo gets the default one's volumes", {
  skip,
}, async () => {
  const run = await executeTask(master, {
    name: "defaulted",
    resources: small,
    command: "echo from-the-task > shared/file",
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  assert.equal(readFileSync(join(shared, "file"), "utf8"), "from-the-task\n");
});

test("--default_container_info: a task's own ContainerInfo wins over the default", {
  skip,
}, async () => {
  const own = tempDir("mesos-own-container-");
  const run = await executeTask(master, {
    name: "own-container",
    resources: small,
    command: "echo mine > own/file && test ! -e shared/file",
    container: { type: "MESOS", volumes: [{ container_path: "own", host_path: own, mode: "RW" }] },
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  assert.equal(readFileSync(join(own, "file"), "utf8"), "mine\n");
});

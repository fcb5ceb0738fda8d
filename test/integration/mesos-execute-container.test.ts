/**
 * mesos-execute's --volumes and --rlimits reach a real agent running the
 * filesystem/linux and posix/rlimits isolators (needs root for the mounts).
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  type DaemonHandle,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitForAgents,
} from "../harness/processes.js";

const isRoot = process.getuid?.() === 0;
const skip = isRoot ? false : "needs root (filesystem/linux mounts volumes)";

let master: DaemonHandle;

before(async () => {
  if (!isRoot) return;
  master = await startMaster();
  await startAgent({
    master: master.address,
    flags: { isolation: "filesystem/linux,posix/rlimits" },
  });
  await waitForAgents(master, 1);
});

after(stopAll);

function execute(...args: string[]) {
  return runBinary("mesos-execute", [`--master=${master.address}`, ...args], {
    timeoutMs: 60_000,
  });
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

/**
 * Image root filesystems across an agent restart: a checkpointed task in an
 * image keeps running, and its rootfs under `<work_dir>/provisioner` is
 * removed when it ends after the restart (not only when it ends under the
 * agent that launched it). Needs root and a static busybox; skips otherwise.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  type DaemonHandle,
  freePort,
  getJson,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitLong,
} from "../harness/processes.js";
import { sandboxOf, scalar } from "./containerizer-helpers.js";
import { buildLegacyImage, busyboxFiles, imageContainer, imageSkip } from "./images-helpers.js";

const skip = imageSkip;
let master: DaemonHandle;
let registry: string;

before(async () => {
  if (skip !== undefined) return;
  registry = tempDir("mesos-images-recovery-registry-");
  buildLegacyImage(registry, "waiter.tar", {
    repository: "waiter",
    layers: [{ id: "waiter-base", files: busyboxFiles() }],
    config: { Env: ["PATH=/bin"] },
  });
  master = await startMaster();
});

after(async () => {
  await stopAll();
});

async function taskState(agent: DaemonHandle, id: string): Promise<string | undefined> {
  const state = await getJson<{
    frameworks?: { executors?: { tasks?: { id: string; state: string }[] }[] }[];
  }>(`${agent.url}/state`);
  return (state?.frameworks ?? [])
    .flatMap((f) => f.executors ?? [])
    .flatMap((e) => e.tasks ?? [])
    .find((t) => t.id === id)?.state;
}

test("images: a task's rootfs survives an agent restart and is removed when the task ends", {
  skip,
}, async () => {
  const workDir = tempDir("mesos-images-recovery-agent-");
  const port = await freePort();
  const options = {
    master: master.address,
    port,
    flags: {
      work_dir: workDir,
      isolation: "filesystem/linux,docker/runtime",
      image_providers: "docker",
      docker_registry: registry,
      docker_store_dir: tempDir("mesos-images-recovery-store-"),
    },
  };
  let agent = await startAgent(options);
  const running = runBinary(
    "mesos-execute",
    [
      `--master=${master.address}`,
      "--checkpoint",
      `--task=${JSON.stringify({
        name: "waiter",
        task_id: { value: "waiter" },
        agent_id: { value: "" },
        resources: [scalar("cpus", 0.1), scalar("mem", 32)],
        command: { value: "until test -e /mnt/mesos/sandbox/stop; do sleep 0.1; done" },
        container: imageContainer("waiter"),
      })}`,
    ],
    { timeoutMs: 180_000 },
  );
  await waitLong(
    "the task to run",
    async () => (await taskState(agent, "waiter")) === "TASK_RUNNING",
  );
  const sandbox = await sandboxOf(agent, "waiter");
  const containers = join(workDir, "provisioner", "containers");
  assert.equal(readdirSync(containers).length, 1);

  await agent.stop();
  agent = await startAgent(options);
  await waitLong(
    "the task to be recovered",
    async () => (await taskState(agent, "waiter")) === "TASK_RUNNING",
  );
  assert.equal(readdirSync(containers).length, 1, "the running task's rootfs is kept");

  writeFileSync(join(sandbox, "stop"), "");
  assert.match((await running).stdout, /TASK_FINISHED/);
  await waitLong(
    "the rootfs to be removed",
    () => !existsSync(containers) || readdirSync(containers).length === 0,
  );
});

/**
 * A task group whose task runs in its own Docker image, across an agent
 * restart: a checkpointing framework's group runs a task in an image; the
 * agent is killed with SIGKILL and restarted on the same work dir. The
 * task's root filesystem is kept (its parent lives), the task goes on
 * running in it, its end reaches the default executor's WAIT as for any
 * adopted nested container (an unknown exit status: TASK_FAILED, as
 * Mesos), and its root filesystem is removed then. Needs root and a static
 * busybox; skips otherwise.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { executorsCheckpointed } from "../harness/checkpoints.js";
import {
  type DaemonHandle,
  freePort,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
  waitForTasksRunning,
  waitLong,
} from "../harness/processes.js";
import { runCheckpointedGroup } from "../harness/task-groups.js";
import { sandboxOf, scalar } from "./containerizer-helpers.js";
import { buildLegacyImage, busyboxFiles, imageContainer, imageSkip } from "./images-helpers.js";

const skip = imageSkip;

after(async () => {
  await stopAll();
});

async function nestedIds(agent: DaemonHandle): Promise<string[]> {
  try {
    const res = await fetch(`${agent.url}/api/v1`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ type: "GET_CONTAINERS", get_containers: { show_nested: true } }),
    });
    const body = (await res.json()) as {
      get_containers?: { containers?: { container_id?: { value: string; parent?: unknown } }[] };
    };
    return (body.get_containers?.containers ?? [])
      .filter((c) => c.container_id?.parent !== undefined)
      .map((c) => c.container_id?.value ?? "");
  } catch {
    return [];
  }
}

/** Root filesystems the provisioner holds for nested containers under `workDir`. */
function nestedRootfses(workDir: string): string[] {
  const containers = join(workDir, "provisioner", "containers");
  const out: string[] = [];
  for (const parent of existsSync(containers) ? readdirSync(containers) : []) {
    const nested = join(containers, parent, "containers");
    for (const child of existsSync(nested) ? readdirSync(nested) : []) {
      const rootfses = join(nested, child, "backends", "copy", "rootfses");
      for (const r of existsSync(rootfses) ? readdirSync(rootfses) : []) {
        out.push(join(rootfses, r));
      }
    }
  }
  return out;
}

test("task group images: a task's root filesystem outlives an agent restart while the task runs in it, and goes when it ends", {
  skip,
}, async () => {
  const registry = tempDir("mesos-tg-images-recovery-registry-");
  buildLegacyImage(registry, "gamma.tar", {
    repository: "gamma",
    layers: [
      { id: "gamma-base", files: busyboxFiles() },
      { id: "gamma-top", files: { "only-gamma": "gamma\n" } },
    ],
    config: { Env: ["PATH=/bin"] },
  });
  const master = await startMaster();
  const port = await freePort();
  const flags = {
    work_dir: tempDir("agent-tg-images-recovery-"),
    isolation: "filesystem/linux,docker/runtime",
    image_providers: "docker",
    docker_registry: registry,
    docker_store_dir: tempDir("mesos-tg-images-recovery-store-"),
    registration_backoff_factor: "10ms",
    executor_reregistration_timeout: "5secs",
    executor_shutdown_grace_period: "2secs",
  };
  let agent = await startAgent({ master: master.address, port, flags });
  const group = {
    tasks: [
      {
        name: "in-gamma",
        task_id: { value: "in-gamma" },
        agent_id: { value: "" },
        resources: [scalar("cpus", 0.1), scalar("mem", 32)],
        // Ends once told to (through its sandbox), and only inside its image.
        command: {
          value: "while [ ! -f /mnt/mesos/sandbox/stop ]; do sleep 1; done; cat /only-gamma",
        },
        container: imageContainer("gamma"),
      },
    ],
  };
  const run = runCheckpointedGroup(master, group.tasks);

  const [child] = await waitFor("the nested container", async () => {
    const ids = await nestedIds(agent);
    return ids.length === 1 ? ids : undefined;
  });
  const [rootfs] = await waitFor("its root filesystem", () => {
    const list = nestedRootfses(flags.work_dir);
    return list.length === 1 ? list : undefined;
  });
  assert.ok(rootfs?.includes(`/containers/${child}/`), rootfs);

  await executorsCheckpointed(flags.work_dir);
  await waitForTasksRunning(master, ["in-gamma"]);
  agent.kill("SIGKILL");
  await agent.exited;
  agent = await startAgent({ master: master.address, port, flags });
  await waitFor("the nested container after the restart", async () => {
    const ids = await nestedIds(agent);
    return ids.length === 1 && ids[0] === child ? true : undefined;
  });
  // Its parent lives: provisioner recovery kept the root filesystem.
  assert.ok(existsSync(join(rootfs as string, "only-gamma")), "the rootfs is kept");

  const sandbox = await sandboxOf(agent, "default-executor");
  writeFileSync(join(sandbox, "tasks", "in-gamma", "stop"), "");
  await run.end(60_000);
  // An adopted container's exit status is lost: the task fails, as in Mesos.
  assert.match(
    run.output(),
    /Received status update TASK_FAILED for task 'in-gamma'\n(?: {2}.*\n)*? {2}message: 'Command terminated with unknown status'/,
    run.output(),
  );
  await waitLong("the root filesystem to be removed", () =>
    nestedRootfses(flags.work_dir).length === 0 ? true : undefined,
  );
});

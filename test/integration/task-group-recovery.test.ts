/**
 * Nested containers across an agent restart: a checkpointing framework's
 * task group runs under `cgroups/cpu,cgroups/mem` with a nested container
 * (own cgroups) per task; the agent is killed with SIGKILL and restarted on
 * the same work dir. The restarted agent lists the nested containers again
 * with their parent, answers the default executor's WAIT when one of them
 * ends, and the group then ends as usual (the other task is killed); every
 * nested cgroup is removed. Needs root and cgroup v1; skips otherwise.
 */
import assert from "node:assert/strict";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { CgroupsHierarchy } from "../../src/agent/containerizer/cgroups/hierarchy.js";
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
} from "../harness/processes.js";
import { runCheckpointedGroup } from "../harness/task-groups.js";
import {
  isolationSkipReason,
  removeRootCgroups,
  sandboxOf,
  scalar,
} from "./containerizer-helpers.js";

const found = CgroupsHierarchy.detect("/sys/fs/cgroup", "mesos");
const skip =
  isolationSkipReason(["cpu", "cpuacct", "memory", "freezer"]) ??
  (!("error" in found) && found.version !== 1 ? "needs cgroup v1" : undefined);
const CGROUPS_ROOT = `mesos-nest-recovery-${process.pid}`;

after(async () => {
  await stopAll();
  const cgroups = CgroupsHierarchy.detect("/sys/fs/cgroup", CGROUPS_ROOT);
  if (skip === undefined && !("error" in cgroups)) removeRootCgroups(cgroups);
});

interface ContainerEntry {
  container_id?: { value: string; parent?: { value: string } };
  resource_statistics?: { mem_limit_bytes?: number };
}

async function nestedContainers(agent: DaemonHandle): Promise<ContainerEntry[]> {
  try {
    const res = await fetch(`${agent.url}/api/v1`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ type: "GET_CONTAINERS", get_containers: { show_nested: true } }),
    });
    const body = (await res.json()) as { get_containers?: { containers?: ContainerEntry[] } };
    return (body.get_containers?.containers ?? []).filter((c) => c.container_id?.parent);
  } catch {
    return [];
  }
}

function nestedCgroupCount(cgroups: CgroupsHierarchy): number {
  let n = 0;
  const root = cgroups.rootPath("memory");
  try {
    for (const parent of readdirSync(root, { withFileTypes: true })) {
      if (!parent.isDirectory()) continue;
      try {
        n += readdirSync(join(root, parent.name, "mesos"), { withFileTypes: true }).filter((e) =>
          e.isDirectory(),
        ).length;
      } catch {
        // none
      }
    }
  } catch {
    // no root
  }
  return n;
}

test("task group: nested containers are recovered after an agent restart; WAIT still answers and the group ends as usual", {
  skip,
}, async () => {
  const cgroups = CgroupsHierarchy.detect("/sys/fs/cgroup", CGROUPS_ROOT) as CgroupsHierarchy;
  const master = await startMaster();
  const port = await freePort();
  const flags = {
    work_dir: tempDir("agent-nested-recovery-"),
    isolation: "cgroups/cpu,cgroups/mem",
    launcher: "linux",
    cgroups_root: CGROUPS_ROOT,
    registration_backoff_factor: "10ms",
    executor_reregistration_timeout: "5secs",
    executor_shutdown_grace_period: "2secs",
  };
  let agent = await startAgent({ master: master.address, port, flags });
  const task = (id: string, command: string) => ({
    name: id,
    task_id: { value: id },
    agent_id: { value: "" },
    resources: [scalar("cpus", 0.1), scalar("mem", 40)],
    command: { value: command },
    container: { type: "MESOS", linux_info: { share_cgroups: false } },
  });
  const group = {
    tasks: [
      task("waiter", 'while [ ! -f "$MESOS_SANDBOX/stop" ]; do sleep 0.2; done; exit 3'),
      task("sleeper", "sleep 600"),
    ],
  };
  const run = runCheckpointedGroup(master, group.tasks);

  const before = await waitFor("two nested containers", async () => {
    const list = await nestedContainers(agent);
    return list.length === 2 ? list : undefined;
  });
  const ids = before.map((c) => c.container_id?.value).sort();

  await waitForTasksRunning(master, ["waiter", "sleeper"]);
  await executorsCheckpointed(flags.work_dir);
  agent.kill("SIGKILL");
  await agent.exited;
  agent = await startAgent({ master: master.address, port, flags });
  const recovered = await waitFor("the nested containers after the restart", async () => {
    const list = await nestedContainers(agent);
    return list.length === 2 ? list : undefined;
  });
  assert.deepEqual(recovered.map((c) => c.container_id?.value).sort(), ids);
  for (const c of recovered) {
    assert.equal(c.resource_statistics?.mem_limit_bytes, 40 * 1024 * 1024, "its own cgroup");
  }

  // The waiter ends on its own: the adopted container's end reaches the executor's WAIT.
  const sandbox = await sandboxOf(agent, "default-executor");
  writeFileSync(join(sandbox, "tasks", "waiter", "stop"), "");
  await run.end(40_000);
  const nestedLog = () =>
    `${run.output()}\n${agent
      .logs()
      .split("\n")
      .filter((l) => /ested|ecover/.test(l))
      .join("\n")}`;
  assert.match(run.output(), /Received status update TASK_FAILED for task 'waiter'/, nestedLog());
  assert.match(run.output(), /Received status update TASK_KILLED for task 'sleeper'/, run.output());
  await waitFor("the nested cgroups to be removed", () => nestedCgroupCount(cgroups) === 0, {
    timeoutMs: 30_000,
  });
  // The recovered executor's own cgroups go once it has exited.
  await waitFor(
    "the executor's cgroups to be removed",
    () =>
      readdirSync(cgroups.rootPath("memory"), { withFileTypes: true }).every(
        (e) => !e.isDirectory(),
      ),
    { timeoutMs: 30_000 },
  );
});

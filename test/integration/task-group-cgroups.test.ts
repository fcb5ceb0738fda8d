/**
 * Task groups with real cgroups: the default executor runs each task in a
 * nested container of its own (`linux_info.share_cgroups: false`), with its
 * own memory limit below the executor's cgroup. A real master, an agent with
 * `cgroups/cpu,cgroups/mem,namespaces/pid` and the linux launcher, and
 * `mesos-execute --task_group`. Needs root and cgroup v1 with the cpu,
 * memory and freezer controllers; skips otherwise.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CgroupsHierarchy } from "../../src/agent/containerizer/cgroups/hierarchy.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, getJson, runBinary, stopAll, waitFor } from "../harness/processes.js";
import { finals } from "../harness/task-groups.js";
import {
  isolationSkipReason,
  limitedResourcesOf,
  removeRootCgroups,
  scalar,
} from "./containerizer-helpers.js";

const found = CgroupsHierarchy.detect("/sys/fs/cgroup", "mesos");
const skip =
  isolationSkipReason(["cpu", "cpuacct", "memory", "freezer"]) ??
  (!("error" in found) && found.version !== 1
    ? "own cgroups for nested containers need cgroup v1 (on v2 they share the executor's)"
    : undefined);
const CGROUPS_ROOT = `mesos-nest-test-${process.pid}`;
let master: DaemonHandle;
let agent: DaemonHandle;
let cgroups: CgroupsHierarchy;

before(async () => {
  if (skip !== undefined) return;
  cgroups = CgroupsHierarchy.detect("/sys/fs/cgroup", CGROUPS_ROOT) as CgroupsHierarchy;
  ({ master, agent } = await startOneAgentCluster({
    isolation: "cgroups/cpu,cgroups/mem,namespaces/pid,filesystem/linux",
    launcher: "linux",
    cgroups_root: CGROUPS_ROOT,
    executor_shutdown_grace_period: "2secs",
  }));
});

after(async () => {
  await stopAll();
  if (skip === undefined) removeRootCgroups(cgroups);
});

/** A task of a group in a nested container with cgroups of its own. */
function task(id: string, memMb: number, command: string, limitMb?: number): object {
  return {
    name: id,
    task_id: { value: id },
    agent_id: { value: "" },
    resources: [scalar("cpus", 0.1), scalar("mem", memMb)],
    ...(limitMb === undefined ? {} : { limits: { mem: { value: limitMb } } }),
    command: { value: command },
    container: { type: "MESOS", linux_info: { share_cgroups: false } },
  };
}

function runGroup(tasks: object[], extra: string[] = []) {
  return runBinary(
    "mesos-execute",
    [`--master=${master.address}`, `--task_group=${JSON.stringify({ tasks })}`, ...extra],
    { timeoutMs: 45_000 },
  );
}

/** Nested container cgroups (`<parent>/mesos/<child>`) under our root for `subsystem`. */
function nestedCgroups(subsystem: "memory" | "freezer"): string[] {
  const root = cgroups.rootPath(subsystem);
  const out: string[] = [];
  let parents: string[] = [];
  try {
    parents = readdirSync(root, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return out;
  }
  for (const parent of parents) {
    try {
      for (const child of readdirSync(join(root, parent, "mesos"), { withFileTypes: true })) {
        if (child.isDirectory()) out.push(`${parent}/${child.name}`);
      }
    } catch {
      // no nested containers
    }
  }
  return out;
}

interface ContainerEntry {
  container_id?: { value: string; parent?: { value: string } };
  resource_statistics?: { mem_limit_bytes?: number; processes?: number };
}

async function agentContainers(): Promise<ContainerEntry[]> {
  const res = await fetch(`${agent.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ type: "GET_CONTAINERS", get_containers: { show_nested: true } }),
  });
  const body = (await res.json()) as { get_containers?: { containers?: ContainerEntry[] } };
  return body.get_containers?.containers ?? [];
}

test("task group: each task is a nested container with its own memory limit; GET_CONTAINERS and /containers list them with their parent and statistics", {
  skip,
}, async () => {
  const running = runGroup(
    [task("small", 40, "sleep 30"), task("large", 48, "sleep 30", 80)],
    ["--kill_after=6secs"],
  );
  const nested = await waitFor("two nested containers in GET_CONTAINERS", async () => {
    const list = (await agentContainers()).filter((c) => c.container_id?.parent !== undefined);
    return list.length === 2 ? list : undefined;
  });
  const parents = new Set(nested.map((c) => c.container_id?.parent?.value));
  assert.equal(parents.size, 1, "both tasks are nested in the executor's container");
  const limits = nested
    .map((c) => c.resource_statistics?.mem_limit_bytes)
    .sort((a, b) => (a ?? 0) - (b ?? 0));
  // Own limits: 40 MB (its mem) and 80 MB (its `limits.mem`, above its 48 MB request).
  assert.deepEqual(limits, [40 * 1024 * 1024, 80 * 1024 * 1024]);
  for (const c of nested) assert.ok((c.resource_statistics?.processes ?? 0) >= 1);
  const parent = [...parents][0] as string;
  for (const c of nested) {
    const dir = join(cgroups.rootPath("memory"), parent, "mesos", c.container_id?.value ?? "");
    assert.ok(existsSync(dir), `${dir} exists`);
  }
  const listed =
    (await getJson<{ container_id: string; parent_container_id?: { value: string } }[]>(
      `${agent.url}/containers`,
    )) ?? [];
  assert.equal(listed.filter((c) => c.parent_container_id?.value === parent).length, 2);

  const run = await running;
  const states = finals(run.stdout);
  assert.equal(states.get("small")?.state, "TASK_KILLED", run.stdout);
  assert.equal(states.get("large")?.state, "TASK_KILLED", run.stdout);
  await waitFor("the nested cgroups to be removed", () => nestedCgroups("memory").length === 0);
});

test("task group: a task over its own memory limit fails alone with REASON_CONTAINER_LIMITATION_MEMORY; the default executor then kills the rest of the group", {
  skip,
}, async () => {
  // Node fills the buffer from user space, so the page faults wait at the limit.
  const hog = `${process.execPath} -e "Buffer.alloc(200 * 1024 * 1024, 1); setTimeout(() => {}, 60000)"`;
  const run = await runGroup([task("hog", 64, hog), task("bystander", 32, "sleep 30")]);
  const states = finals(run.stdout);
  const hogEnd = states.get("hog");
  assert.equal(hogEnd?.state, "TASK_FAILED", run.stdout);
  assert.equal(hogEnd?.reason, "REASON_CONTAINER_LIMITATION_MEMORY", run.stdout);
  assert.match(hogEnd?.message ?? "", /Memory limit exceeded: Requested: 64MB/);
  // The default executor passes the nested container's limitation on.
  assert.equal((await limitedResourcesOf(master, "hog"))?.[0]?.name, "mem");
  const bystander = states.get("bystander");
  assert.equal(bystander?.state, "TASK_KILLED", run.stdout);
  assert.equal(bystander?.reason, undefined, run.stdout);
  await waitFor(
    "the nested and executor cgroups to be removed",
    () =>
      nestedCgroups("memory").length === 0 &&
      nestedCgroups("freezer").length === 0 &&
      readdirSync(cgroups.rootPath("memory"), { withFileTypes: true }).every(
        (e) => !e.isDirectory(),
      ),
  );
});

test("task group: by default (share_cgroups) the tasks' nested containers join the executor's cgroups and get only a freezer cgroup of their own", {
  skip,
}, async () => {
  const shared = (id: string) => ({
    name: id,
    task_id: { value: id },
    agent_id: { value: "" },
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: { value: "sleep 30" },
  });
  const running = runGroup([shared("s1"), shared("s2")], ["--kill_after=4secs"]);
  const nested = await waitFor("two nested containers in GET_CONTAINERS", async () => {
    const list = (await agentContainers()).filter((c) => c.container_id?.parent !== undefined);
    return list.length === 2 ? list : undefined;
  });
  const parent = nested[0]?.container_id?.parent?.value as string;
  assert.deepEqual(nestedCgroups("memory"), [], "no memory cgroups of their own");
  assert.equal(nestedCgroups("freezer").length, 2);
  const parentProcs = readFileSync(
    join(cgroups.path("memory", parent), "cgroup.procs"),
    "utf8",
  ).split("\n");
  for (const c of nested) {
    const pid = (c as { container_status?: { executor_pid?: number } }).container_status
      ?.executor_pid;
    assert.ok(
      pid !== undefined && parentProcs.includes(String(pid)),
      `${pid} in the executor's memory cgroup`,
    );
  }
  const run = await running;
  const states = finals(run.stdout);
  assert.equal(states.get("s1")?.state, "TASK_KILLED", run.stdout);
  assert.equal(states.get("s2")?.state, "TASK_KILLED", run.stdout);
  await waitFor("the nested cgroups to be removed", () => nestedCgroups("freezer").length === 0);
});

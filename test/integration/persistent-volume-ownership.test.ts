/**
 * Persistent volumes handed to the task's user without `--volume_gid_range`
 * (docs/persistent-volumes.md), on a real master and a root agent whose
 * tasks run as `nobody`:
 *
 * - a command task of a `nobody` framework writes its (root-made) volume:
 *   the volume's directory becomes nobody's when the container starts, its
 *   contents keep their owners (not recursive), and the agent logs it;
 * - a shared volume held by another container (a root task) is left as it
 *   is, so a `nobody` task beside it cannot write; once the holder is gone
 *   the next `nobody` task gets it;
 * - a default executor running as `nobody` gets the volumes of its task
 *   groups, those of a group sent to it while it runs too, and its nested
 *   tasks write them through their PARENT SANDBOX_PATH volumes;
 * - after an agent restart, a surviving executor's volumes are handed to
 *   its user again when it subscribes.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, type TestContext, test } from "node:test";
import type { Offer, Resource, TaskInfo } from "../../src/common/protocol/generated/mesos-v1.js";
import type { Call, Event } from "../../src/common/protocol/generated/mesos-v1-scheduler.js";
import {
  type DaemonHandle,
  getJson,
  killProcessGroups,
  startAgent,
  startMaster,
  stopAll,
  waitFor,
  waitForAgents,
  waitLong,
} from "../harness/processes.js";
import { type Subscription, subscribe, subscribeCall } from "./master-clients.js";

const root = process.platform === "linux" && process.getuid?.() === 0;
const ROLE = "db";
const RESERVATION = { type: "DYNAMIC" as const, role: ROLE, principal: "ops" };

let master: DaemonHandle;
let agent: DaemonHandle;
let agentId = "";
let workDir = "";
let nobodyUid = -1;
let nobodyGid = -1;
const open: Subscription[] = [];
const AGENT_FLAGS = {
  isolation: "posix/cpu,posix/mem,volume/sandbox_path",
  registration_backoff_factor: "10ms",
};

before(async () => {
  if (!root) return;
  nobodyUid = Number(execFileSync("id", ["-u", "nobody"], { encoding: "utf8" }).trim());
  nobodyGid = Number(execFileSync("id", ["-g", "nobody"], { encoding: "utf8" }).trim());
  master = await startMaster({ flags: { allocation_interval: "100ms" } });
  agent = await startAgent({ master: master.address, flags: AGENT_FLAGS });
  // The harness' work directory is 0700: `nobody` must reach the sandboxes and volumes.
  workDir = agent.workDir;
  chmodSync(workDir, 0o755);
  [agentId = ""] = await waitForAgents(master, 1);
});

after(async () => {
  for (const s of open) s.close();
  await stopAll();
});

function reserved(name: string, value: number, extra: Partial<Resource> = {}): Resource {
  return { name, type: "SCALAR", scalar: { value }, reservations: [RESERVATION], ...extra };
}

function plain(name: string, value: number): Resource {
  return { name, type: "SCALAR", scalar: { value } };
}

function volume(id: string, size: number, shared = false): Resource {
  return reserved("disk", size, {
    ...(shared ? { shared: {} } : {}),
    disk: {
      persistence: { id, principal: "ops" },
      volume: { mode: "RW", container_path: id },
    },
  });
}

const form = (fields: Record<string, unknown>) =>
  new URLSearchParams(
    Object.fromEntries(
      Object.entries(fields).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
    ),
  );

async function operator(path: string, fields: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${master.url}/master/${path}`, {
    method: "POST",
    body: form({ slaveId: agentId, ...fields }),
  });
  assert.equal(response.status, 202, `${path}: ${await response.text()}`);
}

/** Reserves and creates `v`; returns its directory, made root's 0755 as the agent makes it. */
async function createVolume(v: Resource): Promise<string> {
  await operator("reserve", { resources: [reserved("disk", v.scalar?.value ?? 0)] });
  await operator("create-volumes", { volumes: [v] });
  const dir = join(workDir, "volumes", "roles", ROLE, v.disk?.persistence?.id ?? "");
  await waitFor("the volume's directory", () => statSync(dir, { throwIfNoEntry: false }));
  chmodSync(join(workDir, "volumes"), 0o755);
  const before = statSync(dir);
  assert.equal(before.uid, 0, "the agent makes volumes root's");
  assert.equal(before.mode & 0o777, 0o755);
  return dir;
}

/**
 * A framework of role `db` whose tasks run as `nobody` unless they say
 * otherwise; it leaves when the test ends (passed or not), so the next
 * test's framework gets the offers and no executor is left behind.
 */
async function framework(t: TestContext, name: string): Promise<Subscription> {
  const s = await subscribe(
    master.url,
    subscribeCall(name, {
      user: "nobody",
      roles: [ROLE],
      principal: "ops",
      checkpoint: true,
      capabilities: [{ type: "MULTI_ROLE" }, { type: "SHARED_RESOURCES" }],
    }),
  );
  s.autoAcknowledge = true;
  open.push(s);
  t.after(async () => {
    // Torn down and waited for, so that no executor outlives a failed test.
    await s.call({ type: "TEARDOWN" } as Call).catch(() => undefined);
    s.close();
    await waitLong(`framework ${name} to leave the agent`, async () => {
      const state = await getJson<{ frameworks?: { id: string }[] }>(`${agent.url}/state`);
      return state !== undefined && !(state.frameworks ?? []).some((f) => f.id === s.frameworkId);
    }).catch(() => undefined);
  });
  return s;
}

/** The next unused offer holding the volume `id` (and at least 0.2 cpus). */
async function offerWith(s: Subscription, used: Set<string>, id: string): Promise<Offer> {
  const offer = await waitFor<Offer>(
    `an offer with volume ${id}`,
    () => {
      const rescinded = new Set(
        s.events.flatMap((e) => (e.rescind ? [e.rescind.offer_id.value] : [])),
      );
      return s.events
        .flatMap((e) => e.offers?.offers ?? [])
        .filter((o) => !used.has(o.id.value) && !rescinded.has(o.id.value))
        .find(
          (o) =>
            (o.resources ?? []).some((r) => r.disk?.persistence?.id === id) &&
            (o.resources ?? []).some((r) => r.name === "cpus" && (r.scalar?.value ?? 0) >= 0.2),
        );
    },
    { timeoutMs: 30_000, intervalMs: 20 },
  );
  used.add(offer.id.value);
  return offer;
}

async function accept(s: Subscription, offer: Offer, operations: unknown[]): Promise<void> {
  const reply = await s.call({
    type: "ACCEPT",
    accept: { offer_ids: [offer.id], operations, filters: { refuse_seconds: 0 } },
  } as Call);
  assert.equal(reply.status, 202, reply.body);
}

function task(id: string, v: Resource, shell: string, user?: string): TaskInfo {
  return {
    name: id,
    task_id: { value: id },
    agent_id: { value: agentId },
    resources: [plain("cpus", 0.1), plain("mem", 32), v],
    command: { value: shell, ...(user === undefined ? {} : { user }) },
  } as TaskInfo;
}

function lastStatus(s: Subscription, taskId: string): Event["update"] | undefined {
  return s.events.filter((e) => e.update?.status.task_id.value === taskId).at(-1)?.update;
}

async function reached(s: Subscription, taskId: string, states: RegExp): Promise<string> {
  const status = await waitLong(`${taskId} to reach ${states}`, () => {
    const last = lastStatus(s, taskId)?.status;
    return last !== undefined &&
      (states.test(last.state) || /FINISHED|FAILED|ERROR|LOST|DROPPED|KILLED/.test(last.state))
      ? last
      : undefined;
  });
  assert.match(status.state, states, `${taskId}: ${status.message ?? ""}`);
  return status.state;
}

const escaped = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Waits for the agent to log a line matching `pattern` (its log comes through a pipe). */
async function logged(pattern: RegExp): Promise<void> {
  await waitLong(`the agent to log ${pattern}`, () => pattern.test(agent.logs()));
}

describe("persistent volumes of non-root tasks", {
  skip: root ? false : "needs root (tasks run as nobody)",
}, () => {
  test("a nobody task's volume becomes nobody's when its container starts, not recursively", async (t) => {
    const pv = volume("pv", 16);
    const dir = await createVolume(pv);
    writeFileSync(join(dir, "from-root"), "root's\n");
    const s = await framework(t, "owner");
    const used = new Set<string>();
    await accept(s, await offerWith(s, used, "pv"), [
      {
        type: "LAUNCH",
        launch: { task_infos: [task("writer", pv, "id -u > pv/uid && echo mine > pv/f")] },
      },
    ]);
    await reached(s, "writer", /TASK_FINISHED/);
    assert.equal(readFileSync(join(dir, "uid"), "utf8").trim(), String(nobodyUid));
    const owner = statSync(dir);
    assert.deepEqual([owner.uid, owner.gid], [nobodyUid, nobodyGid]);
    assert.equal(owner.mode & 0o777, 0o755, "the mode is kept");
    assert.equal(statSync(join(dir, "f")).uid, nobodyUid);
    // Only the volume's directory changes hands: what is in it keeps its owner.
    assert.equal(statSync(join(dir, "from-root")).uid, 0);
    await logged(
      new RegExp(
        `Changing the ownership of the persistent volume at '${escaped(dir)}' with uid ${nobodyUid} and gid ${nobodyGid}`,
      ),
    );
  });

  test("a shared volume another container holds is left as it is", async (t) => {
    const sv = volume("sv", 16, true);
    const dir = await createVolume(sv);
    const s = await framework(t, "sharers");
    const used = new Set<string>();
    // A root task holds the volume: root needs nothing, so it stays root's.
    await accept(s, await offerWith(s, used, "sv"), [
      { type: "LAUNCH", launch: { task_infos: [task("holder", sv, "sleep 1000", "root")] } },
    ]);
    await reached(s, "holder", /TASK_RUNNING/);
    assert.equal(statSync(dir).uid, 0);
    // Beside it, a nobody task finds the volume root's and cannot write it.
    await accept(s, await offerWith(s, used, "sv"), [
      { type: "LAUNCH", launch: { task_infos: [task("beside", sv, "touch sv/beside")] } },
    ]);
    await reached(s, "beside", /TASK_FAILED/);
    assert.equal(statSync(dir).uid, 0);
    assert.equal(statSync(join(dir, "beside"), { throwIfNoEntry: false }), undefined);
    await logged(
      new RegExp(
        `Leaving the ownership of the persistent volume at '${escaped(dir)}' unchanged because it is in use`,
      ),
    );
    // Once the holder is gone, the next nobody task gets the volume.
    const kill = await s.call({
      type: "KILL",
      kill: { task_id: { value: "holder" }, agent_id: { value: agentId } },
    } as Call);
    assert.equal(kill.status, 202, kill.body);
    await reached(s, "holder", /TASK_KILLED/);
    await accept(s, await offerWith(s, used, "sv"), [
      { type: "LAUNCH", launch: { task_infos: [task("after", sv, "echo after > sv/after")] } },
    ]);
    await reached(s, "after", /TASK_FINISHED/);
    assert.equal(statSync(dir).uid, nobodyUid);
    assert.equal(readFileSync(join(dir, "after"), "utf8"), "after\n");
  });

  test("a nobody default executor gets its task groups' volumes, also one sent while it runs", async (t) => {
    const tv = volume("tv", 8);
    const lv = volume("lv", 8);
    const first = await createVolume(tv);
    const later = await createVolume(lv);
    const s = await framework(t, "groups");
    const used = new Set<string>();
    const executor = {
      type: "DEFAULT",
      executor_id: { value: "group-executor" },
      framework_id: { value: s.frameworkId },
      resources: [plain("cpus", 0.1), plain("mem", 32), plain("disk", 8)],
    };
    const group = (t: TaskInfo) => ({
      type: "LAUNCH_GROUP",
      launch_group: { executor, task_group: { tasks: [t] } },
    });
    // The first group keeps the executor running.
    await accept(s, await offerWith(s, used, "tv"), [
      group(task("grouped", tv, "echo grouped > tv/f && sleep 1000")),
    ]);
    await reached(s, "grouped", /TASK_RUNNING/);
    await waitFor("the first task's write", () =>
      statSync(join(first, "f"), { throwIfNoEntry: false }),
    );
    assert.equal(statSync(first).uid, nobodyUid);
    assert.equal(statSync(later).uid, 0);
    // A group sent to the running executor brings a volume new to its container.
    await accept(s, await offerWith(s, used, "lv"), [group(task("late", lv, "echo late > lv/f"))]);
    await reached(s, "late", /TASK_FINISHED/);
    assert.equal(readFileSync(join(later, "f"), "utf8"), "late\n");
    assert.deepEqual([statSync(later).uid, statSync(later).gid], [nobodyUid, nobodyGid]);
  });

  test("after an agent restart, a running executor's volume goes to its user again", async (t) => {
    const rv = volume("rv", 8);
    const dir = await createVolume(rv);
    const s = await framework(t, "restarts");
    const used = new Set<string>();
    await accept(s, await offerWith(s, used, "rv"), [
      {
        type: "LAUNCH",
        launch: { task_infos: [task("kept", rv, "echo $$ > rv/pid; exec sleep 1000")] },
      },
    ]);
    // The executor and its task outlive the agent: a failed run must not leave them behind.
    t.after(() => {
      const pids = (readdirSync(join(workDir, "meta"), { recursive: true }) as string[])
        .filter((f) => f.includes("/executors/kept/") && f.endsWith("pids/forked.pid"))
        .map((f) => Number(readFileSync(join(workDir, "meta", f), "utf8")));
      const task = readFileSync(join(dir, "pid"), { encoding: "utf8", flag: "a+" }).trim();
      killProcessGroups([...pids, ...(task === "" ? [] : [Number(task)])]);
    });
    await reached(s, "kept", /TASK_RUNNING/);
    assert.equal(statSync(dir).uid, nobodyUid);
    const { port } = agent;
    agent.kill("SIGKILL");
    await agent.exited;
    // Changed while the agent is down: the restarted agent hands it over again.
    chownSync(dir, 0, 0);
    agent = await startAgent({
      master: master.address,
      port,
      flags: { ...AGENT_FLAGS, work_dir: workDir },
    });
    const handed = new RegExp(
      `Changing the ownership of the persistent volume at '${escaped(dir)}' with uid ${nobodyUid} and gid ${nobodyGid}`,
    );
    await logged(handed);
    assert.equal(statSync(dir).uid, nobodyUid);
    const kill = await s.call({
      type: "KILL",
      kill: { task_id: { value: "kept" }, agent_id: { value: agentId } },
    } as Call);
    assert.equal(kill.status, 202, kill.body);
    await reached(s, "kept", /TASK_KILLED/);
  });
});

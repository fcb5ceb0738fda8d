/**
 * `--volume_gid_range` on a real master and a root agent, with tasks and
 * nested containers running as `nobody` (docs/persistent-volumes.md):
 *
 * - a bad range stops the agent with a one-line reason;
 * - a shared persistent volume used by a `nobody` task gets the first gid of
 *   the range (group, setgid bit, group write), the task runs with that gid
 *   as a supplementary group and can write; the gid is kept after the task
 *   ends and after an agent restart (checkpointed), a later task reuses it,
 *   and DESTROY gives it back;
 * - a PARENT SANDBOX_PATH volume of root's used by a `nobody` nested
 *   container gets a gid; with the range used up another such volume fails
 *   the launch with a clear message; destroying the parent gives the gid
 *   back and the directory its owner's group again;
 * - `volume_gid_manager/volume_gids_total` and `_free` follow all of it.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Offer, Resource } from "../../src/common/protocol/generated/mesos-v1.js";
import type { Call, Event } from "../../src/common/protocol/generated/mesos-v1-scheduler.js";
import {
  type DaemonHandle,
  exitCodeOf,
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
const RANGE = "[30000-30001]";
const SETGID = 0o2000;
const GROUP_WRITE = 0o020;

let master: DaemonHandle;
let agent: DaemonHandle;
let agentId = "";
/** The agent's --work_dir (a restarted agent's handle names another directory). */
let workDir = "";
const open: Subscription[] = [];

function agentFlags(dir?: string): Record<string, string> {
  return {
    volume_gid_range: RANGE,
    isolation: "posix/cpu,posix/mem,volume/sandbox_path",
    registration_backoff_factor: "10ms",
    ...(dir === undefined ? {} : { work_dir: dir }),
  };
}

before(async () => {
  if (!root) return;
  master = await startMaster({ flags: { allocation_interval: "100ms" } });
  agent = await startAgent({ master: master.address, flags: agentFlags() });
  // The harness' work directory is 0700: `nobody` must reach the sandboxes and volumes.
  workDir = agent.workDir;
  chmodSync(workDir, 0o755);
  [agentId = ""] = await waitForAgents(master, 1);
});

after(async () => {
  for (const s of open) s.close();
  await stopAll();
});

async function gidMetrics(on: DaemonHandle): Promise<{ total: number; free: number }> {
  const m = (await (await fetch(`${on.url}/metrics/snapshot`)).json()) as Record<string, number>;
  return {
    total: m["volume_gid_manager/volume_gids_total"] ?? -1,
    free: m["volume_gid_manager/volume_gids_free"] ?? -1,
  };
}

// --- the scheduler side ----------------------------------------------------

function reserved(name: string, value: number, extra: Partial<Resource> = {}): Resource {
  return { name, type: "SCALAR", scalar: { value }, reservations: [RESERVATION], ...extra };
}

const shared = reserved("disk", 32, {
  shared: {},
  disk: {
    persistence: { id: "sv", principal: "ops" },
    volume: { mode: "RW", container_path: "sv" },
  },
});

const form = (fields: Record<string, unknown>) =>
  new URLSearchParams(
    Object.fromEntries(
      Object.entries(fields).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
    ),
  );

async function operator(path: string, fields: Record<string, unknown>) {
  const response = await fetch(`${master.url}/master/${path}`, {
    method: "POST",
    body: form({ slaveId: agentId, ...fields }),
  });
  return { status: response.status, body: await response.text() };
}

async function framework(name: string, user?: string): Promise<Subscription> {
  const s = await subscribe(
    master.url,
    subscribeCall(name, {
      ...(user === undefined ? {} : { user }),
      roles: [ROLE],
      principal: "ops",
      checkpoint: true,
      capabilities: [{ type: "MULTI_ROLE" }, { type: "SHARED_RESOURCES" }],
    }),
  );
  s.autoAcknowledge = true;
  open.push(s);
  return s;
}

/** Launches a `nobody` task using the shared volume on the next offer that has it. */
async function launchOnVolume(s: Subscription, used: Set<string>, id: string, shell: string) {
  const offer = await waitFor<Offer>(
    `an offer with the shared volume for ${id}`,
    () => {
      const rescinded = new Set(
        s.events.flatMap((e) => (e.rescind ? [e.rescind.offer_id.value] : [])),
      );
      return s.events
        .flatMap((e) => e.offers?.offers ?? [])
        .filter((o) => !used.has(o.id.value) && !rescinded.has(o.id.value))
        .find((o) => (o.resources ?? []).some((r) => r.disk?.persistence?.id === "sv"));
    },
    { timeoutMs: 30_000, intervalMs: 20 },
  );
  used.add(offer.id.value);
  const plain = (name: string, value: number): Resource => ({
    name,
    type: "SCALAR",
    scalar: { value },
  });
  const task = {
    name: id,
    task_id: { value: id },
    agent_id: { value: agentId },
    resources: [plain("cpus", 0.25), plain("mem", 32), shared],
    command: { value: shell, user: "nobody" },
  };
  const accept: Call = {
    type: "ACCEPT",
    accept: {
      offer_ids: [offer.id],
      operations: [{ type: "LAUNCH", launch: { task_infos: [task] } }],
      filters: { refuse_seconds: 0 },
    },
  } as Call;
  const reply = await s.call(accept);
  assert.equal(reply.status, 202, reply.body);
}

function lastStatus(s: Subscription, taskId: string): Event["update"] | undefined {
  return s.events.filter((e) => e.update?.status.task_id.value === taskId).at(-1)?.update;
}

async function finished(s: Subscription, taskId: string): Promise<void> {
  const status = await waitLong(`${taskId} to end`, () => {
    const last = lastStatus(s, taskId)?.status;
    return last !== undefined && /FINISHED|FAILED|ERROR|LOST|DROPPED|KILLED/.test(last.state)
      ? last
      : undefined;
  });
  assert.equal(status.state, "TASK_FINISHED", `${taskId}: ${status.message ?? ""}`);
}

// --- the agent API ---------------------------------------------------------

async function agentCall(c: Record<string, unknown>): Promise<{ status: number; text: string }> {
  const res = await fetch(`${agent.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(c),
  });
  return { status: res.status, text: await res.text() };
}

function containerId(id: string, parent?: string): Record<string, unknown> {
  return parent === undefined ? { value: id } : { value: id, parent: { value: parent } };
}

/** Launches `command` as `nobody` in a nested container of `parent` with a PARENT volume of `path`. */
function launchNested(parent: string, id: string, path: string, command: string) {
  return agentCall({
    type: "LAUNCH_CONTAINER",
    launch_container: {
      container_id: containerId(id, parent),
      command: { value: command, user: "nobody" },
      container: {
        type: "MESOS",
        volumes: [
          {
            container_path: "p",
            mode: "RW",
            source: { type: "SANDBOX_PATH", sandbox_path: { type: "PARENT", path } },
          },
        ],
      },
    },
  });
}

async function exitStatusOf(id: string, parent?: string): Promise<number> {
  const r = await agentCall({
    type: "WAIT_CONTAINER",
    wait_container: { container_id: containerId(id, parent) },
  });
  assert.equal(r.status, 200, r.text);
  const body = JSON.parse(r.text) as { wait_container?: { exit_status?: number } };
  return body.wait_container?.exit_status ?? -1;
}

describe("--volume_gid_range", { skip: root ? false : "needs root (tasks run as nobody)" }, () => {
  test("a bad range stops the agent with its reason", async () => {
    for (const [range, reason] of [
      ["5", /Invalid volume gid range type SCALAR, expecting RANGES/],
      ["{a,b}", /Invalid volume gid range type SET, expecting RANGES/],
      ["[20-10]", /range 20-10 begins after it ends/],
      ["nonsense", /Failed to parse volume gid range 'nonsense'/],
    ] as const) {
      const refused = await startAgent({
        master: master.address,
        waitReady: false,
        flags: { volume_gid_range: range },
      });
      assert.equal(await exitCodeOf(refused), 1, range);
      assert.match(refused.logs(), reason);
    }
  });

  test("a shared persistent volume: a gid for nobody's tasks, kept across tasks and restarts, given back on DESTROY", async () => {
    assert.deepEqual(await gidMetrics(agent), { total: 2, free: 2 });
    const reserve = await operator("reserve", { resources: [reserved("disk", 32)] });
    assert.equal(reserve.status, 202, reserve.body);
    const create = await operator("create-volumes", { volumes: [shared] });
    assert.equal(create.status, 202, create.body);
    const hostDir = join(workDir, "volumes", "roles", ROLE, "sv");
    await waitFor("the volume's directory", () => statSync(hostDir, { throwIfNoEntry: false }));
    // Root's 0755 directory: only the gid lets nobody write into it.
    chmodSync(hostDir, 0o755);
    chmodSync(join(workDir, "volumes"), 0o755);

    const s = await framework("gids");
    const used = new Set<string>();
    await launchOnVolume(
      s,
      used,
      "writer",
      "id -G > sv/groups && mkdir sv/dir && echo hi > sv/dir/f",
    );
    await finished(s, "writer");
    const dir = statSync(hostDir);
    assert.equal(dir.gid, 30000);
    assert.equal(dir.mode & SETGID, SETGID, "setgid bit on the volume");
    assert.equal(dir.mode & GROUP_WRITE, GROUP_WRITE, "group may write");
    assert.ok(readFileSync(join(hostDir, "groups"), "utf8").split(/\s+/).includes("30000"));
    // What the task made inherits the group.
    assert.equal(statSync(join(hostDir, "dir")).gid, 30000);
    assert.equal(statSync(join(hostDir, "dir", "f")).gid, 30000);
    assert.deepEqual(await gidMetrics(agent), { total: 2, free: 1 });
    const checkpoint = JSON.parse(
      readFileSync(join(workDir, "meta", "volume_gid_manager", "volume_gids"), "utf8"),
    ) as { infos: unknown[] };
    assert.deepEqual(checkpoint.infos, [{ type: "PERSISTENT", path: hostDir, gid: 30000 }]);

    // Restarted, the agent still knows the allocation; the next task gets the same gid.
    const { port } = agent;
    await agent.stop();
    agent = await startAgent({ master: master.address, port, flags: agentFlags(workDir) });
    assert.deepEqual(await gidMetrics(agent), { total: 2, free: 1 });
    await launchOnVolume(
      s,
      used,
      "again",
      "id -G | tr ' ' '\\n' | grep -qx 30000 && echo again > sv/again",
    );
    await finished(s, "again");
    assert.equal(readFileSync(join(hostDir, "again"), "utf8"), "again\n");
    assert.deepEqual(await gidMetrics(agent), { total: 2, free: 1 });

    s.close();
    await waitFor("the framework to be gone", async () => {
      const state = (await (await fetch(`${master.url}/master/state`)).json()) as {
        frameworks: unknown[];
      };
      return state.frameworks.length === 0;
    });
    const destroy = await operator("destroy-volumes", { volumes: [shared] });
    assert.equal(destroy.status, 202, destroy.body);
    await waitFor("the gid to be given back", async () => (await gidMetrics(agent)).free === 2);
    assert.equal(statSync(hostDir, { throwIfNoEntry: false }), undefined);
  });

  test("a nobody task group writes its persistent volume through the default executor's PARENT volume", async () => {
    const tv = reserved("disk", 8, {
      disk: {
        persistence: { id: "tv", principal: "ops" },
        volume: { mode: "RW", container_path: "tv" },
      },
    });
    assert.equal((await operator("reserve", { resources: [reserved("disk", 8)] })).status, 202);
    assert.equal((await operator("create-volumes", { volumes: [tv] })).status, 202);
    const hostDir = join(workDir, "volumes", "roles", ROLE, "tv");
    await waitFor("the volume's directory", () => statSync(hostDir, { throwIfNoEntry: false }));
    // The framework's user: the default executor and its tasks run as nobody.
    const s = await framework("group-gids", "nobody");
    const offer = await waitFor<Offer>(
      "an offer with the volume",
      () =>
        s.events
          .flatMap((e) => e.offers?.offers ?? [])
          .find((o) => (o.resources ?? []).some((r) => r.disk?.persistence?.id === "tv")),
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    const plain = (name: string, value: number): Resource => ({
      name,
      type: "SCALAR",
      scalar: { value },
    });
    const reply = await s.call({
      type: "ACCEPT",
      accept: {
        offer_ids: [offer.id],
        filters: { refuse_seconds: 0 },
        operations: [
          {
            type: "LAUNCH_GROUP",
            launch_group: {
              executor: {
                type: "DEFAULT",
                executor_id: { value: "group-executor" },
                framework_id: { value: s.frameworkId },
                resources: [plain("cpus", 0.1), plain("mem", 32), plain("disk", 8)],
              },
              task_group: {
                tasks: [
                  {
                    name: "grouped",
                    task_id: { value: "grouped" },
                    agent_id: { value: agentId },
                    resources: [plain("cpus", 0.1), plain("mem", 32), tv],
                    command: { value: "echo grouped > tv/f" },
                  },
                ],
              },
            },
          },
        ],
      },
    } as Call);
    assert.equal(reply.status, 202, reply.body);
    await finished(s, "grouped");
    assert.equal(readFileSync(join(hostDir, "f"), "utf8"), "grouped\n");
    const dir = statSync(hostDir);
    assert.equal(dir.gid, 30000);
    assert.equal(dir.mode & SETGID, SETGID);
    assert.deepEqual(await gidMetrics(agent), { total: 2, free: 1 });

    s.close();
    await waitFor("the framework to be gone", async () => {
      const state = (await (await fetch(`${master.url}/master/state`)).json()) as {
        frameworks: unknown[];
      };
      return state.frameworks.length === 0;
    });
    assert.equal((await operator("destroy-volumes", { volumes: [tv] })).status, 202);
    await waitFor("the gid to be given back", async () => (await gidMetrics(agent)).free === 2);
  });

  test("PARENT SANDBOX_PATH volumes: a gid while the parent lives, a clear error when none is left", async () => {
    const parent = "gid-parent";
    const started = await agentCall({
      type: "LAUNCH_CONTAINER",
      launch_container: {
        container_id: containerId(parent),
        command: { value: "sleep 1000" },
        resources: [
          { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
          { name: "mem", type: "SCALAR", scalar: { value: 64 } },
        ],
      },
    });
    assert.equal(started.status, 200, started.text);
    const parentSandbox = join(workDir, "containers", parent);
    await waitFor("the parent's sandbox", () => statSync(parentSandbox, { throwIfNoEntry: false }));
    for (const name of ["a", "b", "c"]) mkdirSync(join(parentSandbox, name), { mode: 0o755 });
    chmodSync(join(workDir, "containers"), 0o755);
    chmodSync(parentSandbox, 0o755);

    // Root's directory: without the gid nobody could not write into it.
    const launched = await launchNested(parent, "w1", "a", "echo from-nobody > p/out");
    assert.equal(launched.status, 200, launched.text);
    assert.equal(await exitStatusOf("w1", parent), 0);
    const a = statSync(join(parentSandbox, "a"));
    assert.equal(a.gid, 30000);
    assert.equal(a.mode & SETGID, SETGID);
    assert.equal(readFileSync(join(parentSandbox, "a", "out"), "utf8"), "from-nobody\n");

    // A second volume takes the last gid; a third finds none.
    assert.equal((await launchNested(parent, "w2", "b", "touch p/x")).status, 200);
    assert.equal(await exitStatusOf("w2", parent), 0);
    assert.deepEqual(await gidMetrics(agent), { total: 2, free: 0 });
    const refused = await launchNested(parent, "w3", "c", "touch p/x");
    const outcome =
      refused.status === 200 ? `exit ${await exitStatusOf("w3", parent)}` : refused.text;
    assert.match(outcome, /free gid range of --volume_gid_range is exhausted/);
    // The same volume again reuses its gid.
    assert.equal((await launchNested(parent, "w4", "a", "touch p/y")).status, 200);
    assert.equal(await exitStatusOf("w4", parent), 0);

    // Restarted, the agent recovers the parent and still counts its volumes' gids.
    const { port } = agent;
    await agent.stop();
    agent = await startAgent({ master: master.address, port, flags: agentFlags(workDir) });
    assert.deepEqual(await gidMetrics(agent), { total: 2, free: 0 });

    // The parent goes: its volumes' gids come back, the directories are root's group again.
    const killed = await agentCall({
      type: "KILL_CONTAINER",
      kill_container: { container_id: containerId(parent) },
    });
    assert.equal(killed.status, 200, killed.text);
    await exitStatusOf(parent);
    await waitFor("the gids to be given back", async () => (await gidMetrics(agent)).free === 2);
    for (const name of ["a", "b"]) {
      const back = await waitFor(`${name} to be root's group again`, () => {
        const now = statSync(join(parentSandbox, name));
        return now.gid === 0 ? now : undefined;
      });
      assert.equal(back.gid, 0, name);
      assert.equal(back.mode & SETGID, 0, name);
      assert.equal(back.mode & GROUP_WRITE, 0, name);
    }
  });
  test("an executor that ended while the agent was down gives its nested containers' PARENT volume gids back", async () => {
    const s = await framework("gone");
    const offer = await waitFor<Offer>(
      "an offer",
      () => s.events.flatMap((e) => e.offers?.offers ?? []).at(0),
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    const plain = (name: string, value: number): Resource => ({
      name,
      type: "SCALAR",
      scalar: { value },
    });
    const reply = await s.call({
      type: "ACCEPT",
      accept: {
        offer_ids: [offer.id],
        filters: { refuse_seconds: 0 },
        operations: [
          {
            type: "LAUNCH",
            launch: {
              task_infos: [
                {
                  name: "sleeper",
                  task_id: { value: "sleeper" },
                  agent_id: { value: agentId },
                  resources: [plain("cpus", 0.1), plain("mem", 32)],
                  command: { value: "sleep 1000" },
                },
              ],
            },
          },
        ],
      },
    } as Call);
    assert.equal(reply.status, 202, reply.body);
    await waitLong(
      "sleeper to run",
      () => lastStatus(s, "sleeper")?.status.state === "TASK_RUNNING",
    );
    const state = (await (await fetch(`${agent.url}/state`)).json()) as {
      frameworks: { executors: { id: string; container: string; directory: string }[] }[];
    };
    const executor = state.frameworks.flatMap((f) => f.executors).find((e) => e.id === "sleeper");
    assert.ok(executor !== undefined);
    mkdirSync(join(executor.directory, "d"), { mode: 0o755 });
    chmodSync(executor.directory, 0o755);
    const launched = await launchNested(executor.container, "n1", "d", "touch p/x");
    assert.equal(launched.status, 200, launched.text);
    assert.equal(await exitStatusOf("n1", executor.container), 0);
    assert.equal(statSync(join(executor.directory, "d")).gid, 30000);
    assert.deepEqual(await gidMetrics(agent), { total: 2, free: 1 });

    // The agent dies, then the executor (its whole session) while the agent is down.
    const { port } = agent;
    agent.kill("SIGKILL");
    await agent.exited;
    const pid = Number(
      readFileSync(
        join(executor.directory.replace(workDir, join(workDir, "meta")), "pids", "forked.pid"),
        "utf8",
      ),
    );
    process.kill(-pid, "SIGKILL");
    await waitLong("the executor to be gone", () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    });
    agent = await startAgent({ master: master.address, port, flags: agentFlags(workDir) });
    await waitFor("the gid to be given back", async () => (await gidMetrics(agent)).free === 2);
    // The release runs on its own once the agent has recovered.
    const back = await waitFor("the directory to be root's group again", () => {
      const now = statSync(join(executor.directory, "d"));
      return now.gid === 0 ? now : undefined;
    });
    assert.equal(back.mode & SETGID, 0);
    s.close();
  });
});

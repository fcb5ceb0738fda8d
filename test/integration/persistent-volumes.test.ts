/**
 * Persistent volumes on PATH and MOUNT disks and shared volumes, on a real
 * master and agent, checked on the agent's filesystem as Mesos' docs
 * describe them (docs/persistent-volumes.md):
 *
 * - a PATH disk's volume lives in `<root>/volumes/roles/<role>/<id>` and is
 *   deleted on DESTROY; a MOUNT disk is taken whole and its volume is the
 *   mount point, emptied (not removed) on DESTROY; the data a task wrote
 *   outlives the task;
 * - an agent whose MOUNT disk root is not a mount point does not start;
 * - one shared volume serves two tasks of one ACCEPT at the same time, stays
 *   offered while they run, and cannot be destroyed until they end.
 *
 * The MOUNT disk is a bind mount of a temporary directory, so those checks
 * need root (they are skipped otherwise).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Offer, Resource } from "../../src/common/protocol/generated/mesos-v1.js";
import type { Call, Event } from "../../src/common/protocol/generated/mesos-v1-scheduler.js";
import {
  type DaemonHandle,
  exitCodeOf,
  freePort,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
  waitForAgents,
} from "../harness/processes.js";
import { type Subscription, subscribe, subscribeCall } from "./master-clients.js";

const ROLE = "db";
const RESERVATION = { type: "DYNAMIC" as const, role: ROLE, principal: "ops" };
const pathRoot = join(tempDir("pv-path-disk-"), "disk");
// A directory inside the temporary one, so the harness unmounts it when it cleans up.
const mountRoot = join(tempDir("pv-mount-disk-"), "disk");
mkdirSync(mountRoot);
const mounted =
  process.getuid?.() === 0 &&
  spawnSync("mount", ["--bind", mountRoot, mountRoot], { stdio: "ignore" }).status === 0;
const needsMount = mounted ? {} : { skip: "bind-mounting a MOUNT disk needs root" };

const PATH_SOURCE = { type: "PATH" as const, path: { root: pathRoot } };
const MOUNT_SOURCE = { type: "MOUNT" as const, mount: { root: mountRoot } };

let master: DaemonHandle;
let agent: DaemonHandle;
let agentId = "";
const open: Subscription[] = [];

function agentResources(mountDisk: boolean): string {
  const disks: Resource[] = [
    { name: "cpus", type: "SCALAR", scalar: { value: 2 } },
    { name: "mem", type: "SCALAR", scalar: { value: 1024 } },
    { name: "disk", type: "SCALAR", scalar: { value: 256 } },
    { name: "disk", type: "SCALAR", scalar: { value: 512 }, disk: { source: PATH_SOURCE } },
  ];
  if (mountDisk) {
    disks.push({
      name: "disk",
      type: "SCALAR",
      scalar: { value: 64 },
      disk: { source: MOUNT_SOURCE },
    });
  }
  return JSON.stringify(disks);
}

before(async () => {
  master = await startMaster({ flags: { allocation_interval: "100ms" } });
  agent = await startAgent({
    master: master.address,
    flags: { resources: agentResources(mounted), registration_backoff_factor: "10ms" },
  });
  [agentId = ""] = await waitForAgents(master, 1);
});

after(async () => {
  for (const s of open) s.close();
  await stopAll();
});

function reserved(name: string, value: number, extra: Partial<Resource> = {}): Resource {
  return { name, type: "SCALAR", scalar: { value }, reservations: [RESERVATION], ...extra };
}

function volume(id: string, value: number, containerPath: string, extra: Partial<Resource> = {}) {
  const { disk, ...rest } = extra;
  return reserved("disk", value, {
    ...rest,
    disk: {
      ...disk,
      persistence: { id, principal: "ops" },
      volume: { mode: "RW", container_path: containerPath },
    },
  });
}

const form = (fields: Record<string, unknown>) =>
  new URLSearchParams(
    Object.fromEntries(
      Object.entries(fields).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
    ),
  );

async function operator(path: string, fields: Record<string, unknown>, slaveId = agentId) {
  const response = await fetch(`${master.url}/master/${path}`, {
    method: "POST",
    body: form({ slaveId, ...fields }),
  });
  return { status: response.status, body: await response.text() };
}

/** Offers not yet used. */
function liveOffers(s: Subscription, used: Set<string>): Offer[] {
  const rescinded = new Set(s.events.flatMap((e) => (e.rescind ? [e.rescind.offer_id.value] : [])));
  return s.events
    .flatMap((e) => e.offers?.offers ?? [])
    .filter((o) => !used.has(o.id.value) && !rescinded.has(o.id.value));
}

async function takeOffer(
  s: Subscription,
  used: Set<string>,
  what: string,
  ok: (resources: Resource[]) => boolean,
): Promise<Offer> {
  const offer = await waitFor(what, () => liveOffers(s, used).find((o) => ok(o.resources ?? [])), {
    timeoutMs: 30_000,
    intervalMs: 20,
  });
  used.add(offer.id.value);
  return offer;
}

function accept(
  s: Subscription,
  offer: Offer,
  operations: NonNullable<Call["accept"]>["operations"],
) {
  return s.call({
    type: "ACCEPT",
    accept: { offer_ids: [offer.id], operations, filters: { refuse_seconds: 0 } },
  });
}

/** A task on reserved cpus and mem (or unreserved ones with `reservedCpus` false). */
function taskInfo(id: string, resources: Resource[], shell: string, reservedCpus = true) {
  const plain = (name: string, value: number): Resource => ({
    name,
    type: "SCALAR",
    scalar: { value },
  });
  const scalar = reservedCpus ? reserved : plain;
  return {
    name: id,
    task_id: { value: id },
    agent_id: { value: agentId },
    resources: [scalar("cpus", 0.25), scalar("mem", 32), ...resources],
    command: { value: shell },
  };
}

function stateOf(s: Subscription, taskId: string): Event | undefined {
  return s.events.filter((e) => e.update?.status.task_id.value === taskId).at(-1);
}

async function reachState(s: Subscription, taskId: string, state: string): Promise<void> {
  await waitFor(
    `${taskId} to be ${state}`,
    () => {
      const last = stateOf(s, taskId)?.update?.status;
      if (
        last !== undefined &&
        last.state !== state &&
        /ERROR|FAILED|LOST|DROPPED/.test(last.state)
      ) {
        throw new Error(`${taskId}: ${last.state} ${last.message ?? ""}`);
      }
      return last?.state === state;
    },
    { timeoutMs: 60_000 },
  );
}

async function framework(name: string): Promise<Subscription> {
  const s = await subscribe(
    master.url,
    subscribeCall(name, {
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

const hasVolume = (id: string) => (rs: Resource[]) =>
  rs.some((r) => r.disk?.persistence?.id === id);

test("persistent volumes: an agent whose MOUNT disk root is not a mount point does not start", async () => {
  const plain = tempDir("pv-not-a-mount-");
  const refused = await startAgent({
    master: master.address,
    waitReady: false,
    flags: {
      resources: JSON.stringify([
        {
          name: "disk",
          type: "SCALAR",
          scalar: { value: 8 },
          disk: { source: { type: "MOUNT", mount: { root: plain } } },
        },
      ]),
    },
  });
  assert.equal(await exitCodeOf(refused), 1);
  assert.match(refused.logs(), new RegExp(`Failed to find mount '${plain}' in /proc/mounts`));
});

test(
  "persistent volumes: volumes on PATH and MOUNT disks live on those disks, keep a task's data, and go on DESTROY",
  needsMount,
  async () => {
    // A MOUNT disk cannot be split.
    const part = await operator("reserve", {
      resources: [reserved("disk", 32, { disk: { source: MOUNT_SOURCE } })],
    });
    assert.equal(part.status, 409, part.body);
    assert.match(part.body, /does not contain/);

    const reserve = await operator("reserve", {
      resources: [
        reserved("disk", 128, { disk: { source: PATH_SOURCE } }),
        reserved("disk", 64, { disk: { source: MOUNT_SOURCE } }),
      ],
    });
    assert.equal(reserve.status, 202, reserve.body);
    const onPath = volume("p1", 128, "pv", { disk: { source: PATH_SOURCE } });
    const onMount = volume("m1", 64, "mv", { disk: { source: MOUNT_SOURCE } });
    const create = await operator("create-volumes", { volumes: [onPath, onMount] });
    assert.equal(create.status, 202, create.body);
    const pathVolume = join(pathRoot, "volumes", "roles", ROLE, "p1");
    await waitFor("the PATH volume's directory on the PATH disk", () => existsSync(pathVolume));
    assert.equal(existsSync(join(agent.workDir, "volumes", "roles", ROLE, "p1")), false);
    assert.equal(existsSync(join(agent.workDir, "volumes", "roles", ROLE, "m1")), false);

    // A task writes to both; the data stays after it ends.
    const s = await framework("disks");
    const used = new Set<string>();
    const offer = await takeOffer(
      s,
      used,
      "an offer with both volumes",
      (rs) => hasVolume("p1")(rs) && hasVolume("m1")(rs),
    );
    const reply = await accept(s, offer, [
      {
        type: "LAUNCH",
        launch: {
          task_infos: [
            taskInfo(
              "writer",
              [onPath, onMount],
              "echo path > pv/f && mkdir mv/sub && echo mount > mv/sub/f",
              false,
            ),
          ],
        },
      },
    ]);
    assert.equal(reply.status, 202, reply.body);
    await reachState(s, "writer", "TASK_FINISHED");
    assert.equal(readFileSync(join(pathVolume, "f"), "utf8"), "path\n");
    assert.equal(readFileSync(join(mountRoot, "sub", "f"), "utf8"), "mount\n");

    // The agent shows the volumes with their disk sources.
    const state = (await (await fetch(`${agent.url}/state`)).json()) as {
      reserved_resources_full: Record<string, Resource[]>;
    };
    const sources = (state.reserved_resources_full[ROLE] ?? [])
      .filter((r) => r.disk?.persistence !== undefined)
      .map((r) => `${r.disk?.persistence?.id}:${r.disk?.source?.type}`)
      .sort();
    assert.deepEqual(sources, ["m1:MOUNT", "p1:PATH"]);

    s.close();
    await waitFor("the framework's offers to be gone", async () => {
      const master_ = (await (await fetch(`${master.url}/master/state`)).json()) as {
        frameworks: unknown[];
      };
      return master_.frameworks.length === 0;
    });
    const destroy = await operator("destroy-volumes", { volumes: [onPath, onMount] });
    assert.equal(destroy.status, 202, destroy.body);
    await waitFor("the PATH volume to be deleted", () => !existsSync(pathVolume));
    await waitFor("the MOUNT disk to be emptied", () => readdirSync(mountRoot).length === 0);
    assert.ok(existsSync(mountRoot), "the mount point stays");
  },
);

test("persistent volumes: one shared volume serves two tasks at once and is not destroyed while they run", async () => {
  const s = await framework("sharer");
  const used = new Set<string>();
  const shared = volume("sv", 32, "sv", { shared: {} });
  const hostDir = join(agent.workDir, "volumes", "roles", ROLE, "sv");
  // Each task leaves a mark and waits for the test to let it go.
  const wait = "while [ ! -e sv/done ]; do sleep 0.1; done";
  const first = await takeOffer(s, used, "an offer with unreserved cpus", (rs) =>
    rs.some(
      (r) =>
        r.name === "cpus" &&
        (r.scalar?.value ?? 0) >= 1 &&
        r.reservations === undefined &&
        (r.role ?? "*") === "*",
    ),
  );
  const reply = await accept(s, first, [
    {
      type: "RESERVE",
      reserve: { resources: [reserved("cpus", 1), reserved("mem", 128), reserved("disk", 32)] },
    },
    { type: "CREATE", create: { volumes: [shared] } },
    {
      type: "LAUNCH",
      launch: {
        task_infos: [
          taskInfo("reader-1", [shared], `touch sv/one; ${wait}`),
          taskInfo("reader-2", [shared], `touch sv/two; ${wait}`),
        ],
      },
    },
  ]);
  assert.equal(reply.status, 202, reply.body);
  try {
    await reachState(s, "reader-1", "TASK_RUNNING");
    await reachState(s, "reader-2", "TASK_RUNNING");
    await waitFor(
      "both tasks to write to the shared volume",
      () => existsSync(join(hostDir, "one")) && existsSync(join(hostDir, "two")),
    );

    // Used twice, counted once (Mesos' sums), in the state and the metrics.
    const slaves = (await (await fetch(`${master.url}/master/slaves`)).json()) as {
      slaves: { used_resources: Record<string, number>; used_resources_full: Resource[] }[];
    };
    assert.equal(slaves.slaves[0]?.used_resources.disk, 32);
    assert.equal(slaves.slaves[0]?.used_resources.cpus, 0.5);
    assert.equal(slaves.slaves[0]?.used_resources_full.filter((r) => r.shared).length, 1);
    const metrics = (await (await fetch(`${master.url}/metrics/snapshot`)).json()) as Record<
      string,
      number
    >;
    assert.equal(metrics["master/disk_used"], 32);

    // Still offered while in use; DESTROY is refused.
    const inUse = await takeOffer(
      s,
      used,
      "an offer with the shared volume in use",
      hasVolume("sv"),
    );
    const refused = await accept(s, inUse, [
      { type: "DESTROY", id: { value: "destroy-in-use" }, destroy: { volumes: [shared] } },
    ]);
    assert.equal(refused.status, 202, refused.body);
    const status = await s.next(
      (e) => e.update_operation_status?.status.operation_id?.value === "destroy-in-use",
      "feedback for the DESTROY",
    );
    assert.equal(status.update_operation_status?.status.state, "OPERATION_ERROR");
    assert.equal(status.update_operation_status?.status.message, "Persistent volumes in use");
  } finally {
    mkdirSync(hostDir, { recursive: true });
    writeFileSync(join(hostDir, "done"), "");
  }
  await reachState(s, "reader-1", "TASK_FINISHED");
  await reachState(s, "reader-2", "TASK_FINISHED");

  // Free again: DESTROY goes through and the data goes with it.
  const free = await takeOffer(s, used, "an offer with the shared volume, unused", hasVolume("sv"));
  const destroyed = await accept(s, free, [
    { type: "DESTROY", id: { value: "destroy-free" }, destroy: { volumes: [shared] } },
  ]);
  assert.equal(destroyed.status, 202, destroyed.body);
  const done = await s.next(
    (e) =>
      e.update_operation_status?.status.operation_id?.value === "destroy-free" &&
      e.update_operation_status.status.state !== "OPERATION_PENDING",
    "feedback for the second DESTROY",
    30_000,
  );
  assert.equal(done.update_operation_status?.status.state, "OPERATION_FINISHED");
  await waitFor("the shared volume's data to be deleted", () => !existsSync(hostDir));
  s.close();
});

test("persistent volumes: a task group sent to a running default executor gets its volume in the executor's sandbox", async () => {
  const s = await framework("groups");
  const used = new Set<string>();
  const vol = volume("gv", 16, "gvol");
  const plain = (name: string, value: number): Resource => ({
    name,
    type: "SCALAR",
    scalar: { value },
  });
  const executor = {
    type: "DEFAULT" as const,
    executor_id: { value: "group-executor" },
    framework_id: { value: s.frameworkId },
    resources: [plain("cpus", 0.1), plain("mem", 32), plain("disk", 8)],
  };
  const group = (id: string, resources: Resource[], shell = "sleep 1000") => ({
    type: "LAUNCH_GROUP" as const,
    launch_group: {
      executor,
      task_group: {
        tasks: [
          {
            name: id,
            task_id: { value: id },
            agent_id: { value: agentId },
            resources: [plain("cpus", 0.1), plain("mem", 32), ...resources],
            command: { value: shell },
          },
        ],
      },
    },
  });
  const first = await takeOffer(s, used, "an offer with unreserved disk", (rs) =>
    rs.some((r) => r.name === "disk" && r.disk === undefined && (r.role ?? "*") === "*"),
  );
  const reply = await accept(s, first, [
    { type: "RESERVE", reserve: { resources: [reserved("disk", 16)] } },
    { type: "CREATE", create: { volumes: [vol] } },
    group("g1", []),
  ]);
  assert.equal(reply.status, 202, reply.body);
  await reachState(s, "g1", "TASK_RUNNING");
  const later = await takeOffer(s, used, "an offer with the volume", hasVolume("gv"));
  // (This agent has neither volume/sandbox_path nor filesystem/linux, so the
  // task's own sandbox does not get it: the task reaches it through its
  // executor's, see docs/persistent-volumes.md and sandbox-path-volumes.test.ts.)
  const second = await accept(s, later, [
    group("g2", [vol], 'touch "$MESOS_SANDBOX/../../gvol/seen" && sleep 1000'),
  ]);
  assert.equal(second.status, 202, second.body);
  await reachState(s, "g2", "TASK_RUNNING");

  const state = (await (await fetch(`${agent.url}/state`)).json()) as {
    frameworks: { id: string; executors: { id: string; directory: string }[] }[];
  };
  const directory = state.frameworks
    .find((f) => f.id === s.frameworkId)
    ?.executors.find((e) => e.id === "group-executor")?.directory;
  assert.ok(directory !== undefined);
  const hostDir = join(agent.workDir, "volumes", "roles", ROLE, "gv");
  await waitFor("the volume in the executor's sandbox", () => {
    try {
      return realpathSync(join(directory, "gvol")) === realpathSync(hostDir);
    } catch {
      return false;
    }
  });

  await waitFor("the task to write to the volume", () => existsSync(join(hostDir, "seen")));
  for (const id of ["g1", "g2"]) {
    await s.call({ type: "KILL", kill: { task_id: { value: id }, agent_id: { value: agentId } } });
    await reachState(s, id, "TASK_KILLED");
  }
});

test("persistent volumes: an agent restarted without the disk of its volume refuses to start; with it, the volume is back", async () => {
  const root = join(tempDir("pv-restart-disk-"), "disk");
  const work = tempDir("pv-restart-agent-");
  const source = { type: "PATH" as const, path: { root } };
  const withDisk = JSON.stringify([
    { name: "cpus", type: "SCALAR", scalar: { value: 1 } },
    { name: "mem", type: "SCALAR", scalar: { value: 256 } },
    { name: "disk", type: "SCALAR", scalar: { value: 64 }, disk: { source } },
  ]);
  // The same port each time: the agent info must match to keep the agent.
  const port = await freePort();
  const start = (resources: string, waitReady = true) =>
    startAgent({
      master: master.address,
      port,
      waitReady,
      flags: {
        work_dir: work,
        resources,
        registration_backoff_factor: "10ms",
        attributes: "host:restarted",
      },
    });
  let second = await start(withDisk);
  const id = await waitFor("the second agent to register", async () => {
    const slaves = (await (await fetch(`${master.url}/master/slaves`)).json()) as {
      slaves: { id: string; attributes: Record<string, string> }[];
    };
    return slaves.slaves.find((a) => a.attributes.host === "restarted")?.id;
  });
  const reserve = await operator(
    "reserve",
    { resources: [reserved("disk", 64, { disk: { source } })] },
    id,
  );
  assert.equal(reserve.status, 202, reserve.body);
  const vol = volume("kept", 64, "k", { disk: { source } });
  const create = await operator("create-volumes", { volumes: [vol] }, id);
  assert.equal(create.status, 202, create.body);
  const dir = join(root, "volumes", "roles", ROLE, "kept");
  await waitFor("the volume's directory", () => existsSync(dir));
  writeFileSync(join(dir, "data"), "kept");
  await second.stop();

  // The PATH disk is gone from --resources: the agent does not start.
  const refused = await start(
    JSON.stringify([
      { name: "cpus", type: "SCALAR", scalar: { value: 1 } },
      { name: "mem", type: "SCALAR", scalar: { value: 256 } },
      { name: "disk", type: "SCALAR", scalar: { value: 64 } },
    ]),
    false,
  );
  assert.equal(await exitCodeOf(refused), 1);
  assert.match(
    refused.logs(),
    /Failed to perform recovery: Checkpointed resources .* are incompatible with agent resources .*: Incompatible agent resources: .* does not contain disk\[PATH:/,
  );

  // With the disk back, the agent keeps its volume and its data.
  second = await start(withDisk);
  await waitFor("the agent's volume after the restart", async () => {
    const state = (await (await fetch(`${second.url}/state`)).json()) as {
      reserved_resources_full: Record<string, Resource[]>;
    };
    return (state.reserved_resources_full[ROLE] ?? []).some(
      (r) => r.disk?.persistence?.id === "kept",
    );
  });
  assert.equal(readFileSync(join(dir, "data"), "utf8"), "kept");
  await second.stop();
});

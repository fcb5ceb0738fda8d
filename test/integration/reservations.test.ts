/**
 * Dynamic reservations and persistent volumes on a real master and agent: a
 * framework reserves part of an offer and creates a volume in the same
 * ACCEPT as the task that writes to it; a second task reads the file after
 * the first finished and after the agent restarted; DESTROY and UNRESERVE
 * give the resources back unreserved.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Offer, Resource } from "../../src/common/protocol/generated/mesos-v1.js";
import type { Call } from "../../src/common/protocol/generated/mesos-v1-scheduler.js";
import {
  type DaemonHandle,
  freePort,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
  waitForAgents,
} from "../harness/processes.js";
import { type Subscription, subscribe, subscribeCall } from "./master-clients.js";

let master: DaemonHandle;
let agent: DaemonHandle;
let agentPort = 0;
const agentWorkDir = tempDir("reservations-agent-");
const open: Subscription[] = [];

async function startOurAgent(): Promise<DaemonHandle> {
  agent = await startAgent({
    master: master.address,
    port: agentPort,
    flags: { work_dir: agentWorkDir, registration_backoff_factor: "10ms" },
  });
  return agent;
}

before(async () => {
  master = await startMaster({ flags: { allocation_interval: "100ms" } });
  agentPort = await freePort();
  await startOurAgent();
  await waitForAgents(master, 1);
});

after(async () => {
  for (const s of open) s.close();
  await stopAll();
});

const RESERVATION = { type: "DYNAMIC" as const, role: "web", principal: "ops" };

function reserved(name: string, value: number, extra: Partial<Resource> = {}): Resource {
  return {
    name,
    type: "SCALAR",
    scalar: { value },
    reservations: [RESERVATION],
    allocation_info: { role: "web" },
    ...extra,
  };
}

const VOLUME = reserved("disk", 64, {
  disk: {
    persistence: { id: "vol1", principal: "ops" },
    volume: { mode: "RW", container_path: "data" },
  },
});

/** Offers not yet used, declined or rescinded. */
class Offers {
  private readonly used = new Set<string>();
  constructor(private readonly s: Subscription) {}

  live(): Offer[] {
    const rescinded = new Set(
      this.s.events.flatMap((e) => (e.rescind === undefined ? [] : [e.rescind.offer_id.value])),
    );
    return this.s.events
      .flatMap((e) => e.offers?.offers ?? [])
      .filter((o) => !this.used.has(o.id.value) && !rescinded.has(o.id.value));
  }

  /** Waits until the live offers' resources satisfy `ok`; takes them all. */
  async take(what: string, ok: (resources: Resource[]) => boolean): Promise<Offer[]> {
    const offers = await waitFor(
      what,
      () => {
        const live = this.live();
        return ok(live.flatMap((o) => o.resources ?? [])) ? live : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 20 },
    ).catch((e: unknown) => {
      const held = this.live().flatMap((o) => o.resources ?? []);
      throw new Error(`${(e as Error).message}; live offers hold ${JSON.stringify(held)}`);
    });
    for (const o of offers) this.used.add(o.id.value);
    return offers;
  }
}

function scalar(resources: Resource[], name: string, pred: (r: Resource) => boolean): number {
  return resources
    .filter((r) => r.name === name && pred(r))
    .reduce((sum, r) => sum + (r.scalar?.value ?? 0), 0);
}

/** Reserved, in either format (offers to frameworks without RESERVATION_REFINEMENT use `role`). */
const isReserved = (r: Resource) =>
  (r.reservations ?? []).length > 0 || (r.role !== undefined && r.role !== "*");
const hasVolume = (rs: Resource[]) => rs.some((r) => r.disk?.persistence?.id === "vol1");

function accept(
  s: Subscription,
  offers: Offer[],
  operations: NonNullable<Call["accept"]>["operations"],
) {
  return s.call({
    type: "ACCEPT",
    accept: {
      offer_ids: offers.map((o) => o.id),
      operations: operations ?? [],
      filters: { refuse_seconds: 0 },
    },
  });
}

function task(
  id: string,
  agentId: string,
  shell: string,
): NonNullable<Call["accept"]>["operations"] {
  return [
    {
      type: "LAUNCH",
      launch: {
        task_infos: [
          {
            name: id,
            task_id: { value: id },
            agent_id: { value: agentId },
            resources: [reserved("cpus", 0.5), reserved("mem", 64), VOLUME],
            command: { value: shell },
          },
        ],
      },
    },
  ];
}

async function finished(s: Subscription, taskId: string): Promise<string> {
  const e = await s.next(
    (e) =>
      e.update?.status.task_id.value === taskId &&
      ["TASK_FINISHED", "TASK_FAILED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED"].includes(
        e.update.status.state,
      ),
    `a terminal update of ${taskId}`,
    30_000,
  );
  return e.update?.status.state === "TASK_FINISHED"
    ? "TASK_FINISHED"
    : `${e.update?.status.state} ${e.update?.status.message ?? ""}`;
}

test("reservations: reserve, create a volume, write, restart the agent, read, destroy, unreserve", async () => {
  const s = await subscribe(
    master.url,
    subscribeCall("reserver", { role: "web", principal: "ops", checkpoint: true }),
  );
  open.push(s);
  s.autoAcknowledge = true;
  const offers = new Offers(s);
  const first = await offers.take("a first offer", (rs) => scalar(rs, "cpus", () => true) >= 2);
  const agentId = first[0]?.agent_id.value ?? "";

  // One ACCEPT: RESERVE, CREATE, then a LAUNCH that uses what they made.
  const reply = await accept(s, first, [
    {
      type: "RESERVE",
      id: { value: "reserve-1" },
      reserve: { resources: [reserved("cpus", 1), reserved("mem", 128), reserved("disk", 64)] },
    },
    { type: "CREATE", create: { volumes: [VOLUME] } },
    ...(task("writer", agentId, "echo persisted > data/file") ?? []),
  ]);
  assert.equal(reply.status, 202, reply.body);
  const feedback = await s.nth("UPDATE_OPERATION_STATUS");
  assert.equal(feedback.update_operation_status?.status.state, "OPERATION_FINISHED");
  assert.equal(await finished(s, "writer"), "TASK_FINISHED");
  const hostFile = join(agentWorkDir, "volumes", "roles", "web", "vol1", "file");
  assert.equal(readFileSync(hostFile, "utf8"), "persisted\n");
  assert.ok(existsSync(join(agentWorkDir, "meta", "resources", "resources.info")));

  // The reserved resources and the volume come back in an offer to the role.
  const again = await offers.take(
    "an offer with the volume",
    (rs) => hasVolume(rs) && scalar(rs, "cpus", isReserved) === 1,
  );
  for (const o of again) assert.equal(o.allocation_info?.role, "web");
  await s.call({
    type: "DECLINE",
    decline: { offer_ids: again.map((o) => o.id), filters: { refuse_seconds: 0 } },
  });

  // The agent restarts; its checkpointed resources come back with it.
  agent.kill("SIGKILL");
  await agent.exited;
  await startOurAgent();
  const afterRestart = await offers.take(
    "an offer with the volume after the agent restarted",
    (rs) => hasVolume(rs) && scalar(rs, "cpus", isReserved) === 1,
  );
  const reader = await accept(
    s,
    afterRestart,
    task("reader", agentId, 'test "$(cat data/file)" = persisted'),
  );
  assert.equal(reader.status, 202, reader.body);
  assert.equal(await finished(s, "reader"), "TASK_FINISHED");

  // DESTROY and UNRESERVE: everything comes back unreserved.
  const last = await offers.take(
    "an offer with the volume after the reader",
    (rs) => hasVolume(rs) && scalar(rs, "cpus", isReserved) === 1,
  );
  const undo = await accept(s, last, [
    { type: "DESTROY", destroy: { volumes: [VOLUME] } },
    {
      type: "UNRESERVE",
      unreserve: { resources: [reserved("cpus", 1), reserved("mem", 128), reserved("disk", 64)] },
    },
  ]);
  assert.equal(undo.status, 202, undo.body);
  await offers.take(
    "an offer with everything unreserved",
    (rs) => scalar(rs, "cpus", (r) => !isReserved(r)) === 2 && !rs.some(isReserved),
  );
  // DESTROY deletes the volume's data on the agent, as Mesos' agent does.
  await waitFor("the destroyed volume's data to be deleted", () => !existsSync(hostFile));
});

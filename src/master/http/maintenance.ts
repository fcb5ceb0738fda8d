/**
 * Maintenance as operators drive it: a schedule of windows (machines and
 * when they will be unavailable), machines DRAINING while scheduled, DOWN
 * after `/master/machine/down` (their agents are shut down and removed) and
 * back UP after `/master/machine/up`. Endpoints: `/master/maintenance/schedule`
 * (GET/POST), `/master/maintenance/status`, `/master/machine/down`,
 * `/master/machine/up`, and the v1 calls GET_MAINTENANCE_SCHEDULE,
 * UPDATE_MAINTENANCE_SCHEDULE, GET_MAINTENANCE_STATUS, START_MAINTENANCE,
 * STOP_MAINTENANCE.
 *
 * A scheduled agent's next window goes to the allocator, which attaches it
 * to offers as `unavailability` (also for agents that register later).
 *
 * The schedule and the machines' modes (DRAINING, DOWN) live in the
 * registry: every change is written first (`update-maintenance`, the whole
 * outcome) and applied and answered only once stored; a failed write answers
 * 503 and changes nothing. Changes run one at a time. A restarted or newly
 * elected master gets them back (`restoreMaintenance`), so a DOWN machine's
 * agents stay refused.
 */
import { isIPv4 } from "node:net";
import { requestAuthorized } from "../../common/auth/request-auth.js";
import type { HttpRequest } from "../../common/http/request.js";
import {
  badRequest,
  forbidden,
  type HttpResponse,
  methodNotAllowed,
  ok,
  serviceUnavailable,
} from "../../common/http/response.js";
import { jsonResponse } from "../../common/http/v1-api.js";
import type { Registry } from "../../common/protocol/generated/mesos-internal.js";
import type {
  Filters,
  MachineID,
  MachineInfo,
  OfferID,
} from "../../common/protocol/generated/mesos-v1.js";
import type {
  ClusterStatus,
  Schedule,
} from "../../common/protocol/generated/mesos-v1-maintenance.js";
import { codecFor } from "../../common/protocol/index.js";
import type { TimerHandle } from "../../common/time/clock.js";
import type { InverseOfferAllocation } from "../allocator/index.js";
import { removeAgent } from "../core/agent-health.js";
import type { Master } from "../core/master.js";
import { rescindOffer } from "../core/offers.js";
import type { AgentRecord, FrameworkRecord } from "../core/records.js";

const scheduleCodec = codecFor<Schedule>("mesos.v1.maintenance.Schedule");
const machineCodec = codecFor<MachineID>("mesos.v1.MachineID");

/** A master's maintenance state. */
export interface MaintenanceState {
  schedule: Schedule;
  /** Machines (by key) that are DOWN. */
  down: Map<string, MachineID>;
  /** Outstanding inverse offers by id. */
  inverseOffers: Map<string, InverseOfferRecord>;
  /** The change in progress (validate, write, apply); the next one waits for it. */
  running: Promise<unknown>;
}

/** An outstanding inverse offer: to whom, for which agent, and its `--offer_timeout` timer. */
interface InverseOfferRecord {
  frameworkId: string;
  agentId: string;
  timer: TimerHandle | undefined;
}

const states = new WeakMap<Master, MaintenanceState>();

/** The maintenance state of `master` (created empty). */
export function maintenanceOf(master: Master): MaintenanceState {
  let state = states.get(master);
  if (state === undefined) {
    state = {
      schedule: { windows: [] },
      down: new Map(),
      inverseOffers: new Map(),
      running: Promise.resolve(),
    };
    states.set(master, state);
    // An agent joining (or coming back after a failover) learns its window too.
    master.events.listen({
      agentAdded: (agent) => {
        // A joining agent has no window in the allocator yet: only a scheduled one needs a push.
        if (scheduledMachines(state?.schedule ?? {}).some((id) => onMachine(agent, id))) {
          pushAgentUnavailability(master, agent);
        }
      },
      // A removed agent's inverse offers are rescinded, a removed framework's
      // dropped, as in Mesos.
      agentRemoved: (agent) => rescindInverseOffers(master, (agentId) => agentId !== agent.id),
      frameworkRemoved: (framework) => {
        for (const [id, record] of [...(state?.inverseOffers ?? [])]) {
          if (record.frameworkId === framework.id) forgetInverseOffer(master, id, record);
        }
      },
    });
  }
  return state;
}

/** Puts the registry's maintenance state in force (master start-up or election). */
export function restoreMaintenance(master: Master, registry: Registry): void {
  const state = maintenanceOf(master);
  state.schedule = registry.schedules?.[0] ?? { windows: [] };
  state.down.clear();
  for (const { info } of registry.machines?.machines ?? []) {
    if (info.mode === "DOWN") state.down.set(keyOf(info.id), info.id);
  }
  if (scheduledMachines(state.schedule).length > 0) {
    master.logger.info(
      `Recovered the maintenance schedule: ${scheduledMachines(state.schedule).length} machine(s), ` +
        `${state.down.size} DOWN`,
    );
  }
  pushUnavailability(master);
}

/** The registry's view of a maintenance state: every scheduled machine with its mode. */
function machineInfos(schedule: Schedule, down: ReadonlyMap<string, MachineID>): MachineInfo[] {
  return (schedule.windows ?? []).flatMap((w) =>
    (w.machine_ids ?? []).map(
      (id): MachineInfo => ({
        id,
        mode: down.has(keyOf(id)) ? "DOWN" : "DRAINING",
        unavailability: w.unavailability,
      }),
    ),
  );
}

/** Runs one maintenance change after the previous one. */
function serially(
  master: Master,
  change: () => MaintenanceOutcome | Promise<MaintenanceOutcome>,
): Promise<MaintenanceOutcome> {
  const state = maintenanceOf(master);
  const run = state.running.then(change);
  state.running = run.catch(() => undefined);
  return run;
}

/** Writes a maintenance outcome to the registry; undefined once stored, else the 503 outcome. */
async function store(
  master: Master,
  schedule: Schedule,
  down: ReadonlyMap<string, MachineID>,
): Promise<MaintenanceOutcome | undefined> {
  try {
    await master.registrar.apply({
      kind: "update-maintenance",
      schedule,
      machines: machineInfos(schedule, down),
    });
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ");
    master.logger.error(`Failed to store the maintenance state in the registry: ${reason}`);
    return {
      ok: false,
      status: 503,
      message: `Failed to store the maintenance state in the registry: ${reason}`,
    };
  }
  return master.stopped ? { ok: false, status: 503, message: "The master is stopping" } : undefined;
}

/** Machines are equal when their IPs are and their hostnames are, ignoring case (as in Mesos). */
function keyOf(id: MachineID): string {
  return `${(id.hostname ?? "").toLowerCase()}|${id.ip ?? ""}`;
}

function sameHost(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** One machine id as Mesos checks it: a hostname or an IP, and the IP an IPv4 address. */
function machineIdError(id: MachineID): string | undefined {
  if ((id.hostname ?? "") === "" && (id.ip ?? "") === "") {
    return "Both 'hostname' and 'ip' for a machine are empty";
  }
  if ((id.ip ?? "") !== "" && !isIPv4(id.ip as string)) return `Failed to parse IPv4: ${id.ip}`;
  return undefined;
}

/** The machine list of /machine/down and /machine/up: not empty, each valid and listed once. */
function machinesError(ids: readonly MachineID[]): string | undefined {
  if (ids.length === 0) return "List of machines is empty";
  const seen = new Set<string>();
  for (const id of ids) {
    const invalid = machineIdError(id);
    if (invalid !== undefined) return invalid;
    if (seen.has(keyOf(id))) {
      return `Machine '${idJson(id)}' appears more than once in the schedule`;
    }
    seen.add(keyOf(id));
  }
  return undefined;
}

/** A machine id as Mesos prints it in refusals: its JSON form, e.g. `{"hostname":"h","ip":"1.2.3.4"}`. */
function idJson(id: MachineID): string {
  return JSON.stringify({ hostname: id.hostname, ip: id.ip });
}

/** A machine as Mesos logs it: `host (1.2.3.4)`, `host` or `(1.2.3.4)`. */
function show(id: MachineID): string {
  if (id.hostname !== undefined && id.ip !== undefined) return `${id.hostname} (${id.ip})`;
  return id.hostname ?? `(${id.ip ?? ""})`;
}

/**
 * Whether a host is machine `id`: as in Mesos, both the hostname (ignoring
 * case) and the IP must match, a field the id leaves out being the empty
 * string (so `{"hostname": "h"}` is no agent's machine).
 */
function isMachine(hostname: string, ip: string, id: MachineID): boolean {
  return sameHost(id.hostname ?? "", hostname) && (id.ip ?? "") === ip;
}

/** Whether `agent` runs on machine `id`. */
function onMachine(agent: AgentRecord, id: MachineID): boolean {
  return isMachine(agent.info.hostname, agent.address().ip, id);
}

/**
 * An agent (re-)registering from a DOWN machine is told to shut down and
 * refused; returns true when that happened.
 */
export function refuseFromDownMachine(
  master: Master,
  from: string,
  hostname: string,
  reregistering = false,
): boolean {
  const ip = from
    .slice(from.indexOf("@") + 1)
    .replace(/:\d+$/, "")
    .replace(/^\[|\]$/g, "");
  const down = [...maintenanceOf(master).down.values()].find((id) => isMachine(hostname, ip, id));
  if (down === undefined) return false;
  // Mesos' words (the machine as the agent's: its hostname and IP).
  master.logger.warn(
    `Refusing ${reregistering ? "re-registration" : "registration"} of agent at ${from} ` +
      `because the machine '${show({ hostname, ip })}' that it is running on is \`DOWN\``,
  );
  master.io.sendToAgent(from, "mesos.internal.ShutdownMessage", {
    message: "Machine is `DOWN`",
  });
  return true;
}

/** Whether an agent is on a DOWN machine (registrations from there should be refused). */
export function isAgentDown(master: Master, agent: AgentRecord): boolean {
  return [...maintenanceOf(master).down.values()].some((id) => onMachine(agent, id));
}

function scheduledMachines(schedule: Schedule): MachineID[] {
  return (schedule.windows ?? []).flatMap((w) => w.machine_ids ?? []);
}

/** Mesos' checks of a schedule: ids complete, each machine once, durations not negative, DOWN machines kept. */
export function validateSchedule(schedule: Schedule, state: MaintenanceState): string | undefined {
  const seen = new Set<string>();
  for (const window of schedule.windows ?? []) {
    const ids = window.machine_ids ?? [];
    if (ids.length === 0) return "List of machines in the maintenance window is empty";
    const duration = window.unavailability.duration?.nanoseconds;
    if (duration !== undefined && duration < 0) return "Unavailability 'duration' is negative";
    for (const id of ids) {
      const invalid = machineIdError(id);
      if (invalid !== undefined) return invalid;
      const key = keyOf(id);
      if (seen.has(key)) {
        return `Machine '${idJson(id)}' appears more than once in the schedule`;
      }
      seen.add(key);
    }
  }
  for (const [key, id] of state.down) {
    if (!seen.has(key)) {
      return `Machine '${idJson(id)}' is deactivated and cannot be removed from the schedule`;
    }
  }
  return undefined;
}

/** Withdraws outstanding inverse offers whose agent `keep` refuses (RESCIND_INVERSE_OFFER). */
function rescindInverseOffers(master: Master, keep: (agentId: string) => boolean): void {
  const state = maintenanceOf(master);
  for (const [id, record] of [...state.inverseOffers]) {
    if (!keep(record.agentId)) rescindInverseOffer(master, id, record);
  }
}

/** Withdraws one outstanding inverse offer, telling its framework. */
function rescindInverseOffer(master: Master, id: string, record: InverseOfferRecord): void {
  forgetInverseOffer(master, id, record);
  const framework = master.frameworks.get(record.frameworkId);
  if (framework === undefined) return;
  master.sendEvent(framework, {
    type: "RESCIND_INVERSE_OFFER",
    rescind_inverse_offer: { inverse_offer_id: { value: id } },
  });
}

/** Drops an outstanding inverse offer without an answer (the allocator may make it again). */
function forgetInverseOffer(master: Master, id: string, record: InverseOfferRecord): void {
  maintenanceOf(master).inverseOffers.delete(id);
  if (record.timer !== undefined) master.clock.cancelTimer(record.timer);
  record.timer = undefined;
  master.allocator.updateInverseOffer(record.agentId, record.frameworkId, undefined);
}

/** Tells the allocator one agent's next window (or none). */
function pushAgentUnavailability(master: Master, agent: AgentRecord): void {
  const windows = maintenanceOf(master).schedule.windows ?? [];
  const window = windows.find((w) => (w.machine_ids ?? []).some((id) => onMachine(agent, id)));
  master.allocator.updateUnavailability(
    agent.id,
    window === undefined
      ? undefined
      : {
          start: { nanoseconds: window.unavailability.start.nanoseconds },
          ...(window.unavailability.duration === undefined
            ? {}
            : { duration: { nanoseconds: window.unavailability.duration.nanoseconds } }),
        },
  );
}

/** Tells the allocator each agent's next window (or none). */
function pushUnavailability(master: Master): void {
  const windows = maintenanceOf(master).schedule.windows ?? [];
  for (const agent of master.agents.values()) pushAgentUnavailability(master, agent);
  rescindInverseOffers(master, (agentId) => {
    const agent = master.agents.get(agentId);
    return (
      agent !== undefined &&
      windows.some((w) => (w.machine_ids ?? []).some((id) => onMachine(agent, id)))
    );
  });
}

/**
 * Outcome of a maintenance change (status 503: the registry write failed;
 * 403: the caller may not change these machines; else 400).
 */
export type MaintenanceOutcome = { ok: true } | { ok: false; message: string; status?: 403 | 503 };

/**
 * The 403 of a change the ACLs refuse. Maintenance ACLs name machines only
 * as ANY or NONE, so one answer holds for every machine; as in Mesos it is
 * given once the change is otherwise valid (and only when it names machines).
 */
function notAuthorized(what: string): MaintenanceOutcome {
  return { ok: false, status: 403, message: `Not authorized to ${what}` };
}

/** Replaces the schedule (validated, then stored). `authorized`: the caller's update_maintenance_schedules. */
export function updateSchedule(
  master: Master,
  schedule: Schedule,
  authorized = true,
): Promise<MaintenanceOutcome> {
  return serially(master, () => updateScheduleNow(master, schedule, authorized));
}

async function updateScheduleNow(
  master: Master,
  schedule: Schedule,
  authorized: boolean,
): Promise<MaintenanceOutcome> {
  const state = maintenanceOf(master);
  const invalid = validateSchedule(schedule, state);
  if (invalid !== undefined) return { ok: false, message: invalid };
  if (!authorized && scheduledMachines(schedule).length > 0) {
    return notAuthorized("update the maintenance schedule");
  }
  const failed = await store(master, schedule, state.down);
  if (failed !== undefined) return failed;
  state.schedule = schedule;
  master.logger.info(
    `Updated the maintenance schedule: ${scheduledMachines(schedule).length} machine(s)`,
  );
  // As Mesos does on every schedule update: all outstanding offers and
  // inverse offers are rescinded, so that frameworks get them again with
  // the new unavailability (or none) at the next allocation.
  for (const offer of [...master.offers.values()]) rescindOffer(master, offer);
  rescindInverseOffers(master, () => false);
  pushUnavailability(master);
  return { ok: true };
}

/** Machines DOWN (stored first): their agents are told to shut down and removed. */
export function startMaintenance(
  master: Master,
  ids: readonly MachineID[],
  authorized = true,
): Promise<MaintenanceOutcome> {
  return serially(master, () => startMaintenanceNow(master, ids, authorized));
}

async function startMaintenanceNow(
  master: Master,
  ids: readonly MachineID[],
  authorized: boolean,
): Promise<MaintenanceOutcome> {
  const state = maintenanceOf(master);
  const scheduled = new Set(scheduledMachines(state.schedule).map(keyOf));
  const invalid = machinesError(ids);
  if (invalid !== undefined) return { ok: false, message: invalid };
  for (const id of ids) {
    // Mesos knows a machine from the schedule or from a registered agent on it
    // (then UP); only a scheduled machine that is not DOWN yet is DRAINING.
    if (!scheduled.has(keyOf(id)) && !hasAgentOn(master, id)) {
      return { ok: false, message: notScheduled(id) };
    }
    if (!scheduled.has(keyOf(id)) || state.down.has(keyOf(id))) {
      return {
        ok: false,
        message: `Machine '${idJson(id)}' is not in DRAINING mode and cannot be brought down`,
      };
    }
    // Mesos checks each machine in turn: a valid one the caller may not bring down is a 403.
    if (!authorized) return notAuthorized("start maintenance");
  }
  const down = new Map(state.down);
  for (const id of ids) down.set(keyOf(id), id);
  const failed = await store(master, state.schedule, down);
  if (failed !== undefined) return failed;
  for (const id of ids) {
    state.down.set(keyOf(id), id);
    for (const agent of [...master.agents.values()]) {
      if (!onMachine(agent, id)) continue;
      master.logger.info(`Shutting down agent ${agent.id}: machine ${show(id)} is DOWN`);
      master.io.sendToAgent(agent.pid, "mesos.internal.ShutdownMessage", {
        message: "Operator initiated 'Machine DOWN'",
      });
      void removeAgent(master, agent, "Operator initiated 'Machine DOWN'", "maintenance", {
        taskMessage: "Operator initiated 'Machine DOWN'",
      });
      rescindInverseOffers(master, (agentId) => agentId !== agent.id);
    }
  }
  return { ok: true };
}

/** Machines UP (stored first): out of the schedule, agents may register again. */
export function stopMaintenance(
  master: Master,
  ids: readonly MachineID[],
  authorized = true,
): Promise<MaintenanceOutcome> {
  return serially(master, () => stopMaintenanceNow(master, ids, authorized));
}

function notScheduled(id: MachineID): string {
  return `Machine '${idJson(id)}' is not part of a maintenance schedule`;
}

/** Whether a registered agent's machine is exactly `id` (hostname and IP, as Mesos keys machines). */
function hasAgentOn(master: Master, id: MachineID): boolean {
  for (const agent of master.agents.values()) {
    if (onMachine(agent, id)) return true;
  }
  return false;
}

async function stopMaintenanceNow(
  master: Master,
  ids: readonly MachineID[],
  authorized: boolean,
): Promise<MaintenanceOutcome> {
  const state = maintenanceOf(master);
  const invalid = machinesError(ids);
  if (invalid !== undefined) return { ok: false, message: invalid };
  const scheduled = new Set(scheduledMachines(state.schedule).map(keyOf));
  for (const id of ids) {
    if (!state.down.has(keyOf(id))) {
      if (!scheduled.has(keyOf(id)) && !hasAgentOn(master, id)) {
        return { ok: false, message: notScheduled(id) };
      }
      return {
        ok: false,
        message: `Machine '${idJson(id)}' is not in DOWN mode and cannot be brought up`,
      };
    }
    if (!authorized) return notAuthorized("stop maintenance");
  }
  const up = new Set(ids.map(keyOf));
  const down = new Map([...state.down].filter(([key]) => !up.has(key)));
  const windows = (state.schedule.windows ?? [])
    .map((w) => ({ ...w, machine_ids: (w.machine_ids ?? []).filter((m) => !up.has(keyOf(m))) }))
    .filter((w) => w.machine_ids.length > 0);
  const failed = await store(master, { windows }, down);
  if (failed !== undefined) return failed;
  for (const key of up) state.down.delete(key);
  state.schedule = { windows };
  pushUnavailability(master);
  return { ok: true };
}

/**
 * The schedule as the caller of `request` may see it: Mesos leaves out the
 * machines get_maintenance_schedules does not approve (with ANY/NONE
 * machine objects: all or none), so a refused caller sees an empty schedule.
 */
export function visibleSchedule(master: Master, request: HttpRequest): Schedule {
  return requestAuthorized(request, "get_maintenance_schedules")
    ? maintenanceOf(master).schedule
    : {};
}

/** The ClusterStatus the caller may see (get_maintenance_statuses; else empty, as Mesos filters). */
export function visibleStatus(master: Master, request: HttpRequest): ClusterStatus {
  return requestAuthorized(request, "get_maintenance_statuses")
    ? clusterStatus(master)
    : { draining_machines: [], down_machines: [] };
}

/** The ClusterStatus: draining machines with inverse-offer answers, and DOWN machines. */
export function clusterStatus(master: Master): ClusterStatus {
  const state = maintenanceOf(master);
  const answers = master.allocator.getInverseOfferStatuses();
  const draining = scheduledMachines(state.schedule)
    .filter((id) => !state.down.has(keyOf(id)))
    .map((id) => {
      const statuses = [...master.agents.values()]
        .filter((a) => onMachine(a, id))
        .flatMap((a) => [...(answers.get(a.id)?.values() ?? [])]);
      return { id, ...(statuses.length === 0 ? {} : { statuses: statuses as never[] }) };
    });
  return { draining_machines: draining, down_machines: [...state.down.values()] };
}

function parseMachines(
  text: string,
): { ok: true; value: MachineID[] } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return {
      ok: false,
      error: `Failed to parse the machine list as JSON: ${(e as Error).message}`,
    };
  }
  if (!Array.isArray(json)) return { ok: false, error: "Unexpected JSON type parsed" };
  const out: MachineID[] = [];
  for (const item of json) {
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      return { ok: false, error: "Expecting a JSON object" };
    }
    const decoded = machineCodec.decodeJson(item);
    if (!decoded.ok) return { ok: false, error: decodeReason(decoded.error) };
    out.push(decoded.value);
  }
  return { ok: true, value: out };
}

/** Why a body does not convert to the message, worded as Mesos' JSON-to-protobuf conversion. */
function decodeReason(error: { stout: string }): string {
  return error.stout;
}

/** A maintenance change's outcome as an HTTP response. */
export function outcome(result: MaintenanceOutcome): HttpResponse {
  if (result.ok) return ok();
  if (result.status === 403) return forbidden(result.message);
  return result.status === 503 ? serviceUnavailable(result.message) : badRequest(result.message);
}

/** `/master/maintenance/schedule`: GET the schedule, POST a new one. */
export function scheduleHandler(
  master: Master,
  changed: () => void,
): (request: HttpRequest) => HttpResponse | Promise<HttpResponse> {
  return (request) => {
    if (request.method === "GET") {
      return jsonResponse(request, scheduleCodec.encodeJson(visibleSchedule(master, request)));
    }
    if (request.method !== "POST") return methodNotAllowed(["GET", "POST"], request.method);
    let json: unknown;
    try {
      json = JSON.parse(request.text());
    } catch (e) {
      return badRequest(`Failed to parse the schedule as JSON: ${(e as Error).message}`);
    }
    if (typeof json !== "object" || json === null || Array.isArray(json)) {
      return badRequest("Unexpected JSON type parsed");
    }
    const decoded = scheduleCodec.decodeJson(json);
    if (!decoded.ok) return badRequest(decodeReason(decoded.error));
    changed();
    const authorized = requestAuthorized(request, "update_maintenance_schedules");
    return updateSchedule(master, decoded.value, authorized).then(outcome);
  };
}

/** `/master/maintenance/status`. */
export function statusHandler(master: Master): (request: HttpRequest) => HttpResponse {
  return (request) =>
    jsonResponse(
      request,
      codecFor<ClusterStatus>("mesos.v1.maintenance.ClusterStatus").encodeJson(
        visibleStatus(master, request),
      ),
    );
}

/** `/master/machine/down` and `/master/machine/up` (POST a JSON array of machine IDs). */
export function machineHandler(
  master: Master,
  direction: "down" | "up",
  changed: () => void,
): (request: HttpRequest) => HttpResponse | Promise<HttpResponse> {
  return (request) => {
    if (request.method !== "POST") return methodNotAllowed(["POST"], request.method);
    const ids = parseMachines(request.text());
    if (!ids.ok) return badRequest(ids.error);
    changed();
    return (
      direction === "down"
        ? startMaintenance(master, ids.value, requestAuthorized(request, "start_maintenances"))
        : stopMaintenance(master, ids.value, requestAuthorized(request, "stop_maintenances"))
    ).then(outcome);
  };
}

/** Help texts of the endpoints. */
export const MAINTENANCE_HELP = {
  schedule:
    "The maintenance schedule. GET: the Schedule JSON. POST: a Schedule JSON " +
    '{"windows": [{"machine_ids": [{"hostname": "h", "ip": "1.2.3.4"}], "unavailability": ' +
    '{"start": {"nanoseconds": N}, "duration": {"nanoseconds": D}}}]} replaces it.',
  status: "Machines DRAINING (with the frameworks' inverse-offer answers) and DOWN.",
  down: "POST a JSON array of machine IDs (scheduled ones): they go DOWN, their agents shut down.",
  up: "POST a JSON array of DOWN machine IDs: they come back UP and leave the schedule.",
} as const;

/** Sends the allocator's inverse offers (INVERSE_OFFERS events), one per framework and agent. */
export function makeInverseOffers(
  master: Master,
  allocations: readonly InverseOfferAllocation[],
): void {
  const state = maintenanceOf(master);
  for (const allocation of allocations) {
    const framework = master.frameworks.get(allocation.frameworkId);
    const agent = master.agents.get(allocation.agentId);
    // As Mesos: none to a disconnected or inactive framework, none for a
    // disconnected or deactivated agent.
    if (
      framework === undefined ||
      !framework.connected ||
      !framework.active ||
      agent === undefined ||
      !agent.connected ||
      !agent.active
    ) {
      master.allocator.updateInverseOffer(allocation.agentId, allocation.frameworkId, undefined);
      continue;
    }
    // One id sequence for offers and inverse offers, as in Mesos.
    const id = master.ids.nextInverseOfferId();
    const record: InverseOfferRecord = {
      frameworkId: framework.id,
      agentId: agent.id,
      timer: undefined,
    };
    state.inverseOffers.set(id, record);
    const timeout = master.config.offerTimeoutMs;
    if (timeout !== undefined) {
      // `--offer_timeout` rescinds unanswered inverse offers too (Mesos has no flag of their own).
      record.timer = master.clock.setTimer(timeout, () => {
        record.timer = undefined;
        if (master.stopped || state.inverseOffers.get(id) !== record) return;
        master.logger.info(
          `Inverse offer ${id} of framework ${framework.id} timed out; rescinding it`,
        );
        rescindInverseOffer(master, id, record);
      });
    }
    const address = agent.address();
    master.logger.info(
      `Sending inverse offer ${id} for agent ${agent.id} to framework ${framework.id}`,
    );
    master.sendEvent(framework, {
      type: "INVERSE_OFFERS",
      inverse_offers: {
        inverse_offers: [
          {
            id: { value: id },
            url: {
              scheme: "http",
              address: { hostname: agent.info.hostname, ip: address.ip, port: address.port },
              path: `/${address.id}`,
            },
            framework_id: { value: framework.id },
            agent_id: { value: agent.id },
            unavailability: allocation.unavailability as never,
          },
        ],
      },
    });
  }
}

/** ACCEPT_INVERSE_OFFERS / DECLINE_INVERSE_OFFERS: the answer goes to the allocator. */
export function answerInverseOffers(
  master: Master,
  framework: FrameworkRecord,
  ids: readonly OfferID[],
  accepted: boolean,
  filters: Filters | undefined,
): void {
  const state = maintenanceOf(master);
  const call = accepted ? "ACCEPT_INVERSE_OFFERS" : "DECLINE_INVERSE_OFFERS";
  master.logger.info(
    `Processing ${call} call for inverse offers: [ ${ids.map((i) => i.value).join(", ")} ] for framework ${framework.id}`,
  );
  for (const { value } of ids) {
    const record = state.inverseOffers.get(value);
    if (record === undefined || record.frameworkId !== framework.id) {
      master.logger.warn(
        `Ignoring ${accepted ? "accept" : "decline"} of inverse offer ${value} since it is no longer valid`,
      );
      continue;
    }
    state.inverseOffers.delete(value);
    if (record.timer !== undefined) master.clock.cancelTimer(record.timer);
    master.allocator.updateInverseOffer(
      record.agentId,
      framework.id,
      {
        status: accepted ? "ACCEPT" : "DECLINE",
        framework_id: { value: framework.id },
        // Milliseconds suffice, and keep the JSON number exact-looking.
        timestamp: { nanoseconds: Math.round(master.nowSecs() * 1e3) * 1e6 },
      },
      filters ?? {},
    );
  }
}

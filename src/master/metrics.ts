/**
 * The master's metrics under Mesos' names (`master/*`, `allocator/*`,
 * `registrar/*`, per-framework `master/frameworks/<name>/<id>/*`). Gauges
 * are computed when a snapshot is taken; counters are bumped by the core's
 * change notifications (MasterEvents) and by the message and call edges
 * (`message(...)`, `schedulerCall(...)`), so the core itself stays free of
 * metric code.
 */
import type { Counter, MetricsRegistry, Timer } from "../common/observability/metrics.js";
import type {
  Offer_Operation_Type,
  OperationState,
  Task,
  TaskState,
  TaskStatus,
} from "../common/protocol/generated/mesos-v1.js";
import type {
  Call_Accept,
  Call_Decline,
  Call_Type,
  Event_Type,
} from "../common/protocol/generated/mesos-v1-scheduler.js";
import { isTerminalState, TERMINAL_TASK_STATES } from "../common/protocol/task-states.js";
import type { CycleStats, HierarchicalAllocator, RoleAccounting } from "./allocator/index.js";
import type { Master } from "./core/master.js";
import type { FrameworkRecord } from "./core/records.js";
import { agentUsedLists, scalarOf } from "./http/resource-sums.js";
import { validateOfferIds } from "./validation/offers.js";

/** Mesos' `master/messages_*` counters (the suffixes). */
export const MESSAGE_COUNTERS = [
  "authenticate",
  "deactivate_framework",
  "decline_offers",
  "executor_to_framework",
  "exited_executor",
  "framework_to_executor",
  "kill_task",
  "launch_tasks",
  "operation_status_update",
  "operation_status_update_acknowledgement",
  "reconcile_operations",
  "reconcile_tasks",
  "register_framework",
  "register_slave",
  "reregister_framework",
  "reregister_slave",
  "resource_request",
  "revive_offers",
  "status_update",
  "status_update_acknowledgement",
  "suppress_offers",
  "unregister_framework",
  "unregister_slave",
  "update_slave",
] as const;

export type MessageCounter = (typeof MESSAGE_COUNTERS)[number];

const VALIDITY = [
  "status_updates",
  "status_update_acknowledgements",
  "operation_status_updates",
  "operation_status_update_acknowledgements",
  "framework_to_executor_messages",
  "executor_to_framework_messages",
] as const;

/** Terminal states with a `master/tasks_<state>` counter. */
const TERMINAL_COUNTED: Partial<Record<TaskState, string>> = {
  TASK_FINISHED: "finished",
  TASK_FAILED: "failed",
  TASK_KILLED: "killed",
  TASK_LOST: "lost",
  TASK_ERROR: "error",
  TASK_DROPPED: "dropped",
  TASK_GONE: "gone",
  TASK_GONE_BY_OPERATOR: "gone_by_operator",
};

/** Non-terminal states with a `master/tasks_<state>` gauge. */
const ACTIVE_GAUGES: [TaskState, string][] = [
  ["TASK_STAGING", "staging"],
  ["TASK_STARTING", "starting"],
  ["TASK_RUNNING", "running"],
  ["TASK_KILLING", "killing"],
];

/** The scheduler call types, for `messages_*` and per-framework `calls/<type>`. */
const CALL_MESSAGE: Record<string, MessageCounter | undefined> = {
  ACCEPT: "launch_tasks",
  DECLINE: "decline_offers",
  REVIVE: "revive_offers",
  SUPPRESS: "suppress_offers",
  KILL: "kill_task",
  ACKNOWLEDGE: "status_update_acknowledgement",
  ACKNOWLEDGE_OPERATION_STATUS: "operation_status_update_acknowledgement",
  RECONCILE: "reconcile_tasks",
  RECONCILE_OPERATIONS: "reconcile_operations",
  MESSAGE: "framework_to_executor",
  REQUEST: "resource_request",
  TEARDOWN: "unregister_framework",
};

const RESOURCE_NAMES = ["cpus", "gpus", "mem", "disk"] as const;

/** Lower-cased v0 name of a state/source/reason (`TASK_LOST`, `REASON_AGENT_REMOVED` -> `reason_slave_removed`). */
function v0Lower(name: string): string {
  return name.replace("AGENT", "SLAVE").toLowerCase();
}

/** What the master metrics need. */
export interface MasterMetricsOptions {
  readonly registry: MetricsRegistry;
  readonly master: Master;
  readonly allocator: HierarchicalAllocator;
  /** Seconds of uptime are counted from here (ms since the epoch). */
  readonly startTime: number;
  /** `--publish_per_framework_metrics`. */
  readonly perFramework: boolean;
  /** Current operator event stream subscribers. */
  readonly subscribers: () => number;
  /** Bytes of the registry, for `registrar/registry_size_bytes`. */
  readonly registrySize: () => number;
  /** Registry operations waiting for the next write (`registrar/queued_operations`). */
  readonly queuedOperations?: () => number;
  /** False for a standby (`master/elected` 0); default true. */
  readonly elected?: boolean;
  /** Messages the master dropped before it led (`master/dropped_messages` starts there). */
  readonly droppedBefore?: number;
}

interface FrameworkCounters {
  prefix: string;
  calls: Counter;
  events: Counter;
  operations: Counter;
  byCall: Map<string, Counter>;
  byEvent: Map<string, Counter>;
  byOperation: Map<string, Counter>;
  terminal: Map<string, Counter>;
  offersSent: Counter;
  offersAccepted: Counter;
  offersDeclined: Counter;
  offersRescinded: Counter;
}

/** Per-framework `calls/<type>` (every scheduler call type but UNKNOWN, as Mesos registers them). */
const FRAMEWORK_CALLS: readonly Call_Type[] = [
  "SUBSCRIBE",
  "TEARDOWN",
  "ACCEPT",
  "DECLINE",
  "ACCEPT_INVERSE_OFFERS",
  "DECLINE_INVERSE_OFFERS",
  "REVIVE",
  "KILL",
  "SHUTDOWN",
  "ACKNOWLEDGE",
  "ACKNOWLEDGE_OPERATION_STATUS",
  "RECONCILE",
  "RECONCILE_OPERATIONS",
  "MESSAGE",
  "REQUEST",
  "SUPPRESS",
  "UPDATE_FRAMEWORK",
];

/** Per-framework `events/<type>`. */
const FRAMEWORK_EVENTS: readonly Event_Type[] = [
  "SUBSCRIBED",
  "OFFERS",
  "INVERSE_OFFERS",
  "RESCIND",
  "RESCIND_INVERSE_OFFER",
  "UPDATE",
  "UPDATE_OPERATION_STATUS",
  "MESSAGE",
  "FAILURE",
  "ERROR",
  "HEARTBEAT",
];

/** Per-framework `operations/<type>`. */
const FRAMEWORK_OPERATIONS: readonly Offer_Operation_Type[] = [
  "LAUNCH",
  "LAUNCH_GROUP",
  "RESERVE",
  "UNRESERVE",
  "CREATE",
  "DESTROY",
  "GROW_VOLUME",
  "SHRINK_VOLUME",
  "CREATE_DISK",
  "DESTROY_DISK",
];

/** Operation types with their own `master/operations/<type>/*` counts (not LAUNCH*, as Mesos). */
const OPERATION_TYPES: readonly Offer_Operation_Type[] = [
  "RESERVE",
  "UNRESERVE",
  "CREATE",
  "DESTROY",
  "GROW_VOLUME",
  "SHRINK_VOLUME",
  "CREATE_DISK",
  "DESTROY_DISK",
];

/** `master/operations/*` names. */
const OPERATION_COUNTS = [
  "total",
  "pending",
  "recovering",
  "unreachable",
  "finished",
  "failed",
  "error",
  "dropped",
  "gone_by_operator",
] as const;

/** `master/operations/*` names that are gauges (the others count terminal states). */
const OPERATION_GAUGES: ReadonlySet<string> = new Set([
  "total",
  "pending",
  "recovering",
  "unreachable",
]);

/** The count of a state (UNSUPPORTED and UNKNOWN have none, as in Mesos). */
const OPERATION_STATE_COUNT: Partial<Record<OperationState, (typeof OPERATION_COUNTS)[number]>> = {
  OPERATION_PENDING: "pending",
  OPERATION_RECOVERING: "recovering",
  OPERATION_UNREACHABLE: "unreachable",
  OPERATION_FINISHED: "finished",
  OPERATION_FAILED: "failed",
  OPERATION_ERROR: "error",
  OPERATION_DROPPED: "dropped",
  OPERATION_GONE_BY_OPERATOR: "gone_by_operator",
};

/** Task states with a per-framework `tasks/terminal/<state>` counter. */
const FRAMEWORK_TERMINAL = TERMINAL_TASK_STATES;

/** Task states with a per-framework `tasks/active/<state>` gauge. */
const FRAMEWORK_ACTIVE: readonly TaskState[] = [
  "TASK_STAGING",
  "TASK_STARTING",
  "TASK_RUNNING",
  "TASK_KILLING",
  "TASK_UNREACHABLE",
  "TASK_UNKNOWN",
];

/** Registers the master's metrics and keeps its counters. */
export class MasterMetrics {
  private readonly registry: MetricsRegistry;
  private readonly messages = new Map<MessageCounter, Counter>();
  private readonly counters = new Map<string, Counter>();
  private readonly frameworkCounters = new Map<string, FrameworkCounters>();
  /** `allocator/mesos/allocation_run` */
  readonly allocationRun: Timer;
  /** `allocator/mesos/allocation_run_latency`: from the request of a cycle to its start. */
  private readonly allocationRunLatency: Timer;
  private readonly allocationRuns: Counter;
  /** `registrar/state_store` */
  readonly stateStore: Timer;
  /** `registrar/state_fetch` */
  readonly stateFetch: Timer;
  /** `master/http_cache_hits` */
  readonly httpCacheHits: Counter;
  readonly droppedMessages: Counter;
  /** Registers the per-role gauges of roles that appeared since the last call. */
  private readonly refreshRoles: () => void;
  /** `master/operations/[<type>/]<state>`: current for non-terminal states, lifetime for terminal. */
  private readonly operationCounts = new Map<string, number>();

  constructor(private readonly options: MasterMetricsOptions) {
    const r = options.registry;
    this.registry = r;
    const m = options.master;
    for (const name of MESSAGE_COUNTERS)
      this.messages.set(name, r.counter(`master/messages_${name}`));
    this.droppedMessages = r.counter("master/dropped_messages");
    this.droppedMessages.inc(options.droppedBefore ?? 0);
    for (const v of VALIDITY) {
      this.counters.set(`valid_${v}`, r.counter(`master/valid_${v}`));
      this.counters.set(`invalid_${v}`, r.counter(`master/invalid_${v}`));
    }
    for (const name of Object.values(TERMINAL_COUNTED)) {
      this.counters.set(`tasks_${name}`, r.counter(`master/tasks_${name}`));
    }
    for (const name of [
      "slave_registrations",
      "slave_reregistrations",
      "slave_removals",
      "slave_removals/reason_registered",
      "slave_removals/reason_unhealthy",
      "slave_removals/reason_unregistered",
      "recovery_slave_removals",
      "slave_shutdowns_scheduled",
      "slave_shutdowns_canceled",
      "slave_shutdowns_completed",
      "slave_unreachable_scheduled",
      "slave_unreachable_canceled",
      "slave_unreachable_completed",
    ]) {
      this.counters.set(name, r.counter(`master/${name}`));
    }
    this.httpCacheHits = r.counter("master/http_cache_hits");

    const elected = options.elected === false ? 0 : 1;
    r.gauge("master/elected", () => elected);
    r.gauge("master/uptime_secs", () => (m.clock.now() - options.startTime) / 1000);
    this.resourceGauges();
    r.gauge("master/slaves_active", () => count(m.agents.values(), (a) => a.active));
    r.gauge("master/slaves_inactive", () => count(m.agents.values(), (a) => !a.active));
    r.gauge("master/slaves_connected", () => count(m.agents.values(), (a) => a.connected));
    r.gauge("master/slaves_disconnected", () => count(m.agents.values(), (a) => !a.connected));
    r.gauge("master/slaves_unreachable", () => m.unreachableAgents.size);
    r.gauge("master/frameworks_active", () => count(m.frameworks.values(), (f) => f.active));
    r.gauge("master/frameworks_inactive", () => count(m.frameworks.values(), (f) => !f.active));
    r.gauge("master/frameworks_connected", () => count(m.frameworks.values(), (f) => f.connected));
    r.gauge("master/frameworks_disconnected", () =>
      count(m.frameworks.values(), (f) => !f.connected),
    );
    r.gauge("master/outstanding_offers", () => m.offers.size);
    for (const [state, name] of ACTIVE_GAUGES) {
      r.gauge(`master/tasks_${name}`, () => this.tasksIn(state));
    }
    r.gauge("master/tasks_unreachable", () => {
      let n = 0;
      for (const f of m.frameworks.values()) n += f.unreachableTasks.size;
      return n;
    });
    // No event queue: every event runs to completion on the event loop.
    r.gauge("master/event_queue_messages", () => 0);
    r.gauge("master/event_queue_dispatches", () => 0);
    r.gauge("master/event_queue_http_requests", () => 0);
    r.gauge("master/operator_event_stream_subscribers", options.subscribers);
    for (const prefix of ["", ...OPERATION_TYPES.map((t) => `${t.toLowerCase()}/`)]) {
      for (const name of OPERATION_COUNTS) {
        const key = `${prefix}${name}`;
        this.operationCounts.set(key, 0);
        const read = () => this.operationCounts.get(key) ?? 0;
        // Terminal states are counters in Mesos, the total and live states gauges.
        if (OPERATION_GAUGES.has(name)) r.gauge(`master/operations/${key}`, read);
        else r.counterFrom(`master/operations/${key}`, read);
      }
    }

    // Allocator.
    r.gauge("allocator/event_queue_dispatches", () => 0);
    r.gauge("allocator/mesos/event_queue_dispatches", () => 0);
    this.allocationRuns = r.counter("allocator/mesos/allocation_runs");
    this.allocationRun = r.timer("allocator/mesos/allocation_run");
    this.allocationRunLatency = r.timer("allocator/mesos/allocation_run_latency");
    for (const name of ["cpus", "mem", "disk"]) {
      r.gauge(`allocator/mesos/resources/${name}/total`, () => this.allocatorTotal(name));
      r.gauge(`allocator/mesos/resources/${name}/offered_or_allocated`, () =>
        this.offeredOrAllocated(name),
      );
    }
    this.refreshRoles = this.roleGauges();

    // Registrar.
    r.gauge("registrar/queued_operations", () => options.queuedOperations?.() ?? 0);
    r.gauge("registrar/registry_size_bytes", options.registrySize);
    // As Mesos: the fetch timer keeps no window (one fetch per election), the store one a day.
    this.stateFetch = r.timer("registrar/state_fetch", null);
    this.stateStore = r.timer("registrar/state_store", 24 * 3_600_000);

    this.listen();
    if (options.perFramework) this.watchOffers();
  }

  /** A message from an agent or framework arrived (`master/messages_<name>`). */
  message(name: MessageCounter): void {
    this.messages.get(name)?.inc();
  }

  /** A scheduler call arrived (its `messages_*` counter and per-framework `calls`). */
  schedulerCall(type: string, frameworkId: string | undefined, resubscribe: boolean): void {
    const name =
      type === "SUBSCRIBE"
        ? resubscribe
          ? "reregister_framework"
          : "register_framework"
        : CALL_MESSAGE[type];
    if (name !== undefined) this.message(name);
    const fc = frameworkId === undefined ? undefined : this.frameworkCounters.get(frameworkId);
    if (fc === undefined) return;
    const counter = fc.byCall.get(type);
    if (counter === undefined) return;
    fc.calls.inc();
    counter.inc();
  }

  /** An event went to a framework (per-framework `events`, `offers/*`). */
  schedulerEvent(frameworkId: string, type: string, offers = 0): void {
    const fc = this.frameworkCounters.get(frameworkId);
    if (fc === undefined) return;
    const counter = fc.byEvent.get(type);
    if (counter === undefined) return;
    fc.events.inc();
    counter.inc();
    if (type === "OFFERS") fc.offersSent.inc(offers);
    if (type === "RESCIND") fc.offersRescinded.inc();
  }

  /** An allocation cycle ended. */
  allocationCycle(stats: CycleStats, waitedMs: number): void {
    this.allocationRuns.inc();
    this.allocationRun.record(stats.elapsedMs);
    this.allocationRunLatency.record(waitedMs);
    this.refreshRoles();
  }

  private inc(name: string): void {
    this.counters.get(name)?.inc();
  }

  private listen(): void {
    const m = this.options.master;
    m.events.listen({
      taskUpdated: (task, status, previous) =>
        this.taskUpdated(task.framework_id.value, status, previous, task.state),
      // As Mesos: a refused launch counts in tasks_<state> and its state/source/reason.
      taskRejected: (status) => this.countTerminal(status, status.state),
      // As in Mesos, `slave_reregistrations` counts agents the master did
      // not have as registered (recovered after a failover, unreachable or
      // unknown); a registered agent that reconnects counts only in
      // `messages_reregister_slave`.
      agentAdded: (_agent, how) => {
        this.inc(how === "registered" ? "slave_registrations" : "slave_reregistrations");
      },
      // Unreachable agents count in `agentMarkedUnreachable`; an agent marked
      // gone counts in no removal counter (Mesos' markGone does not either).
      agentRemoved: (_agent, reason) => {
        if (reason === "unreachable" || reason === "gone") return;
        this.inc("slave_removals");
        if (reason === "unregistered") this.inc("slave_removals/reason_unregistered");
        if (reason === "replaced") this.inc("slave_removals/reason_registered");
      },
      agentUnreachableStep: (step) => this.inc(`slave_unreachable_${step}`),
      agentMarkedUnreachable: (_id, recovered) => {
        this.inc("slave_removals");
        this.inc("slave_removals/reason_unhealthy");
        if (recovered) this.inc("recovery_slave_removals");
      },
      frameworkMessageReceived: (valid) => {
        this.inc(
          valid ? "valid_framework_to_executor_messages" : "invalid_framework_to_executor_messages",
        );
      },
      frameworkAdded: (f) => this.addFramework(f),
      frameworkRemoved: (f) => this.removeFramework(f),
      statusUpdateReceived: (valid) => {
        this.message("status_update");
        this.inc(valid ? "valid_status_updates" : "invalid_status_updates");
      },
      acknowledgementReceived: (valid) => {
        this.inc(
          valid ? "valid_status_update_acknowledgements" : "invalid_status_update_acknowledgements",
        );
      },
      executorMessageReceived: (valid) => {
        this.inc(
          valid ? "valid_executor_to_framework_messages" : "invalid_executor_to_framework_messages",
        );
      },
      operationStateCounted: (type, state, delta) => this.countOperation(type, state, delta),
      operationStatusUpdateReceived: (valid) => {
        this.inc(valid ? "valid_operation_status_updates" : "invalid_operation_status_updates");
      },
      operationAcknowledgementReceived: (valid) => {
        this.inc(
          valid
            ? "valid_operation_status_update_acknowledgements"
            : "invalid_operation_status_update_acknowledgements",
        );
      },
    });
  }

  /** Mesos' operation counts: the total and the state's, overall and for the type. */
  private countOperation(type: Offer_Operation_Type, state: OperationState, delta: 1 | -1): void {
    const name = OPERATION_STATE_COUNT[state];
    const prefixes = OPERATION_TYPES.includes(type) ? ["", `${type.toLowerCase()}/`] : [""];
    for (const prefix of prefixes) {
      // As in Mesos, a state without a count of its own still moves the total.
      const keys = [`${prefix}total`, ...(name === undefined ? [] : [`${prefix}${name}`])];
      for (const key of keys) {
        this.operationCounts.set(key, (this.operationCounts.get(key) ?? 0) + delta);
      }
    }
  }

  private taskUpdated(
    frameworkId: string,
    status: TaskStatus,
    previous: TaskState,
    now: TaskState,
  ): void {
    if (previous === now || isTerminalState(previous) || !isTerminalState(now)) return;
    this.countTerminal(status, now);
    this.frameworkCounters.get(frameworkId)?.terminal.get(now)?.inc();
  }

  /** `master/tasks_<state>` and `master/<state>/<source>/<reason>` of a terminal status. */
  private countTerminal(status: TaskStatus, state: TaskState): void {
    const name = TERMINAL_COUNTED[state];
    if (name !== undefined) this.inc(`tasks_${name}`);
    if (status.source !== undefined && status.reason !== undefined) {
      const key = `master/${v0Lower(state)}/${v0Lower(status.source)}/${v0Lower(status.reason)}`;
      let c = this.counters.get(key);
      if (c === undefined) {
        c = this.registry.counter(key);
        this.counters.set(key, c);
      }
      c.inc();
    }
  }

  private addFramework(f: FrameworkRecord): void {
    if (!this.options.perFramework || this.frameworkCounters.has(f.id)) return;
    const prefix = `master/frameworks/${encodeURIComponent(f.info.name)}/${f.id}/`;
    const r = this.registry;
    // Every per-framework metric exists from the start (zero), as in Mesos.
    const family = <T extends string>(path: string, keys: readonly T[]): Map<string, Counter> =>
      new Map(keys.map((k) => [k, r.counter(`${prefix}${path}/${k.toLowerCase()}`)]));
    const fc: FrameworkCounters = {
      prefix,
      calls: r.counter(`${prefix}calls`),
      events: r.counter(`${prefix}events`),
      operations: r.counter(`${prefix}operations`),
      byCall: family("calls", FRAMEWORK_CALLS),
      byEvent: family("events", FRAMEWORK_EVENTS),
      byOperation: family("operations", FRAMEWORK_OPERATIONS),
      terminal: family("tasks/terminal", FRAMEWORK_TERMINAL),
      offersSent: r.counter(`${prefix}offers/sent`),
      offersAccepted: r.counter(`${prefix}offers/accepted`),
      offersDeclined: r.counter(`${prefix}offers/declined`),
      offersRescinded: r.counter(`${prefix}offers/rescinded`),
    };
    this.frameworkCounters.set(f.id, fc);
    const m = this.options.master;
    r.gauge(`${prefix}subscribed`, () => (m.frameworks.get(f.id)?.connected === true ? 1 : 0));
    for (const state of FRAMEWORK_ACTIVE) {
      r.gauge(`${prefix}tasks/active/${state.toLowerCase()}`, () => {
        const framework = m.frameworks.get(f.id);
        if (framework === undefined) return 0;
        let n = 0;
        for (const t of framework.tasks.values()) if (t.state === state) n++;
        for (const t of framework.unreachableTasks.values()) if (t.state === state) n++;
        return n;
      });
    }
    for (const role of f.roles()) {
      r.gauge(`${prefix}roles/${role}/suppressed`, () =>
        m.frameworks.get(f.id)?.suppressedRoles.has(role) === true ? 1 : 0,
      );
    }
  }

  /**
   * Per-framework `offers/accepted|declined` (offers, not calls) and
   * `operations/*`: ACCEPT and DECLINE are observed around the core's
   * handling (they come over the v1 API and the driver messages alike).
   * Offers count when the ACCEPT passes offer validation, as in Mesos;
   * LAUNCH counts once per task launched, LAUNCH_GROUP once per group.
   */
  private watchOffers(): void {
    const m = this.options.master;
    const accept = m.accept.bind(m);
    const decline = m.decline.bind(m);
    let launching: { fc: FrameworkCounters; byTask: Map<string, string> } | undefined;
    const groups = new Set<string>();
    m.events.listen({
      taskAdded: (task: Task) => {
        const type = launching?.byTask.get(task.task_id.value);
        if (launching === undefined || type === undefined) return;
        if (type.startsWith("LAUNCH_GROUP")) {
          if (groups.has(type)) return;
          groups.add(type);
        }
        const key = type.startsWith("LAUNCH_GROUP") ? "LAUNCH_GROUP" : "LAUNCH";
        launching.fc.operations.inc();
        launching.fc.byOperation.get(key)?.inc();
      },
    });
    m.accept = (framework: FrameworkRecord, call: Call_Accept): void => {
      const fc = this.frameworkCounters.get(framework.id);
      if (fc === undefined) {
        accept(framework, call);
        return;
      }
      const ids = (call.offer_ids ?? []).map((o) => o.value);
      const first = ids[0] === undefined ? undefined : m.offers.get(ids[0]);
      const usable =
        validateOfferIds(ids, framework.id, (id) => m.offers.get(id)) === undefined &&
        first !== undefined &&
        m.agents.get(first.agentId)?.connected === true;
      const byTask = new Map<string, string>();
      (call.operations ?? []).forEach((op, i) => {
        if (op.type === "LAUNCH") {
          for (const t of op.launch?.task_infos ?? []) byTask.set(t.task_id.value, "LAUNCH");
        } else if (op.type === "LAUNCH_GROUP") {
          for (const t of op.launch_group?.task_group.tasks ?? []) {
            byTask.set(t.task_id.value, `LAUNCH_GROUP ${i}`);
          }
        }
      });
      launching = { fc, byTask };
      groups.clear();
      try {
        accept(framework, call);
      } finally {
        launching = undefined;
      }
      if (usable) fc.offersAccepted.inc(ids.length);
    };
    m.decline = (framework: FrameworkRecord, call: Call_Decline): void => {
      const fc = this.frameworkCounters.get(framework.id);
      let known = 0;
      for (const id of call.offer_ids ?? []) {
        if (m.offers.get(id.value)?.frameworkId === framework.id) known++;
      }
      decline(framework, call);
      fc?.offersDeclined.inc(known);
    };
  }

  private removeFramework(f: FrameworkRecord): void {
    const fc = this.frameworkCounters.get(f.id);
    if (fc === undefined) return;
    this.frameworkCounters.delete(f.id);
    this.registry.removePrefix(fc.prefix);
  }

  private tasksIn(state: TaskState): number {
    let n = 0;
    for (const f of this.options.master.frameworks.values()) {
      for (const t of f.tasks.values()) if (t.state === state) n++;
    }
    return n;
  }

  /**
   * The agents' regular (non-revocable) resources: `master/<r>_total`, as
   * Mesos, whose revocable ones have gauges of their own.
   */
  private total(name: string): number {
    let n = 0;
    for (const a of this.options.master.agents.values()) {
      let total = a.totalResources;
      for (const r of total) {
        if (r.revocable !== undefined) {
          total = total.nonRevocable();
          break;
        }
      }
      n += total.getScalar(name) ?? 0;
    }
    return n;
  }

  /**
   * Everything the agents have, revocable included: the allocator's
   * `allocator/mesos/resources/<r>/total`, as Mesos' allocator counts all
   * it can offer.
   */
  private allocatorTotal(name: string): number {
    let n = 0;
    for (const a of this.options.master.agents.values()) n += a.totalResources.getScalar(name) ?? 0;
    return n;
  }

  /** Regular resources tasks and executors use (`master/<r>_used`). */
  private used(name: string): number {
    let n = 0;
    for (const a of this.options.master.agents.values()) n += scalarOf(agentUsedLists(a), name);
    return n;
  }

  /** Offered or used, revocable included, as Mesos' allocator counts them. */
  private offeredOrAllocated(name: string): number {
    let n = 0;
    for (const a of this.options.master.agents.values()) {
      n += scalarOf(agentUsedLists(a), name, "all");
    }
    for (const o of this.options.master.offers.values()) n += o.resources.getScalar(name) ?? 0;
    return n;
  }

  private resourceGauges(): void {
    const r = this.registry;
    const m = this.options.master;
    for (const name of RESOURCE_NAMES) {
      r.gauge(`master/${name}_total`, () => this.total(name));
      r.gauge(`master/${name}_used`, () => this.used(name));
      r.gauge(`master/${name}_percent`, () => {
        const total = this.total(name);
        return total === 0 ? 0 : this.used(name) / total;
      });
      const revocable = (which: "total" | "used"): number => {
        let n = 0;
        for (const a of m.agents.values()) {
          const res = which === "total" ? a.totalResources : a.usedResources();
          n += res.revocable().getScalar(name) ?? 0;
        }
        return n;
      };
      r.gauge(`master/${name}_revocable_total`, () => revocable("total"));
      r.gauge(`master/${name}_revocable_used`, () => revocable("used"));
      r.gauge(`master/${name}_revocable_percent`, () => {
        const total = revocable("total");
        return total === 0 ? 0 : revocable("used") / total;
      });
    }
  }

  /**
   * Per-role allocator gauges (DRF share, active offer filters, quota),
   * brought up to date after each cycle. The share and filter gauges are
   * added when roles appear and removed when they go. The quota gauges
   * follow Mesos: `guarantee` and `limit` for each quantity of a role's
   * quota, `offered_or_allocated` for
   * each name of a non-default quota, and `consumed` for each quantity a
   * role consumes (allocated plus unallocated reservations, any role); each
   * goes away with its quantity. Each gauge reads the role's live accounting.
   */
  private roleGauges(): () => void {
    const r = this.registry;
    const allocator = this.options.allocator;
    /** Roles with share and filter gauges. */
    const known = new Set<string>();
    /** Quota gauges registered, by metric name. */
    const quota = new Set<string>();
    let seen = -1;
    return () => {
      const rolesChanged = allocator.roleChanges !== seen;
      seen = allocator.roleChanges;
      if (rolesChanged) {
        // A role the allocator no longer tracks loses its gauges, as in Mesos.
        const tracked = new Set(allocator.roleNames());
        for (const role of [...known]) {
          if (tracked.has(role)) continue;
          known.delete(role);
          r.remove(`allocator/mesos/roles/${role}/shares/dominant`);
          r.remove(`allocator/mesos/offer_filters/roles/${role}/active`);
        }
      }
      const wanted = new Set<string>();
      const want = (name: string, read: () => number) => {
        wanted.add(name);
        if (quota.has(name)) return;
        quota.add(name);
        r.gauge(name, read);
      };
      for (const role of allocator.roleNames()) {
        if (rolesChanged && !known.has(role)) {
          known.add(role);
          r.gauge(`allocator/mesos/roles/${role}/shares/dominant`, () =>
            allocator.dominantShare(role),
          );
          r.gauge(`allocator/mesos/offer_filters/roles/${role}/active`, () =>
            allocator.offerFilterCount(role),
          );
        }
        const accounting = allocator.roleAccounting(role);
        if (accounting === undefined) continue;
        const base = `allocator/mesos/quota/roles/${role}/resources`;
        const read = (pick: (a: RoleAccounting) => Record<string, number>, name: string) => () => {
          const a = allocator.roleAccounting(role);
          return a === undefined ? 0 : (pick(a)[name] ?? 0);
        };
        for (const name of Object.keys(accounting.guarantees)) {
          want(
            `${base}/${name}/guarantee`,
            read((a) => a.guarantees, name),
          );
        }
        for (const name of Object.keys(accounting.limits)) {
          want(
            `${base}/${name}/limit`,
            read((a) => a.limits, name),
          );
        }
        for (const name of new Set([
          ...Object.keys(accounting.guarantees),
          ...Object.keys(accounting.limits),
        ])) {
          want(
            `${base}/${name}/offered_or_allocated`,
            read((a) => a.offeredOrAllocated, name),
          );
        }
        for (const [name, value] of Object.entries(accounting.quotaConsumed)) {
          if (value > 0)
            want(
              `${base}/${name}/consumed`,
              read((a) => a.quotaConsumed, name),
            );
        }
      }
      for (const name of [...quota]) {
        if (wanted.has(name)) continue;
        quota.delete(name);
        r.remove(name);
      }
    };
  }
}

function count<T>(items: Iterable<T>, predicate: (item: T) => boolean): number {
  let n = 0;
  for (const item of items) if (predicate(item)) n++;
  return n;
}

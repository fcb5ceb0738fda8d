/**
 * Executor client library: what a custom executor written in TypeScript
 * uses to talk to its agent over the v1 executor HTTP API (JSON).
 *
 * It subscribes, delivers events (as callbacks, an async iterator, or both),
 * sends UPDATE / MESSAGE / HEARTBEAT calls in order, and keeps every status
 * update until the agent acknowledges it. When the connection to the agent
 * breaks, it follows the Mesos rules: with framework checkpointing
 * (`MESOS_CHECKPOINT=1`) it re-subscribes with a random backoff bounded by
 * `MESOS_SUBSCRIPTION_BACKOFF_MAX` for at most `MESOS_RECOVERY_TIMEOUT`,
 * re-sending unacknowledged tasks and updates; otherwise (or when recovery
 * times out) it delivers a SHUTDOWN event. After a SHUTDOWN it ends the
 * executor once `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD` has passed.
 *
 * See docs/executor-library.md for a guide and the mapping from the old
 * ExecutorDriver callbacks.
 */
import { readFileSync } from "node:fs";
import { MesosError } from "../common/errors/mesos-error.js";
import { statusLine } from "../common/http/response.js";
import type { Logger } from "../common/observability/logger.js";
import { type Clock, systemClock, type TimerHandle } from "../common/time/clock.js";
import { AgentTransport, type Subscription } from "./agent-transport.js";
import { formatDuration } from "./duration.js";
import { decodeEvent } from "./event-codec.js";
import { type ExecutorEnvironment, readExecutorEnvironment } from "./executor-environment.js";
import type {
  CallUpdate,
  ExecutorCall,
  ExecutorEvent,
  IdValue,
  KillPolicy,
  SubscribedInfo,
  TaskGroupInfo,
  TaskInfo,
  TaskStatus,
} from "./protocol.js";
import { newStatusUuid, normalizeUuid, uuidText } from "./uuid.js";

/** Where the client is in its life. */
export type ExecutorClientState =
  /** Not subscribed; a (re-)subscription attempt is pending or backing off. */
  | "disconnected"
  /** A SUBSCRIBE request is in flight. */
  | "subscribing"
  /** The event stream is open. */
  | "subscribed"
  /** Lost the agent for good (no checkpointing, or recovery timed out); no more attempts. */
  | "shutdown"
  /** `stop()` was called. */
  | "stopped";

/**
 * Event callbacks. All are optional; `event` sees every event before the
 * specific callback does. Injected events (SHUTDOWN after losing the agent,
 * ERROR for unexpected answers or undecodable records) arrive the same way.
 */
export interface ExecutorHandlers {
  /** Every event, in arrival order. */
  event?(event: ExecutorEvent): void;
  /** SUBSCRIBED: also after every re-subscription (the old driver's `registered`/`reregistered`). */
  subscribed?(info: SubscribedInfo): void;
  /** LAUNCH: run this task (`launchTask`). */
  launch?(task: TaskInfo): void;
  /** LAUNCH_GROUP: run these tasks together. */
  launchGroup?(group: TaskGroupInfo): void;
  /** KILL: kill this task; `killPolicy` overrides the task's own (`killTask`). */
  kill?(taskId: IdValue, killPolicy: KillPolicy | undefined): void;
  /** ACKNOWLEDGED: the agent has the update `uuid`; `update` is it, if this client sent it. */
  acknowledged?(taskId: IdValue, uuid: string, update: TaskStatus | undefined): void;
  /** MESSAGE from the scheduler (`frameworkMessage`); `data` is decoded from base64. */
  message?(data: Buffer): void;
  /** SHUTDOWN: kill all tasks, send their terminal updates and exit (`shutdown`). */
  shutdown?(): void;
  /** ERROR from the agent or the library (`error`). */
  error?(message: string): void;
  /** HEARTBEAT from the agent. */
  heartbeat?(): void;
  /** The event stream broke; `willRetry` tells whether the client re-subscribes (`disconnected`). */
  disconnected?(reason: string, willRetry: boolean): void;
}

/** Tuning and injection points; defaults suit a real executor. */
export interface ExecutorClientOptions {
  clock?: Clock;
  logger?: Logger;
  /** Source of [0, 1) for the re-subscription backoff. */
  random?: () => number;
  /** Keep unacknowledged tasks/updates and re-send them on re-subscription (default true). */
  trackUnacknowledged?: boolean;
  /** Delay before retrying a SUBSCRIBE the agent answered with an error (default 1 s). */
  subscribeRetryIntervalMs?: number;
  /** Interval of HEARTBEAT calls while subscribed (default 30 min, as Mesos). */
  heartbeatIntervalMs?: number;
  /**
   * Runs when the shutdown grace period has passed after a SHUTDOWN event.
   * Default: SIGKILL this process's group if it leads one, else exit(1).
   * `null` disables the deadline (the executor exits on its own).
   */
  onShutdownDeadline?: (() => void) | null;
  /**
   * Called once, when the first SUBSCRIBE request has gone out (or failed
   * to). Lets an executor postpone its own start-up work until then.
   */
  onFirstSubscribeSent?: () => void;
}

/** A status update to send; `uuid` is generated when absent. */
export type TaskStatusInput = Omit<TaskStatus, "uuid"> & { uuid?: string };

// A local no-op logger: importing the shared one would add a module to the
// command executor's start-up path.
const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {}, verbose: () => {} };

/** Network failures of one call are retried this often before waiting for re-subscription. */
const CALL_ATTEMPTS = 3;
const CALL_RETRY_DELAY_MS = 250;

interface QueuedCall {
  type: ExecutorCall["type"];
  body: string;
  attempts: number;
  /** Written to the connection and not yet answered. */
  inFlight: boolean;
}

/**
 * Calls pipelined on the call connection at once. The agent answers them in
 * order, so they reach it in the order they were made, without one round
 * trip per call.
 */
export const MAX_CALLS_IN_FLIGHT = 16;

/** A connection from one executor to its agent. */
export class ExecutorClient {
  /**
   * A client configured from `env` (default `process.env`). Throws a
   * `MesosError` naming the variable when the environment is incomplete.
   * Removes `MESOS_EXECUTOR_AUTHENTICATION_TOKEN` from `process.env`, as
   * Mesos does, so tasks do not inherit it.
   */
  static fromEnvironment(
    env: Readonly<Record<string, string | undefined>> = process.env,
    options: ExecutorClientOptions = {},
  ): ExecutorClient {
    const parsed = readExecutorEnvironment(env);
    if ("error" in parsed) throw new MesosError("EXECUTOR_ENVIRONMENT", parsed.error);
    delete process.env.MESOS_EXECUTOR_AUTHENTICATION_TOKEN;
    return new ExecutorClient(parsed, options);
  }

  readonly environment: ExecutorEnvironment;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly random: () => number;
  private readonly track: boolean;
  private readonly retryIntervalMs: number;
  private readonly heartbeatIntervalMs: number;
  private readonly onShutdownDeadline: (() => void) | null;
  private onFirstSubscribeSent: (() => void) | undefined;
  private readonly transport: AgentTransport;
  private readonly frameworkId: IdValue;
  private readonly executorId: IdValue;

  private handlers: ExecutorHandlers = {};
  private currentState: ExecutorClientState = "disconnected";
  private started = false;
  private subscription: Subscription | undefined;
  /** TCP reached the agent during the current attempt (Mesos' "connected"). */
  private connected = false;
  /** Bumped whenever a subscription opens or closes; stale callbacks compare it. */
  private generation = 0;
  private retryTimer: TimerHandle | undefined;
  private recoveryTimer: TimerHandle | undefined;
  private heartbeatTimer: TimerHandle | undefined;
  private shutdownTimer: TimerHandle | undefined;
  private shutdownSeen = false;
  private lastSubscribed: SubscribedInfo | undefined;

  private readonly unackedUpdates = new Map<string, CallUpdate>();
  private readonly unackedTasks = new Map<string, TaskInfo>();

  private readonly calls: QueuedCall[] = [];
  /** Calls written in `sentGeneration` and not yet answered. */
  private inFlight = 0;
  private sentGeneration = 0;
  /** The agent answered a call of this connection 2xx: calls may be pipelined (see `pump`). */
  private agentTakesCalls = false;
  /** After a failed call: nothing is sent until the retry delay is over. */
  private retryPending = false;

  private readonly iteratorQueue: ExecutorEvent[] = [];
  private iteratorWaiter: ((r: IteratorResult<ExecutorEvent>) => void) | undefined;
  private iterating = false;

  constructor(environment: ExecutorEnvironment, options: ExecutorClientOptions = {}) {
    this.environment = environment;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? quiet;
    this.random = options.random ?? Math.random;
    this.track = options.trackUnacknowledged ?? true;
    this.retryIntervalMs = options.subscribeRetryIntervalMs ?? 1000;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 30 * 60_000;
    this.onShutdownDeadline =
      options.onShutdownDeadline === undefined
        ? () => killOwnProcessGroup(this.logger)
        : options.onShutdownDeadline;
    this.onFirstSubscribeSent = options.onFirstSubscribeSent;
    this.transport = new AgentTransport(environment.agent, environment.authenticationToken);
    this.frameworkId = { value: environment.frameworkId };
    this.executorId = { value: environment.executorId };
  }

  /** Current connection state. */
  get state(): ExecutorClientState {
    return this.currentState;
  }

  /** The last SUBSCRIBED event's content (framework, executor and agent info). */
  get subscribedInfo(): SubscribedInfo | undefined {
    return this.lastSubscribed;
  }

  /** Starts subscribing; events go to `handlers` (and to `events()` if it is being iterated). */
  start(handlers: ExecutorHandlers = {}): void {
    if (this.started) throw new Error("ExecutorClient.start() called twice");
    this.started = true;
    this.handlers = handlers;
    // Request first, log after: the first write to stderr costs start-up time.
    this.attemptSubscribe();
    this.logger.info(`Subscribing to the agent at ${this.transport.describe()}`);
  }

  /**
   * Events as an async iterator (starting the client if needed). Ends when
   * the client is stopped. Use it or callbacks, or both.
   */
  events(): AsyncIterableIterator<ExecutorEvent> {
    this.iterating = true;
    if (!this.started) this.start();
    const next = (): Promise<IteratorResult<ExecutorEvent>> => {
      const event = this.iteratorQueue.shift();
      if (event !== undefined) return Promise.resolve({ value: event, done: false });
      if (this.currentState === "stopped") return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => {
        this.iteratorWaiter = resolve;
      });
    };
    const iterator: AsyncIterableIterator<ExecutorEvent> = {
      next,
      return: () => {
        this.iterating = false;
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /**
   * Sends a status update and keeps it until acknowledged. Returns its uuid
   * (base64). While disconnected the update is only kept, and goes out with
   * the next SUBSCRIBE.
   */
  update(status: TaskStatusInput): string {
    const uuid = status.uuid ?? newStatusUuid();
    // Object.assign rather than a spread: far cheaper in V8 for every update.
    const update: CallUpdate = { status: Object.assign({}, status, { uuid }) };
    if (this.track) {
      const key = normalizeUuid(uuid);
      if (key !== undefined) this.unackedUpdates.set(key, update);
    }
    this.enqueue({
      type: "UPDATE",
      framework_id: this.frameworkId,
      executor_id: this.executorId,
      update,
    });
    return uuid;
  }

  /** Sends a MESSAGE to the scheduler (best effort, as in Mesos). */
  message(data: Uint8Array | string): void {
    const encoded = Buffer.from(data).toString("base64");
    this.enqueue({
      type: "MESSAGE",
      framework_id: this.frameworkId,
      executor_id: this.executorId,
      message: { data: encoded },
    });
  }

  /** Status updates sent and not yet acknowledged, oldest first. */
  unacknowledgedUpdates(): TaskStatus[] {
    return [...this.unackedUpdates.values()].map((u) => u.status);
  }

  /** Launched tasks none of whose updates has been acknowledged yet. */
  unacknowledgedTasks(): TaskInfo[] {
    return [...this.unackedTasks.values()];
  }

  /** Closes the connections and cancels all timers; the iterator ends. */
  stop(): void {
    if (this.currentState === "stopped") return;
    this.currentState = "stopped";
    this.generation++;
    this.subscription?.close();
    this.subscription = undefined;
    for (const t of [
      this.retryTimer,
      this.recoveryTimer,
      this.heartbeatTimer,
      this.shutdownTimer,
    ]) {
      if (t !== undefined) this.clock.cancelTimer(t);
    }
    this.calls.length = 0;
    this.transport.close();
    const waiter = this.iteratorWaiter;
    this.iteratorWaiter = undefined;
    waiter?.({ value: undefined, done: true });
  }

  // --- subscription -------------------------------------------------------

  private subscribeCall(): ExecutorCall {
    const subscribe: { unacknowledged_tasks?: TaskInfo[]; unacknowledged_updates?: CallUpdate[] } =
      {};
    if (this.unackedTasks.size > 0)
      subscribe.unacknowledged_tasks = [...this.unackedTasks.values()];
    if (this.unackedUpdates.size > 0) {
      subscribe.unacknowledged_updates = [...this.unackedUpdates.values()];
    }
    return {
      type: "SUBSCRIBE",
      framework_id: this.frameworkId,
      executor_id: this.executorId,
      subscribe,
    };
  }

  private attemptSubscribe(): void {
    if (this.currentState !== "disconnected") return;
    this.retryTimer = undefined;
    this.currentState = "subscribing";
    this.connected = false;
    const generation = ++this.generation;
    const call = this.subscribeCall();
    if (call.type === "SUBSCRIBE" && call.subscribe.unacknowledged_updates !== undefined) {
      this.logger.info(
        `Re-sending ${call.subscribe.unacknowledged_updates.length} unacknowledged status update(s) with SUBSCRIBE`,
      );
    }
    const current = (): boolean => generation === this.generation;
    this.subscription = this.transport.subscribe(JSON.stringify(call), {
      onConnected: () => {
        if (current()) this.connected = true;
      },
      onSent: () => {
        const first = this.onFirstSubscribeSent;
        this.onFirstSubscribeSent = undefined;
        first?.();
      },
      onOpen: () => {
        if (!current()) return;
        this.connected = true;
        this.currentState = "subscribed";
        if (this.recoveryTimer !== undefined) {
          this.clock.cancelTimer(this.recoveryTimer);
          this.recoveryTimer = undefined;
        }
        this.scheduleHeartbeat();
        this.pump();
      },
      onRecord: (record) => {
        if (current()) this.receiveRecord(record);
      },
      onRejected: (status, body) => {
        if (!current()) return;
        this.subscription = undefined;
        this.currentState = "disconnected";
        const text = `'${statusLine(status)}' (${body.trim()}) for SUBSCRIBE`;
        if (status === 503 || status === 404) {
          // The agent is recovering or has not set up its routes yet.
          this.logger.warn(`Received ${text}; retrying`);
        } else {
          this.inject({ type: "ERROR", error: { message: `Received unexpected ${text}` } });
        }
        this.retryTimer = this.clock.setTimer(this.retryIntervalMs, () => this.attemptSubscribe());
      },
      onClosed: (reason) => {
        if (current()) this.lostAgent(reason);
      },
    });
  }

  private lostAgent(reason: string): void {
    const wasConnected = this.connected;
    this.subscription?.close();
    this.subscription = undefined;
    this.generation++;
    this.currentState = "disconnected";
    this.calls.length = 0;
    if (this.heartbeatTimer !== undefined) {
      this.clock.cancelTimer(this.heartbeatTimer);
      this.heartbeatTimer = undefined;
    }
    if (this.shutdownSeen) {
      // Already shutting down: never reconnect, just wait for the executor to exit.
      this.currentState = "shutdown";
      this.logger.info(`Disconnected from the agent while shutting down: ${reason}`);
      return;
    }

    if (this.recoveryTimer !== undefined) {
      // A retry during recovery failed: back off and try again.
      this.retryTimer = this.clock.setTimer(this.backoffMs(), () => this.attemptSubscribe());
      return;
    }
    const env = this.environment;
    if (env.checkpoint && wasConnected) {
      const timeout = env.recoveryTimeoutMs ?? 0;
      this.logger.warn(
        `Disconnected from the agent: ${reason}; retrying for up to ${formatDuration(timeout)}`,
      );
      this.notifyDisconnected(reason, true);
      this.recoveryTimer = this.clock.setTimer(timeout, () => {
        this.recoveryTimer = undefined;
        if (this.currentState === "subscribed" || this.currentState === "stopped") return;
        this.giveUp(
          `Recovery timeout of ${formatDuration(timeout)} exceeded following the first connection failure: ${reason}`,
        );
      });
      this.attemptSubscribe();
      return;
    }
    if (wasConnected) this.notifyDisconnected(reason, false);
    this.giveUp(`Disconnected from the agent: ${reason}`);
  }

  private giveUp(message: string): void {
    if (this.retryTimer !== undefined) {
      this.clock.cancelTimer(this.retryTimer);
      this.retryTimer = undefined;
    }
    this.subscription?.close();
    this.subscription = undefined;
    this.generation++;
    this.currentState = "shutdown";
    this.logger.info(`${message}; shutting down`);
    this.inject({ type: "SHUTDOWN" });
  }

  private backoffMs(): number {
    return (this.environment.subscriptionBackoffMaxMs ?? 0) * this.random();
  }

  private notifyDisconnected(reason: string, willRetry: boolean): void {
    this.safely("disconnected", () => this.handlers.disconnected?.(reason, willRetry));
  }

  private scheduleHeartbeat(): void {
    if (this.heartbeatTimer !== undefined) this.clock.cancelTimer(this.heartbeatTimer);
    this.heartbeatTimer = this.clock.setTimer(this.heartbeatIntervalMs, () => {
      this.heartbeatTimer = undefined;
      if (this.currentState !== "subscribed") return;
      this.enqueue({
        type: "HEARTBEAT",
        framework_id: this.frameworkId,
        executor_id: this.executorId,
      });
      this.scheduleHeartbeat();
    });
  }

  // --- events -------------------------------------------------------------

  private receiveRecord(record: Uint8Array): void {
    const decoded = decodeEvent(record);
    if (!decoded.ok) {
      if (decoded.ignorable) {
        this.logger.warn(`Ignoring event: ${decoded.reason}`);
      } else {
        this.inject({
          type: "ERROR",
          error: { message: `Failed to de-serialize event: ${decoded.reason}` },
        });
      }
      return;
    }
    this.deliver(decoded.event);
  }

  /** Delivers an event the library made up (not from the agent). */
  private inject(event: ExecutorEvent): void {
    if (event.type === "ERROR") this.logger.error(event.error.message);
    this.deliver(event);
  }

  private deliver(event: ExecutorEvent): void {
    if (this.currentState === "stopped") return;
    this.logger.verbose(1, `Received ${event.type} event`);
    let acknowledgedUpdate: TaskStatus | undefined;
    switch (event.type) {
      case "SUBSCRIBED":
        this.lastSubscribed = event.subscribed;
        break;
      case "LAUNCH":
        if (this.track) this.unackedTasks.set(event.launch.task.task_id.value, event.launch.task);
        break;
      case "LAUNCH_GROUP":
        if (this.track) {
          for (const task of event.launch_group.task_group.tasks) {
            this.unackedTasks.set(task.task_id.value, task);
          }
        }
        break;
      case "ACKNOWLEDGED": {
        const key = normalizeUuid(event.acknowledged.uuid);
        const update = key === undefined ? undefined : this.unackedUpdates.get(key);
        if (update !== undefined && key !== undefined) {
          this.unackedUpdates.delete(key);
          this.unackedTasks.delete(update.status.task_id.value);
          acknowledgedUpdate = update.status;
        } else if (this.track) {
          this.logger.warn(
            `Received acknowledgement ${uuidText(event.acknowledged.uuid)} for unknown status update`,
          );
        }
        break;
      }
      case "SHUTDOWN":
        this.armShutdownDeadline();
        break;
      default:
        break;
    }

    const h = this.handlers;
    this.safely("event", () => h.event?.(event));
    switch (event.type) {
      case "SUBSCRIBED":
        this.safely("subscribed", () => h.subscribed?.(event.subscribed));
        break;
      case "LAUNCH":
        this.safely("launch", () => h.launch?.(event.launch.task));
        break;
      case "LAUNCH_GROUP":
        this.safely("launchGroup", () => h.launchGroup?.(event.launch_group.task_group));
        break;
      case "KILL":
        this.safely("kill", () => h.kill?.(event.kill.task_id, event.kill.kill_policy));
        break;
      case "ACKNOWLEDGED":
        this.safely("acknowledged", () =>
          h.acknowledged?.(event.acknowledged.task_id, event.acknowledged.uuid, acknowledgedUpdate),
        );
        break;
      case "MESSAGE":
        this.safely("message", () => h.message?.(Buffer.from(event.message.data, "base64")));
        break;
      case "SHUTDOWN":
        this.safely("shutdown", () => h.shutdown?.());
        break;
      case "ERROR":
        this.safely("error", () => h.error?.(event.error.message));
        break;
      case "HEARTBEAT":
        this.safely("heartbeat", () => h.heartbeat?.());
        break;
    }

    if (this.iterating) {
      const waiter = this.iteratorWaiter;
      if (waiter !== undefined) {
        this.iteratorWaiter = undefined;
        waiter({ value: event, done: false });
      } else {
        this.iteratorQueue.push(event);
      }
    }
  }

  private safely(name: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.logger.error(`Executor handler '${name}' threw: ${(err as Error).stack ?? String(err)}`);
    }
  }

  private armShutdownDeadline(): void {
    if (this.shutdownSeen) return;
    this.shutdownSeen = true;
    const action = this.onShutdownDeadline;
    if (action === null || this.environment.local) return;
    const grace = this.environment.shutdownGracePeriodMs;
    this.logger.verbose(1, `Scheduling shutdown of the executor in ${formatDuration(grace)}`);
    this.shutdownTimer = this.clock.setTimer(grace, () => {
      this.shutdownTimer = undefined;
      if (this.currentState !== "stopped") action();
    });
  }

  // --- calls --------------------------------------------------------------

  private enqueue(call: ExecutorCall): void {
    if (this.currentState !== "subscribed") {
      // As in Mesos: calls are dropped while not subscribed; updates are kept
      // as unacknowledged and go out with the next SUBSCRIBE.
      this.logger.verbose(1, `Dropping ${call.type}: executor is in state ${this.currentState}`);
      return;
    }
    this.calls.push({ type: call.type, body: JSON.stringify(call), attempts: 0, inFlight: false });
    this.pump();
  }

  /**
   * Writes queued calls, oldest first, up to MAX_CALLS_IN_FLIGHT unanswered.
   * A failed call breaks the connection and fails all calls after it, so
   * they are all sent again, in order, after the retry delay.
   */
  private pump(): void {
    if (this.currentState !== "subscribed" || this.retryPending) return;
    if (this.sentGeneration !== this.generation) {
      // Calls of an earlier connection may still be answered; they no longer count.
      this.inFlight = 0;
      this.sentGeneration = this.generation;
      this.agentTakesCalls = false;
      for (const call of this.calls) call.inFlight = false;
    }
    // One call at a time until the agent took one: right after a
    // re-subscription it may still be recovering (503), and an update it
    // refuses must not be overtaken by one written after it.
    const most = this.agentTakesCalls ? MAX_CALLS_IN_FLIGHT : 1;
    for (const call of this.calls) {
      if (this.inFlight >= most) return;
      if (call.inFlight) continue;
      this.send(call);
    }
  }

  private send(call: QueuedCall): void {
    const generation = this.generation;
    call.inFlight = true;
    call.attempts++;
    this.inFlight++;
    this.transport.post(call.body).then(
      (res) => {
        if (generation !== this.generation) return this.pump();
        this.inFlight--;
        if (res.status === 503 && call.type === "UPDATE") {
          // The agent has not finished its recovery (it took this executor's
          // re-subscription a moment ago). Mesos' library drops the update
          // until the next SUBSCRIBE, which may never come on a healthy
          // connection: the task's state would stay stuck. Sent again.
          this.logger.warn(`Received '${statusLine(res.status)}' for UPDATE; retrying`);
          call.inFlight = false;
          this.retryLater();
          return;
        }
        this.remove(call);
        if (res.status === 202 || res.status === 200) this.agentTakesCalls = true;
        else {
          const text = `'${statusLine(res.status)}' (${res.body.trim()}) for ${call.type}`;
          if (res.status === 503 || res.status === 404) this.logger.warn(`Received ${text}`);
          else this.inject({ type: "ERROR", error: { message: `Received unexpected ${text}` } });
        }
        this.pump();
      },
      (err: Error) => {
        if (generation !== this.generation) return this.pump();
        this.inFlight--;
        call.inFlight = false;
        if (call.attempts >= CALL_ATTEMPTS) {
          this.logger.error(`Request for call type ${call.type} failed: ${err.message}`);
          this.remove(call);
        } else {
          this.logger.warn(`Request for call type ${call.type} failed (${err.message}); retrying`);
        }
        this.retryLater();
      },
    );
  }

  /** Sends the queued calls again after the retry delay. */
  private retryLater(): void {
    if (this.retryPending) return;
    this.retryPending = true;
    this.clock.setTimer(CALL_RETRY_DELAY_MS, () => {
      this.retryPending = false;
      this.pump();
    });
  }

  private remove(call: QueuedCall): void {
    const i = this.calls.indexOf(call);
    if (i >= 0) this.calls.splice(i, 1);
  }
}

/** True when this process leads its process group (the agent starts executors with setsid). */
function leadsProcessGroup(): boolean {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[2]) === process.pid;
  } catch {
    return false;
  }
}

function killOwnProcessGroup(logger: Logger): void {
  logger.info("Shutdown grace period elapsed; killing the executor's process group");
  if (leadsProcessGroup()) process.kill(-process.pid, "SIGKILL");
  process.exit(1);
}

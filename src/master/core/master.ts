/**
 * The master core: frameworks, agents, offers and tasks as plain state,
 * changed one event at a time. Events come in through the methods below
 * (scheduler calls, agent messages, allocations, broken connections,
 * timers on the injected clock); effects go out through `MasterIo` and the
 * schedulers' `SchedulerStream`s. No sockets here, so it can be driven by
 * unit tests with a ManualClock.
 *
 * The work is split by concern: frameworks.ts, agents.ts, offers.ts,
 * accept.ts, tasks.ts. This class holds the state they share and the few
 * helpers all of them use.
 */
import type { MasterIds } from "../../common/ids/index.js";
import type { Logger } from "../../common/observability/logger.js";
import { LogSite } from "../../common/observability/logger.js";
import type {
  ExecutorToFrameworkMessage,
  ExitedExecutorMessage,
  RegisterSlaveMessage,
  Registry,
  ReregisterSlaveMessage,
  SlaveInfo,
  StatusUpdate,
  StatusUpdateMessage,
  UnregisterSlaveMessage,
} from "../../common/protocol/generated/mesos-internal.js";
import type * as scheduler from "../../common/protocol/generated/mesos-v1-scheduler.js";
import type { Event as SchedulerEvent } from "../../common/protocol/generated/mesos-v1-scheduler.js";
import type { Clock, TimerHandle } from "../../common/time/clock.js";
import type { RandomSource } from "../../common/time/random.js";
import type { HierarchicalAllocator, OfferAllocation } from "../allocator/index.js";
import type { Registrar } from "../registrar/registrar.js";
import { accept } from "./accept.js";
import {
  agentExited,
  pong as agentPong,
  stopAgentTimers,
  unregisterAgent,
} from "./agent-health.js";
import { registerAgent, reregisterAgent } from "./agents.js";
import type { MasterConfig } from "./config.js";
import {
  removeFramework,
  schedulerStreamClosed,
  stopFrameworkTimers,
  subscribe,
  updateFrameworkCall,
} from "./frameworks.js";
import type { MasterIo, SchedulerStream } from "./io.js";
import { MasterEvents } from "./observer.js";
import { decline, makeOffers, revive, suppress } from "./offers.js";
import { reconcileTasks } from "./reconciliation.js";
import type { AgentRecord, FrameworkRecord, OfferRecord } from "./records.js";
import {
  DEFAULT_RECOVERY_CONFIG,
  type RecoveryConfig,
  RemovalLimiter,
  recoverFromRegistry,
} from "./recovery.js";
import { updateEvent } from "./status-updates.js";
import {
  acknowledge,
  executorToFramework,
  exitedExecutor,
  frameworkMessage,
  kill,
  shutdownExecutor,
  statusUpdate,
} from "./tasks.js";

const SITE_FORWARD = new LogSite();

export interface MasterOptions {
  readonly config: MasterConfig;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly logger: Logger;
  readonly io: MasterIo;
  readonly allocator: HierarchicalAllocator;
  readonly registrar: Registrar;
  readonly ids: MasterIds;
  /** Registry recovery, removal pacing and GC settings (default: the Mesos flag defaults). */
  readonly recovery?: RecoveryConfig;
  /**
   * Called when the master must stop (a failed registry write, too many
   * agents missing after a failover). Default: throws.
   */
  readonly onFatal?: (message: string) => void;
  /**
   * When the master process started (ms since the epoch), for a master
   * elected after waiting as a standby: Mesos' `start_time` is the
   * process', `elected_time` the election's. Default: now.
   */
  readonly startTime?: number;
}

/** An answer to a call that has a status of its own (UPDATE_FRAMEWORK). */
export interface CallResult {
  readonly status: number;
  readonly message: string;
}

export class Master {
  readonly config: MasterConfig;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly logger: Logger;
  readonly io: MasterIo;
  readonly allocator: HierarchicalAllocator;
  readonly registrar: Registrar;
  readonly ids: MasterIds;
  /** Registered frameworks (connected, disconnected or recovered from agents). */
  readonly frameworks = new Map<string, FrameworkRecord>();
  /** Removed frameworks, oldest first, at most `--max_completed_frameworks`. */
  readonly completedFrameworks: FrameworkRecord[] = [];
  readonly agents = new Map<string, AgentRecord>();
  /** Agents marked unreachable: id -> when (ns since the epoch). */
  readonly unreachableAgents = new Map<string, number>();
  /** Agents an operator marked gone: id -> when (ns since the epoch). */
  readonly goneAgents = new Map<string, number>();
  /** Agents an operator deactivated (no offers until reactivated). */
  readonly deactivatedAgents = new Set<string>();
  readonly offers = new Map<string, OfferRecord>();
  /** Agent pids with a registration in flight, agent ids with a re-registration in flight. */
  readonly registering = new Set<string>();
  readonly reregistering = new Set<string>();
  /** Agents recovered from the registry that have not re-registered yet: id -> info. */
  readonly recoveredAgents = new Map<string, SlaveInfo>();
  /** Agents whose move to the unreachable list is being written to the registry. */
  readonly markingUnreachable = new Set<string>();
  readonly recovery: RecoveryConfig;
  /** Paces agents' moves to unreachable (`--agent_removal_rate_limit`), when set. */
  readonly removalLimiter: RemovalLimiter | undefined;
  recoveryTimer: TimerHandle | undefined;
  registryGcTimer: TimerHandle | undefined;
  private readonly onFatal: (message: string) => void;
  readonly startTime: number;
  /** Change notifications for the operator event stream, metrics and caches. */
  readonly events = new MasterEvents();
  stopped = false;

  constructor(options: MasterOptions) {
    this.config = options.config;
    this.clock = options.clock;
    this.random = options.random;
    this.logger = options.logger;
    this.io = options.io;
    this.allocator = options.allocator;
    this.registrar = options.registrar;
    this.ids = options.ids;
    this.recovery = options.recovery ?? DEFAULT_RECOVERY_CONFIG;
    this.removalLimiter =
      this.recovery.removalRate === undefined
        ? undefined
        : new RemovalLimiter(this.clock, this.recovery.removalRate);
    this.onFatal =
      options.onFatal ??
      ((message) => {
        throw new Error(message);
      });
    this.startTime = options.startTime ?? this.clock.now();
  }

  /**
   * Installs the registry read at start-up: agents it admitted are expected
   * to re-register within `--agent_reregister_timeout`. Call once, before
   * any agent or scheduler message.
   */
  recover(registry: Registry): void {
    recoverFromRegistry(this, registry);
  }

  /** Stops the master for a reason an operator must look at. */
  fatal(message: string): void {
    this.logger.error(message);
    this.stop();
    this.onFatal(message);
  }

  // ---------------------------------------------------------------------------
  // Shared helpers.

  /** Seconds since the epoch, as Mesos' timestamps. */
  nowSecs(): number {
    return this.clock.now() / 1000;
  }

  framework(id: string | undefined): FrameworkRecord | undefined {
    return id === undefined ? undefined : this.frameworks.get(id);
  }

  agentByPid(pid: string): AgentRecord | undefined {
    for (const agent of this.agents.values()) if (agent.pid === pid) return agent;
    return undefined;
  }

  isCompletedFramework(id: string): boolean {
    return this.completedFrameworks.some((f) => f.id === id);
  }

  /** Sends an event to a subscribed framework (dropped when it is not connected). */
  sendEvent(framework: FrameworkRecord, event: SchedulerEvent): void {
    const stream = framework.stream;
    if (stream === undefined || !framework.connected || stream.closed) return;
    stream.send(event);
  }

  /**
   * Forwards a status update to its framework as an UPDATE event, and
   * remembers the state/uuid the framework is expected to acknowledge.
   */
  forward(framework: FrameworkRecord, update: StatusUpdate, fromAgent: boolean): void {
    const status = update.status;
    const task = framework.tasks.get(status.task_id.value);
    if (task !== undefined && fromAgent && update.uuid !== undefined && update.uuid.length > 0) {
      task.status_update_state = status.state;
      task.status_update_uuid = status.uuid ?? update.uuid;
    }
    const text = status.message === undefined ? "" : ` '${status.message}'`;
    this.logger.info(
      `${fromAgent ? "Forwarding" : "Sending"} status update ${status.state} for task ` +
        `${status.task_id.value} of framework ${framework.id}${text}`,
      SITE_FORWARD,
    );
    this.sendEvent(framework, updateEvent(update, fromAgent));
  }

  // ---------------------------------------------------------------------------
  // Scheduler API (the HTTP edge validated the call and its stream id).

  subscribe(stream: SchedulerStream, call: scheduler.Call_Subscribe): void {
    subscribe(this, stream, call);
  }

  schedulerStreamClosed(stream: SchedulerStream): void {
    schedulerStreamClosed(this, stream);
  }

  teardown(framework: FrameworkRecord): void {
    this.logger.info(`Processing TEARDOWN call for framework ${framework.id}`);
    removeFramework(this, framework);
  }

  accept(framework: FrameworkRecord, call: scheduler.Call_Accept): void {
    accept(this, framework, call);
  }

  decline(framework: FrameworkRecord, call: scheduler.Call_Decline): void {
    decline(this, framework, call);
  }

  revive(framework: FrameworkRecord, call: scheduler.Call_Revive): void {
    revive(this, framework, call.roles ?? []);
  }

  suppress(framework: FrameworkRecord, call: scheduler.Call_Suppress): void {
    suppress(this, framework, call.roles ?? []);
  }

  kill(framework: FrameworkRecord, call: scheduler.Call_Kill): void {
    kill(this, framework, call);
  }

  shutdown(framework: FrameworkRecord, call: scheduler.Call_Shutdown): void {
    shutdownExecutor(this, framework, call);
  }

  acknowledge(framework: FrameworkRecord, call: scheduler.Call_Acknowledge): void {
    acknowledge(this, framework, call);
  }

  reconcile(framework: FrameworkRecord, call: scheduler.Call_Reconcile): void {
    reconcileTasks(this, framework, call.tasks ?? []);
  }

  message(framework: FrameworkRecord, call: scheduler.Call_Message): void {
    frameworkMessage(this, framework, call);
  }

  request(framework: FrameworkRecord, call: scheduler.Call_Request): void {
    this.allocator.requestResources(framework.id, call.requests ?? []);
  }

  updateFramework(framework: FrameworkRecord, call: scheduler.Call_UpdateFramework): CallResult {
    return updateFrameworkCall(this, framework, call);
  }

  // ---------------------------------------------------------------------------
  // Agent messages.

  registerAgent(from: string, message: RegisterSlaveMessage): void {
    registerAgent(this, from, message);
  }

  reregisterAgent(from: string, message: ReregisterSlaveMessage): void {
    reregisterAgent(this, from, message);
  }

  unregisterAgent(from: string, message: UnregisterSlaveMessage): void {
    unregisterAgent(this, from, message.slave_id.value);
  }

  pong(from: string): void {
    agentPong(this, from);
  }

  statusUpdate(message: StatusUpdateMessage): void {
    statusUpdate(this, message);
  }

  exitedExecutor(from: string, message: ExitedExecutorMessage): void {
    exitedExecutor(this, from, message);
  }

  executorToFramework(from: string, message: ExecutorToFrameworkMessage): void {
    executorToFramework(this, from, message);
  }

  /** The connection to an agent broke (from the transport's exited notification). */
  agentExited(pid: string): void {
    agentExited(this, pid);
  }

  // ---------------------------------------------------------------------------
  // Allocator.

  /** Offers decided by the allocator (the driver calls this after each slice). */
  offer(allocations: readonly OfferAllocation[]): void {
    makeOffers(this, allocations);
  }

  /** Cancels every timer and closes every scheduler stream (shutdown). */
  stop(): void {
    this.stopped = true;
    for (const framework of this.frameworks.values()) {
      stopFrameworkTimers(this, framework);
      const stream = framework.stream;
      framework.stream = undefined;
      stream?.close();
    }
    for (const agent of this.agents.values()) stopAgentTimers(this, agent);
    if (this.recoveryTimer !== undefined) this.clock.cancelTimer(this.recoveryTimer);
    if (this.registryGcTimer !== undefined) this.clock.cancelTimer(this.registryGcTimer);
    this.recoveryTimer = undefined;
    this.registryGcTimer = undefined;
    this.removalLimiter?.stop();
    for (const offer of this.offers.values()) {
      if (offer.timer !== undefined) this.clock.cancelTimer(offer.timer);
    }
  }
}

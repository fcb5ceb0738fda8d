/**
 * What the master remembers about frameworks, agents, offers and tasks.
 * Plain records with small helpers; the state transitions that change them
 * live in the concern modules beside this file (frameworks.ts, agents.ts,
 * offers.ts, tasks.ts, accept.ts).
 */
import type { SlaveInfo } from "../../common/protocol/generated/mesos-internal.js";
import type {
  AgentInfo_Capability,
  ExecutorInfo,
  FrameworkInfo,
  Offer,
  Operation,
  Resource,
  Task,
} from "../../common/protocol/generated/mesos-v1.js";
import type { OfferConstraints } from "../../common/protocol/generated/mesos-v1-scheduler.js";
import { isTerminalState } from "../../common/protocol/task-states.js";
import { type Resource as CoreResource, Resources } from "../../common/resources/index.js";
import type { TimerHandle } from "../../common/time/clock.js";
import type { SchedulerStream } from "./io.js";

/** How a framework is attached to this master (Mesos' Framework::State). */
export type FrameworkConnection = "connected" | "disconnected" | "recovered";

/** A framework known to the master (registered, or completed and kept for the endpoints). */
export class FrameworkRecord {
  info: FrameworkInfo;
  connection: FrameworkConnection;
  /** Offers are made only to active frameworks. */
  active = false;
  stream: SchedulerStream | undefined;
  heartbeatTimer: TimerHandle | undefined;
  failoverTimer: TimerHandle | undefined;
  registeredTime: number;
  reregisteredTime: number;
  unregisteredTime: number | undefined;
  suppressedRoles = new Set<string>();
  offerConstraints: OfferConstraints = {};
  readonly offers = new Map<string, OfferRecord>();
  /** Tasks not yet terminal-and-acknowledged, by task id. */
  readonly tasks = new Map<string, Task>();
  /** Tasks on unreachable agents, by task id (bounded). */
  readonly unreachableTasks = new Map<string, Task>();
  /** Finished tasks, oldest first (bounded). */
  readonly completedTasks: Task[] = [];
  /** Custom and default executors by agent id, then executor id. */
  readonly executors = new Map<string, Map<string, ExecutorInfo>>();

  constructor(
    readonly id: string,
    info: FrameworkInfo,
    connection: FrameworkConnection,
    now: number,
  ) {
    this.info = info;
    this.connection = connection;
    this.registeredTime = now;
    this.reregisteredTime = now;
  }

  /** True while a scheduler is subscribed. */
  get connected(): boolean {
    return this.connection === "connected";
  }

  hasCapability(type: string): boolean {
    return (this.info.capabilities ?? []).some((c) => c.type === type);
  }

  get partitionAware(): boolean {
    return this.hasCapability("PARTITION_AWARE");
  }

  get multiRole(): boolean {
    return this.hasCapability("MULTI_ROLE");
  }

  /** The roles the framework subscribes to (`roles` for MULTI_ROLE, else `role`, default `*`). */
  roles(): string[] {
    return frameworkRoles(this.info);
  }

  hasExecutor(agentId: string, executorId: string): boolean {
    return this.executors.get(agentId)?.has(executorId) ?? false;
  }

  /** Resources of its non-terminal tasks and executors. */
  usedResources(): Resources {
    const out = Resources.empty();
    for (const task of this.tasks.values()) {
      if (!isTerminalState(task.state) && task.state !== "TASK_UNREACHABLE") {
        out.add(resourcesOf(task.resources));
      }
    }
    for (const byId of this.executors.values()) {
      for (const executor of byId.values()) out.add(resourcesOf(executor.resources));
    }
    return out;
  }

  /** Resources in its outstanding offers. */
  offeredResources(): Resources {
    const out = Resources.empty();
    for (const offer of this.offers.values()) out.add(offer.resources);
    return out;
  }
}

/** The roles of a FrameworkInfo, applying the `role` default of `*`. */
export function frameworkRoles(info: FrameworkInfo): string[] {
  const multiRole = (info.capabilities ?? []).some((c) => c.type === "MULTI_ROLE");
  return multiRole ? [...(info.roles ?? [])] : [info.role ?? "*"];
}

/** An agent registered with the master. */
export class AgentRecord {
  info: SlaveInfo;
  pid: string;
  version: string;
  capabilities: AgentInfo_Capability[];
  registeredTime: number;
  reregisteredTime: number | undefined;
  /** False between a broken connection and re-registration. */
  connected = true;
  /** Offers are made only from active agents. */
  active = true;
  totalResources: Resources;
  /** Tasks by framework id, then task id. */
  readonly tasks = new Map<string, Map<string, Task>>();
  /** Executors by framework id, then executor id. */
  readonly executors = new Map<string, Map<string, ExecutorInfo>>();
  readonly offers = new Set<OfferRecord>();
  /** `<framework id>/<task id>` of tasks the master asked to kill. */
  readonly killedTasks = new Set<string>();
  /** Health checking: consecutive unanswered pings and the pending timer. */
  missedPings = 0;
  awaitingPong = false;
  pingTimer: TimerHandle | undefined;
  /** A removal waits for a `--agent_removal_rate_limit` permit (cancelled by a pong). */
  removalScheduled = false;
  /** Bumped per scheduled removal, so a stale permit does not remove the agent. */
  removalGeneration = 0;
  reregistrationTimer: TimerHandle | undefined;
  /**
   * The `resource_version_uuid` of the agent's last (re)registration or
   * UpdateSlaveMessage. Only agents that send one are sent
   * ApplyOperationMessages and have their operations tracked.
   */
  resourceVersion: Uint8Array | undefined;
  /**
   * Operations applied on this agent that are pending, or terminal and not
   * yet acknowledged, by operation uuid (hex). A framework's operations are
   * the ones here whose `framework_id` is its id (see operation-tracking.ts).
   */
  readonly operations = new Map<string, Operation>();

  constructor(
    readonly id: string,
    info: SlaveInfo,
    pid: string,
    version: string,
    capabilities: AgentInfo_Capability[],
    now: number,
  ) {
    this.info = info;
    this.pid = pid;
    this.version = version;
    this.capabilities = capabilities;
    this.registeredTime = now;
    this.totalResources = resourcesOf(info.resources);
  }

  hasCapability(type: string): boolean {
    return this.capabilities.some((c) => c.type === type);
  }

  getTask(frameworkId: string, taskId: string): Task | undefined {
    return this.tasks.get(frameworkId)?.get(taskId);
  }

  hasExecutor(frameworkId: string, executorId: string): boolean {
    return this.executors.get(frameworkId)?.has(executorId) ?? false;
  }

  /** Resources of its non-terminal tasks and its executors. */
  usedResources(): Resources {
    const out = Resources.empty();
    for (const byId of this.tasks.values()) {
      for (const task of byId.values()) {
        if (!isTerminalState(task.state)) out.add(resourcesOf(task.resources));
      }
    }
    for (const byId of this.executors.values()) {
      for (const executor of byId.values()) out.add(resourcesOf(executor.resources));
    }
    return out;
  }

  offeredResources(): Resources {
    const out = Resources.empty();
    for (const offer of this.offers) out.add(offer.resources);
    return out;
  }

  /** The agent's address from its pid (`slave(1)@ip:port`). */
  address(): { ip: string; port: number; id: string } {
    const at = this.pid.indexOf("@");
    const rest = this.pid.slice(at + 1);
    const colon = rest.lastIndexOf(":");
    return {
      id: this.pid.slice(0, at),
      ip: rest.slice(0, colon).replace(/^\[|\]$/g, ""),
      port: Number(rest.slice(colon + 1)),
    };
  }
}

/** An outstanding offer. */
export interface OfferRecord {
  readonly offer: Offer;
  readonly id: string;
  readonly frameworkId: string;
  readonly agentId: string;
  readonly role: string;
  readonly resources: Resources;
  timer: TimerHandle | undefined;
}

/** A wire resource list as a Resources collection (the two Resource types differ only nominally). */
export function resourcesOf(list: readonly Resource[] | undefined): Resources {
  return Resources.from((list ?? []) as CoreResource[]);
}

/**
 * What the agent core talks to (its ports) and how it is configured: the
 * message transport, the containerizer, the settings from flags.
 */
import type { Duration } from "../common/flags/duration.js";
import type { Logger } from "../common/observability/logger.js";
import type { MessageTypeMap, MessageTypeName } from "../common/protocol/generated/index.js";
import type { SlaveInfo } from "../common/protocol/generated/mesos-internal.js";
import type {
  AgentInfo_Capability,
  ContainerInfo,
  ExecutorInfo,
  NetworkInfo,
  Resource,
  TaskInfo,
  TaskStatus_Reason,
} from "../common/protocol/generated/mesos-v1.js";
import type { Resources } from "../common/resources/index.js";
import type { Clock } from "../common/time/clock.js";
import type { RandomSource } from "../common/time/random.js";
import type { AgentCheckpointer } from "./checkpoint/checkpointer.js";
import type { Executor } from "./executor.js";

/** Mesos' DEFAULT_EXECUTOR_HEARTBEAT_INTERVAL. */
export const EXECUTOR_HEARTBEAT_INTERVAL_MS = 30 * 60_000;
/** Mesos' MAX_COMPLETED_FRAMEWORKS. */
export const MAX_COMPLETED_FRAMEWORKS = 50;

/** Sends internal messages; encoding happens at the edge. */
export interface AgentTransport {
  send<K extends MessageTypeName>(to: string, type: K, message: MessageTypeMap[K]): void;
  /** Watch the connection to `to`; the agent's `exited(to)` runs when it breaks. */
  link(to: string): void;
}

/** Everything needed to start an executor's container. */
export interface ContainerLaunch {
  containerId: string;
  agentId: string;
  frameworkId: string;
  executorId: string;
  /** Sandbox on the host (to create). */
  directory: string;
  executor: ExecutorInfo;
  /** True for the built-in command executor. */
  commandExecutor: boolean;
  /** The task a command executor is started for (its image and command matter to the launch). */
  commandTask?: TaskInfo;
  /** The executor process' complete environment. */
  environment: Record<string, string>;
  /** Run as this user (only when switching users); undefined: the agent's user. */
  user: string | undefined;
  checkpoint: boolean;
}

/** How a container ended, as the containerizer saw it. */
export interface ContainerTermination {
  /** The executor's raw wait status (exit code << 8, or the signal number), if known. */
  status?: number;
  /** A readable account (e.g. `Command exited with status 1`). */
  message?: string;
  /**
   * An isolator stopped the container for going over a limit (memory, disk):
   * its tasks fail with this reason and message.
   */
  limitation?: { reason: TaskStatus_Reason; message: string; resources?: Resource[] };
}

/**
 * Runs executors. Every `launch` must be answered by exactly one
 * `containerLaunched` and then exactly one `containerTerminated` on the
 * agent, also when the launch fails (after `destroy`).
 */
export interface Containerizer {
  launch(launch: ContainerLaunch): void;
  /** Kills the container's processes; `containerTerminated` follows. */
  destroy(containerId: string): void;
  /** The container's resources changed (tasks added): isolators adjust its limits. */
  update?(containerId: string, resources: Resources): void;
  /**
   * Tasks holding persistent volumes (`resources`: theirs) were queued on
   * the container's executor, launched before: their volumes go to its user.
   */
  volumesAdded?(containerId: string, resources: readonly Resource[]): void;
}

/** The agent's settings (from flags and the listener). */
export interface AgentConfig {
  workDir: string;
  /** `slave(1)@ip:port` */
  selfPid: string;
  /** `ip:port` */
  endpoint: string;
  /** `--ip6` (or `--ip6_discovery_command`'s answer): reported with tasks on the host network. */
  advertisedIp6?: string | undefined;
  /** SlaveInfo without id (hostname, port, resources, attributes, checkpoint). */
  info: SlaveInfo;
  capabilities: readonly AgentInfo_Capability[];
  /** The Mesos version we report (1.12.0). */
  version: string;
  launcherDir: string;
  /** Absolute path of `mesos-executor`, or undefined when missing. */
  commandExecutorPath: string | undefined;
  /** Absolute path of `mesos-default-executor`, or undefined when missing. */
  defaultExecutorPath?: string | undefined;
  executorRegistrationTimeout: Duration;
  executorShutdownGracePeriod: Duration;
  recoveryTimeout: Duration;
  executorReregistrationTimeout: Duration;
  httpCommandExecutor: boolean;
  /** `--default_container_info`: the ContainerInfo of executors launched without one. */
  defaultContainerInfo?: ContainerInfo | undefined;
  executorEnvironmentVariables: Readonly<Record<string, string>> | undefined;
  /** Switch to the task's user (the flag, and the agent runs as root). */
  switchUser: boolean;
  registrationBackoffFactor: Duration;
  maxCompletedExecutorsPerFramework: number;
  agentEnv: Readonly<Record<string, string | undefined>>;
  /** Makes an executor's `MESOS_EXECUTOR_AUTHENTICATION_TOKEN` (with `--jwt_secret_key`). */
  executorToken?: (ids: { frameworkId: string; executorId: string; containerId: string }) => string;
  local?: boolean;
  executorHeartbeatIntervalMs?: number;
}

export interface AgentOptions {
  config: AgentConfig;
  clock: Clock;
  random: RandomSource;
  logger: Logger;
  transport: AgentTransport;
  containerizer: Containerizer;
  /** The networks of a container that has its own (network/cni), reported in its tasks' statuses. */
  containerNetworks?: (containerId: string) => NetworkInfo[] | undefined;
  /** Writes checkpoints of checkpointing frameworks (absent: nothing is checkpointed). */
  checkpointer?: AgentCheckpointer;
  /** The agent must exit with status 1 (e.g. the master gave it a wrong id). */
  onFatal?: (message: string) => void;
  /** The agent finished shutting down after a ShutdownMessage. */
  onTerminated?: () => void;
}

/** Counters shown in logs and metrics. */
export interface AgentCounters {
  validStatusUpdates: number;
  invalidStatusUpdates: number;
  validFrameworkMessages: number;
  invalidFrameworkMessages: number;
  containerLaunchErrors: number;
  executorsTerminated: number;
  /** Executors killed by a QoS correction. */
  executorsPreempted: number;
}

/** What the executor API needs to know before it accepts a call. */
export type ExecutorLookup =
  | { kind: "no-framework" }
  | { kind: "no-executor" }
  | { kind: "found"; state: Executor["state"]; containerId: string };

/**
 * The isolator interface of the Mesos containerizer. Each isolator named in
 * `--isolation` takes part in a container's life:
 *
 * - `prepare` runs before the executor starts and says what the launch must
 *   do for it (cgroups to join, namespaces, bind mounts, rlimits); the
 *   launch shim does all of that before it execs the executor, so the
 *   executor never runs unconstrained;
 * - `isolate` runs once the executor's pid is known;
 * - `update` follows the container's resources as tasks come and go;
 * - `usage` contributes to its ResourceStatistics;
 * - `cleanup` runs after every process of the container is gone;
 * - `recover` runs when the agent starts, with the containers it knows of.
 *
 * An isolator that sees a container go over a limit calls `limit` on its
 * context; the containerizer then destroys the container and the agent
 * fails its tasks with the limitation's reason.
 */
import type { Logger } from "../../../common/observability/logger.js";
import type {
  ExecutorInfo,
  NetworkInfo,
  Resource,
  ResourceStatistics,
  TaskStatus_Reason,
} from "../../../common/protocol/generated/mesos-v1.js";
import type { ValueRanges } from "../../../common/resources/index.js";
import type { SandboxPathSource } from "./volume-sandbox-path.js";

/** A persistent volume a container uses, with its disk quota (posix/disk). */
export interface ContainerVolume {
  /** `disk.volume.container_path`: relative to the sandbox. */
  containerPath: string;
  /** The volume's size (all its resources at that path). */
  limitMb: number;
  /** The volume resource, as a limitation names it. */
  resource: Resource;
}

/** The resources a container is given (scalars and its ports). */
export interface ContainerResources {
  cpus?: number | undefined;
  memMb?: number | undefined;
  /** The sandbox's disk: disk that is not a persistent volume. */
  diskMb?: number | undefined;
  /** Its persistent volumes (posix/disk measures each). */
  volumes?: readonly ContainerVolume[] | undefined;
  /** Its `ports` ranges (network/ports); undefined: none. */
  ports?: ValueRanges | undefined;
  /** Its cpus are revocable (oversubscribed): `--revocable_cpu_low_priority` applies. */
  revocableCpus?: boolean | undefined;
  /**
   * Its tasks' cpus limit (`TaskInfo.limits`, summed for the executor):
   * the CFS quota instead of `cpus`; Infinity: no quota at all.
   */
  cpuLimit?: number | undefined;
  /** Its tasks' mem limit in MB: the hard memory limit instead of `memMb`; Infinity: none. */
  memLimitMb?: number | undefined;
}

/** What an isolator knows about a container it prepares. */
export interface ContainerConfig {
  readonly containerId: string;
  /** The sandbox on the host. */
  readonly directory: string;
  /** A nested container's parent's sandbox (SANDBOX_PATH volumes of type PARENT). */
  readonly parentDirectory?: string | undefined;
  readonly executor: ExecutorInfo;
  /** The executor's user, when it runs as another user than the agent. */
  readonly user?: { uid: number; gid: number } | undefined;
  /** True for the built-in (Node) command executor. */
  readonly commandExecutor: boolean;
  /** The container's resources at launch (executor plus tasks known so far). */
  readonly resources: ContainerResources;
}

/** A bind mount made in the container's mount namespace. */
export interface BindMount {
  source: string;
  target: string;
  readOnly: boolean;
  /**
   * Set by isolators that prepare before the container's image exists
   * (volume/secret): `target` is then the volume's container_path, placed in
   * the image by the containerizer (images/image-launch.ts placeImageMounts).
   */
  inImage?: boolean;
  /**
   * A SANDBOX_PATH volume's source: the launch finds it again inside the
   * container's mount namespace and mounts what it opened, not the name
   * (sandbox-mount-main.ts); `source` is then for messages only.
   */
  sandboxPath?: SandboxPathSource;
  /** The sandbox `target` lies in: it is opened from there without following links. */
  targetSandbox?: string;
}

/** What the launch must do for one isolator (all fields optional). */
export interface LaunchPreparation {
  /** `cgroup.procs` files the process writes itself into before exec. */
  cgroupProcs?: string[];
  /** Run the executor in a new pid namespace (its own pid 1, fresh /proc). */
  pidNamespace?: boolean;
  /** Run the executor in a new mount namespace. */
  mountNamespace?: boolean;
  /**
   * `namespaces/pid`: a `/proc/<pid>/ns/pid_for_children` to join first (a
   * nested container that shares its parent's pid namespace).
   */
  pidNamespaceToEnter?: string;
  /** `network/cni`: a network namespace file to join (the container's, made by the isolator). */
  netNamespaceToEnter?: string;
  /** `network/cni`: a UTS namespace file to join (the container's hostname). */
  utsNamespaceToEnter?: string;
  /** Mount a fresh /proc in the new mount namespace (it then shows the pid namespace joined). */
  mountProc?: boolean;
  mounts?: BindMount[];
  /** `prlimit` options, e.g. `--nofile=1024:4096`. */
  rlimits?: string[];
  /**
   * A container image's root filesystem: /proc and /dev are mounted in it
   * and, unless `chroot` is false, the executor runs inside it.
   */
  rootfs?: string;
  /** False: the executor stays on the host and runs its task in `rootfs` itself. */
  chroot?: boolean;
  /** Variables set inside the image only (its Env, with `docker/runtime`). */
  rootfsEnv?: Record<string, string>;
  /** Where the executor starts inside the image (its WorkingDir); the sandbox mount otherwise. */
  rootfsWorkDir?: string;
  /** Arguments appended to the executor's command line. */
  executorArguments?: string[];
  /**
   * `namespaces/ipc`: "new" for an IPC namespace of its own, or the
   * `/proc/<pid>/ns/ipc` of the namespace to join (a nested container's parent).
   */
  ipcNamespace?: "new" | { enter: string };
  /**
   * What to mount at /dev/shm (in the image when there is one) in the new
   * mount namespace: a bind of a host directory, or an empty tmpfs.
   */
  shm?: { bind: string } | { tmpfs: true };
  /** `linux/capabilities`: the bounding set and, maybe, the effective set. */
  capabilities?: { bounding: readonly string[]; effective?: readonly string[] | undefined };
  /** `linux/nnp`: set no_new_privs before the exec. */
  noNewPrivs?: boolean;
  /**
   * Make the launch fail inside the container with this message on its
   * stderr and exit status 1 (as Mesos' launcher fails on a bad rlimit):
   * the executor then terminates before it starts.
   */
  launchFailure?: string;
  /**
   * Variables for the container's environment (`environment_secret`'s
   * resolved secrets): above the agent's, below the command's own values.
   */
  environment?: Record<string, string>;
  /**
   * Group ids the executor gets as its supplementary groups (it then has
   * these instead of none) when it runs as another user: the volume gids of
   * `--volume_gid_range`.
   */
  supplementaryGroups?: number[];
}

/** Why a container was stopped by an isolator. */
export interface ContainerLimitation {
  reason: TaskStatus_Reason;
  message: string;
  /** The resources that ran out (TaskStatus.limitation), e.g. `mem` at its peak use. */
  resources?: Resource[];
}

/** What isolators get from the containerizer. */
export interface IsolatorContext {
  readonly logger: Logger;
  /** Reports that a container went over a limit (it is then destroyed). */
  limit(containerId: string, limitation: ContainerLimitation): void;
}

/** One isolator; every method but `name` and `prepare` is optional in practice. */
export interface Isolator {
  readonly name: string;
  /**
   * True when it may stop a container over a limit: the executor must then
   * run in a process of its own, which dies with the container before it
   * can report its tasks' end itself (a shared executor host would outlive
   * the container and report a plain kill instead of the limitation).
   */
  readonly stopsContainers?: boolean;
  prepare(config: ContainerConfig): Promise<LaunchPreparation | undefined>;
  isolate(containerId: string, pid: number): Promise<void>;
  update(containerId: string, resources: ContainerResources): Promise<void>;
  usage(containerId: string): Promise<ResourceStatistics>;
  /** The networks of a container that has its own (`network/cni`), with its addresses. */
  networkInfos?(containerId: string): NetworkInfo[] | undefined;
  /** After the container's processes are gone: release what prepare took. */
  cleanup(containerId: string): Promise<void>;
  /** The agent restarted: `containers` are the ones still alive (id -> pid). */
  recover(containers: ReadonlyMap<string, number>): Promise<void>;
}

/** Default no-op implementations to extend. */
export abstract class BaseIsolator implements Isolator {
  abstract readonly name: string;
  async prepare(_config: ContainerConfig): Promise<LaunchPreparation | undefined> {
    return undefined;
  }
  async isolate(_containerId: string, _pid: number): Promise<void> {}
  async update(_containerId: string, _resources: ContainerResources): Promise<void> {}
  async usage(_containerId: string): Promise<ResourceStatistics> {
    return { timestamp: 0 };
  }
  async cleanup(_containerId: string): Promise<void> {}
  async recover(_containers: ReadonlyMap<string, number>): Promise<void> {}
}

/** Mesos' constants for turning resources into limits. */
export const CPU_SHARES_PER_CPU = 1024;
export const MIN_CPU_SHARES = 2;
/** v2 cpu.weight range. */
export const MIN_CPU_WEIGHT = 1;
export const MAX_CPU_WEIGHT = 10_000;
export const CPU_CFS_PERIOD_US = 100_000;
/** Mesos' smallest CFS quota (1 ms). */
export const MIN_CPU_CFS_QUOTA_US = 1_000;
export const MIN_MEMORY_BYTES = 32 * 1024 * 1024;
export const MB = 1024 * 1024;

/** An unreserved scalar resource, as a limitation names it (`mem`, `disk`). */
export function scalarResource(name: string, value: number): Resource {
  return { name, type: "SCALAR", scalar: { value } };
}

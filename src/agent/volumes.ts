/**
 * Persistent volumes in sandboxes: before a container starts, every
 * persistent volume among its executor's and tasks' resources is made
 * visible at `<sandbox>/<container_path>`, pointing at the volume's
 * directory `<work_dir>/volumes/roles/<role>/<id>`. The data stays there
 * when the container ends; the next task using the volume sees it.
 *
 * mesos-ts uses a symlink (Mesos bind-mounts with the filesystem/linux
 * isolator when root); the task sees the same files either way, but a
 * task that resolves the path sees the host directory.
 */
import {
  chownSync,
  closeSync,
  lstatSync,
  mkdirSync,
  openSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import type { Logger } from "../common/observability/logger.js";
import type { Resource } from "../common/protocol/generated/mesos-v1.js";
import type { Resource as CoreResource } from "../common/resources/index.js";
import type { Containerizer, ContainerLaunch } from "./agent-ports.js";
import { DIRECTORY_FLAGS } from "./containerizer/sandbox-no-follow.js";
import { volumePathOf } from "./resources-checkpoint.js";

function linkTarget(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Links `hostPath` at `rel` below `sandbox` (false: that link is there
 * already). The sandbox may be its task's user's, who may have made a
 * directory on the way a link: each is made (root's, 0755) and opened in
 * the one above without following a link, and the volume's link is read,
 * removed and made in the directory held open, so root touches nothing a
 * link there points at (`'<name>' is a symbolic link`).
 */
function linkInSandbox(sandbox: string, rel: string, hostPath: string): boolean {
  const names = rel.split(sep);
  const last = names.pop() as string;
  // The sandbox's parents are root's (it may not be made yet: the launch makes it too).
  mkdirSync(sandbox, { recursive: true, mode: 0o755 });
  let fd = openSync(sandbox, DIRECTORY_FLAGS);
  try {
    for (let at = 0; at < names.length; at++) {
      const entry = `/proc/self/fd/${fd}/${names[at]}`;
      try {
        mkdirSync(entry, { mode: 0o755 });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      let next: number;
      try {
        next = openSync(entry, DIRECTORY_FLAGS);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== "ELOOP" && code !== "ENOTDIR") throw e;
        const what = lstatSync(entry).isSymbolicLink() ? "a symbolic link" : "not a directory";
        throw new Error(`'${join(sandbox, ...names.slice(0, at + 1))}' is ${what}`);
      }
      closeSync(fd);
      fd = next;
    }
    const entry = `/proc/self/fd/${fd}/${last}`;
    if (linkTarget(entry) === hostPath) return false;
    mkdirSync(hostPath, { recursive: true, mode: 0o755 });
    rmSync(entry, { force: true });
    symlinkSync(hostPath, entry);
    return true;
  } finally {
    closeSync(fd);
  }
}

/** Links each persistent volume of `resources` into `sandbox`; returns the links made. */
export function linkVolumes(
  workDir: string,
  sandbox: string,
  resources: readonly Resource[],
  logger: Logger,
): string[] {
  const made: string[] = [];
  for (const r of resources) {
    const hostPath = volumePathOf(workDir, r as CoreResource);
    const containerPath = r.disk?.volume?.container_path;
    if (hostPath === undefined || containerPath === undefined) continue;
    const link = resolve(sandbox, containerPath);
    if (!link.startsWith(`${resolve(sandbox)}/`)) {
      logger.warn(`Not linking volume at '${containerPath}': outside the sandbox`);
      continue;
    }
    try {
      if (!linkInSandbox(resolve(sandbox), relative(resolve(sandbox), link), hostPath)) continue;
      made.push(link);
      logger.info(`Linked persistent volume ${hostPath} at ${link}`);
    } catch (e) {
      logger.error(
        `Failed to link persistent volume ${hostPath} at ${link}: ${(e as Error).message}`,
      );
    }
  }
  return made;
}

/**
 * The persistent volume directories of launched containers (agent-local
 * volumes only: `--volume_gid_range` leaves resource providers' alone),
 * asked for when a container is prepared, when its first tasks are known.
 */
export class LaunchedVolumes {
  private readonly byContainer = new Map<string, () => Resource[]>();

  constructor(private readonly workDir: string) {}

  track(containerId: string, resources: () => Resource[]): void {
    this.byContainer.set(containerId, resources);
  }

  pathsOf(containerId: string): string[] {
    const resources = this.byContainer.get(containerId)?.() ?? [];
    const out = new Set<string>();
    for (const r of resources) {
      if (r.provider_id !== undefined) continue;
      const path = volumePathOf(this.workDir, r as CoreResource);
      if (path !== undefined) out.add(path);
    }
    return [...out];
  }

  forget(containerId: string): void {
    this.byContainer.delete(containerId);
  }
}

/** Which executor's container: the agent finds its resources by these. */
export interface VolumeContainerIds {
  frameworkId: string;
  executorId: string;
  containerId: string;
}

export interface VolumeOwnershipOptions {
  workDir: string;
  logger: Logger;
  /**
   * `--volume_gid_range` is on: a non-root container then reaches the
   * agent's own volumes through their gid (volume-gid.ts), not by owning them.
   */
  gidManaged: boolean;
  /**
   * The resources the container holds now (its executor's and its queued
   * and launched tasks'), or undefined once its executor is gone.
   */
  resourcesOf: (ids: VolumeContainerIds) => Iterable<CoreResource> | undefined;
}

/**
 * Hands persistent volumes to the user a container runs as, as Mesos'
 * filesystem isolators do: when a top-level container starts, and when
 * tasks bring a volume its executor does not hold yet, each such volume is
 * given (`chown`, not recursive) to the owner of the container's sandbox,
 * whom the agent made the executor's user. Left alone are: every volume of
 * a container whose sandbox is root's; with `--volume_gid_range`, the
 * agent's own volumes (not a resource provider's); and a shared volume
 * another container holds (its users would lose it).
 *
 * What a container holds is read from the agent when needed (tasks that
 * bring volumes, a shared volume to check), not followed on every update.
 */
export class VolumeOwnership {
  /** Prepared (or recovered) containers, by container id. */
  private readonly containers = new Map<string, { ids: VolumeContainerIds; sandbox: string }>();
  /** Ended containers are forgotten when the map reaches this size. */
  private pruneAt = 64;

  constructor(private readonly o: VolumeOwnershipOptions) {}

  /**
   * The container is about to start (its sandbox exists and has its
   * owner). Throws, failing the launch, when a volume cannot be handed over.
   */
  prepare(ids: VolumeContainerIds, sandbox: string): void {
    if (this.containers.size >= this.pruneAt) {
      for (const [id, c] of this.containers) {
        if (this.o.resourcesOf(c.ids) === undefined) this.containers.delete(id);
      }
      this.pruneAt = Math.max(64, 2 * this.containers.size);
    }
    this.containers.set(ids.containerId, { ids, sandbox });
    this.handOver(ids.containerId, volumesIn(this.o.workDir, this.o.resourcesOf(ids) ?? []));
  }

  /**
   * A container of the previous agent run that is still alive: its volumes
   * are handed over again, as Mesos' isolators do when the recovered
   * executor's resources come back.
   */
  recover(ids: VolumeContainerIds, sandbox: string): void {
    if (this.containers.has(ids.containerId)) return;
    this.containers.set(ids.containerId, { ids, sandbox });
    this.tryHandOver(ids.containerId, volumesIn(this.o.workDir, this.o.resourcesOf(ids) ?? []));
  }

  /**
   * Tasks bringing `resources` were queued on the container's executor,
   * which was launched before: the volumes it did not hold yet are handed over.
   */
  added(containerId: string, resources: readonly Resource[]): void {
    const container = this.containers.get(containerId);
    if (container === undefined) return;
    const brought = volumesIn(this.o.workDir, resources as CoreResource[]);
    if (brought.size === 0) return;
    // The executor's resources include the new tasks' now: a volume held
    // before appears more often than the new tasks bring it.
    const held = volumesIn(this.o.workDir, this.o.resourcesOf(container.ids) ?? []);
    const fresh = new Map(
      [...brought].filter(([path, v]) => (held.get(path)?.count ?? 0) <= v.count),
    );
    this.tryHandOver(containerId, fresh);
  }

  /** As handOver, a failure only logged: the container already runs. */
  private tryHandOver(containerId: string, volumes: Map<string, HeldVolume>): void {
    try {
      this.handOver(containerId, volumes);
    } catch (e) {
      this.o.logger.warn((e as Error).message);
    }
  }

  private handOver(containerId: string, volumes: Map<string, HeldVolume>): void {
    const container = this.containers.get(containerId);
    if (container === undefined || volumes.size === 0) return;
    let uid: number;
    let gid: number;
    try {
      ({ uid, gid } = statSync(container.sandbox));
    } catch (e) {
      throw new Error(
        `Failed to get ownership for '${container.sandbox}': ${(e as Error).message}`,
      );
    }
    // Root reaches every volume as it is.
    if (uid === 0) return;
    for (const [path, { resource }] of volumes) {
      if (this.o.gidManaged && resource.provider_id === undefined) continue;
      if (resource.shared !== undefined && this.heldByOthers(containerId, path)) {
        this.o.logger.info(
          `Leaving the ownership of the persistent volume at '${path}' unchanged because it is in use`,
        );
        continue;
      }
      this.o.logger.info(
        `Changing the ownership of the persistent volume at '${path}' with uid ${uid} and gid ${gid}`,
      );
      try {
        mkdirSync(path, { recursive: true, mode: 0o755 });
        chownSync(path, uid, gid);
      } catch (e) {
        throw new Error(
          `Failed to change the ownership of the persistent volume at '${path}' with uid ${uid} and gid ${gid}: ${(e as Error).message}`,
        );
      }
    }
  }

  /** True when another live container holds the volume at `path` now. */
  private heldByOthers(containerId: string, path: string): boolean {
    for (const [id, other] of this.containers) {
      if (id === containerId) continue;
      const resources = this.o.resourcesOf(other.ids);
      if (resources === undefined) {
        this.containers.delete(id);
        continue;
      }
      if (volumesIn(this.o.workDir, resources).has(path)) return true;
    }
    return false;
  }
}

/** A persistent volume among some resources, and how many times it is there. */
interface HeldVolume {
  resource: CoreResource;
  count: number;
}

/** The persistent volumes among `resources`, by directory. */
function volumesIn(workDir: string, resources: Iterable<CoreResource>): Map<string, HeldVolume> {
  const out = new Map<string, HeldVolume>();
  for (const r of resources) {
    const path = volumePathOf(workDir, r);
    if (path === undefined) continue;
    const seen = out.get(path);
    if (seen === undefined) out.set(path, { resource: r, count: 1 });
    else seen.count++;
  }
  return out;
}

/**
 * Wraps a containerizer so that the volumes of tasks sent to a running
 * executor go to its user before the tasks reach it (VolumeOwnership.added).
 */
export function withVolumeOwnership(
  inner: Containerizer,
  ownership: VolumeOwnership,
): Containerizer {
  return {
    ...inner,
    volumesAdded: (containerId, resources) => ownership.added(containerId, resources),
  };
}

/** The directories of the persistent volumes in `previous` that `resources` no longer has. */
export function destroyedVolumePaths(
  workDir: string,
  previous: readonly Resource[],
  resources: readonly Resource[],
): string[] {
  const paths = (list: readonly Resource[]) =>
    new Set(
      list.flatMap((r) =>
        r.disk?.persistence === undefined ? [] : [volumePathOf(workDir, r as CoreResource)],
      ),
    );
  const kept = paths(resources);
  return [...paths(previous)].filter((p): p is string => p !== undefined && !kept.has(p));
}

/**
 * Wraps a containerizer so that launches get their persistent volumes.
 * `resourcesOf` returns the resources of the launch's executor and of the
 * tasks it will run first; `tracked` (with `--volume_gid_range`) learns
 * how to find them.
 */
export function withPersistentVolumes(
  inner: Containerizer,
  workDir: string,
  resourcesOf: (launch: ContainerLaunch) => Resource[],
  logger: Logger,
  tracked?: LaunchedVolumes,
): Containerizer {
  const wrapped: Containerizer = {
    destroy: (containerId) => inner.destroy(containerId),
    launch: (launch) => {
      tracked?.track(launch.containerId, () => resourcesOf(launch));
      const link = (): void => {
        const resources = resourcesOf(launch);
        if (resources.some((r) => r.disk?.persistence !== undefined)) {
          linkVolumes(workDir, join(launch.directory), resources, logger);
        }
      };
      link();
      // Tasks for a custom or default executor are queued right after the
      // launch call returns, long before the executor can run them.
      queueMicrotask(link);
      inner.launch(launch);
    },
  };
  if (inner.update !== undefined) {
    const update = inner.update.bind(inner);
    wrapped.update = (containerId, resources) => update(containerId, resources);
  }
  return wrapped;
}

/** What the agent knows of a launch: the executor's queued tasks and groups. */
export interface LaunchTasks {
  queuedTasks: ReadonlyMap<string, { resources?: Resource[] }>;
  queuedTaskGroups: readonly { tasks?: { resources?: Resource[] }[] }[];
}

/** Resources of a launch's executor and of the tasks queued for it. */
export function launchResources(
  launch: ContainerLaunch,
  executor: LaunchTasks | undefined,
): Resource[] {
  const out: Resource[] = [
    ...(launch.executor.resources ?? []),
    ...(launch.commandTask?.resources ?? []),
  ];
  if (executor === undefined) return out;
  for (const task of executor.queuedTasks.values()) out.push(...(task.resources ?? []));
  for (const group of executor.queuedTaskGroups) {
    for (const task of group.tasks ?? []) out.push(...(task.resources ?? []));
  }
  return out;
}

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
import { chownSync, mkdirSync, readlinkSync, rmSync, statSync, symlinkSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Logger } from "../common/observability/logger.js";
import type { Resource } from "../common/protocol/generated/mesos-v1.js";
import type { Resource as CoreResource, Resources } from "../common/resources/index.js";
import type { Containerizer, ContainerLaunch } from "./agent-ports.js";
import { volumePathOf } from "./resources-checkpoint.js";

function linkTarget(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
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
    if (linkTarget(link) === hostPath) continue;
    try {
      mkdirSync(hostPath, { recursive: true, mode: 0o755 });
      mkdirSync(dirname(link), { recursive: true, mode: 0o755 });
      rmSync(link, { force: true });
      symlinkSync(hostPath, link);
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
 * its resources later gain a volume, each volume new to it is given
 * (`chown`, not recursive) to the owner of its sandbox, which the agent
 * made the executor's user. Left alone are: every volume of a container
 * whose sandbox is root's; with `--volume_gid_range`, the agent's own
 * volumes (not a resource provider's); and a shared volume another
 * container holds (its users would lose it).
 */
export class VolumeOwnership {
  /** Prepared containers: their sandbox and the volume paths they hold. */
  private readonly containers = new Map<
    string,
    { ids: VolumeContainerIds; sandbox: string; paths: Set<string> }
  >();
  /** Ended containers are forgotten when the map reaches this size. */
  private pruneAt = 64;

  constructor(private readonly o: VolumeOwnershipOptions) {}

  /**
   * The container is about to start (its sandbox exists and has its
   * owner). Throws, failing the launch, when a volume cannot be handed over.
   */
  prepare(ids: VolumeContainerIds, sandbox: string): void {
    if (this.containers.size >= this.pruneAt) {
      for (const [id, c] of this.containers) if (!this.alive(c.ids)) this.containers.delete(id);
      this.pruneAt = Math.max(64, 2 * this.containers.size);
    }
    this.containers.set(ids.containerId, { ids, sandbox, paths: new Set() });
    this.hold(ids.containerId, this.o.resourcesOf(ids) ?? []);
  }

  /**
   * A container of the previous agent run that is still alive: its volumes
   * are handed over again, as Mesos' isolators do when the recovered
   * executor's resources come back (here at once: its executor may have
   * subscribed already).
   */
  recover(ids: VolumeContainerIds, sandbox: string): void {
    if (this.containers.has(ids.containerId)) return;
    this.containers.set(ids.containerId, { ids, sandbox, paths: new Set() });
    try {
      this.hold(ids.containerId, this.o.resourcesOf(ids) ?? []);
    } catch (e) {
      this.o.logger.warn((e as Error).message);
    }
  }

  /** The container's resources changed (tasks added or ended). */
  update(containerId: string, resources: Resources): void {
    if (!this.containers.has(containerId)) return;
    try {
      this.hold(containerId, resources);
    } catch (e) {
      this.o.logger.warn((e as Error).message);
    }
  }

  private alive(ids: VolumeContainerIds): boolean {
    return this.o.resourcesOf(ids) !== undefined;
  }

  private hold(containerId: string, resources: Iterable<CoreResource>): void {
    const container = this.containers.get(containerId);
    if (container === undefined) return;
    const volumes = new Map<string, CoreResource>();
    for (const r of resources) {
      const path = volumePathOf(this.o.workDir, r);
      if (path !== undefined && !volumes.has(path)) volumes.set(path, r);
    }
    const added = [...volumes].filter(([path]) => !container.paths.has(path));
    container.paths = new Set(volumes.keys());
    if (added.length === 0) return;
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
    for (const [path, r] of added) {
      if (this.o.gidManaged && r.provider_id === undefined) continue;
      if (r.shared !== undefined && this.heldByOthers(containerId, path)) {
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

  /** True when another live container holds the volume at `path`. */
  private heldByOthers(containerId: string, path: string): boolean {
    for (const [id, other] of this.containers) {
      if (id !== containerId && other.paths.has(path) && this.alive(other.ids)) return true;
    }
    return false;
  }
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

/**
 * Wraps a containerizer so that a container's resource updates first hand
 * the volumes new to it to its user (VolumeOwnership.update).
 */
export function withVolumeOwnership(
  inner: Containerizer,
  ownership: VolumeOwnership,
): Containerizer {
  return {
    ...inner,
    update: (containerId, resources) => {
      ownership.update(containerId, resources);
      inner.update?.(containerId, resources);
    },
  };
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

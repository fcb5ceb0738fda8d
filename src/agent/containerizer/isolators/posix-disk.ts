/**
 * `posix/disk` (also `disk/du`): measures each sandbox, and each persistent
 * volume a container uses, with `du` every `--container_disk_watch_interval`
 * and, with `--enforce_container_disk_quota`, reports a container that uses
 * more than its quota (REASON_CONTAINER_LIMITATION_DISK), which then gets
 * destroyed. The sandbox's quota is its disk that is not a volume; a
 * volume's is its size, except on a MOUNT disk, whose filesystem enforces
 * it (as Mesos). `disk_statistics` lists the volumes and the sandbox.
 */
import { realpathSync } from "node:fs";
import { join } from "node:path";
import { Bytes } from "../../../common/flags/bytes.js";
import type {
  DiskStatistics,
  ResourceStatistics,
} from "../../../common/protocol/generated/mesos-v1.js";
import {
  BaseIsolator,
  type ContainerConfig,
  type ContainerResources,
  type ContainerVolume,
  type IsolatorContext,
  MB,
  scalarResource,
} from "./isolator.js";

/** Runs `du` (through the launcher helper, off the agent's event loop). */
export type DuRunner = (args: string[]) => Promise<{ code: number | null; output: string }>;

/** A persistent volume of a container, measured apart from the sandbox. */
interface MeasuredVolume {
  volume: ContainerVolume;
  usedBytes: number | undefined;
}

interface Sandbox {
  directory: string;
  limitBytes: number | undefined;
  usedBytes: number | undefined;
  /** By container path. */
  volumes: Map<string, MeasuredVolume>;
  reported: boolean;
  checking: boolean;
}

/** Parses the first number of `du -k -s` output (KiB) into bytes. */
export function parseDuOutput(output: string): number | undefined {
  for (const line of output.split("\n")) {
    const match = /^(\d+)\s/.exec(line);
    if (match?.[1] !== undefined) return Number(match[1]) * 1024;
  }
  return undefined;
}

export class PosixDiskIsolator extends BaseIsolator {
  readonly name = "posix/disk";
  private readonly sandboxes = new Map<string, Sandbox>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly context: IsolatorContext,
    private readonly options: { intervalMs: number; enforce: boolean; du: DuRunner },
  ) {
    super();
  }

  /** With `--enforce_container_disk_quota` it destroys containers over their quota. */
  get stopsContainers(): boolean {
    return this.options.enforce;
  }

  override async prepare(config: ContainerConfig): Promise<undefined> {
    this.sandboxes.set(config.containerId, {
      directory: config.directory,
      limitBytes: limitOf(config.resources),
      usedBytes: undefined,
      volumes: volumesOf(config.resources, new Map()),
      reported: false,
      checking: false,
    });
    this.timer ??= setInterval(() => this.checkAll(), this.options.intervalMs);
    this.timer.unref();
    return undefined;
  }

  override async isolate(containerId: string, _pid: number): Promise<void> {
    const s = this.sandboxes.get(containerId);
    if (s !== undefined) void this.check(containerId, s);
  }

  override async update(containerId: string, resources: ContainerResources): Promise<void> {
    const s = this.sandboxes.get(containerId);
    if (s !== undefined) {
      s.limitBytes = limitOf(resources);
      s.volumes = volumesOf(resources, s.volumes);
    }
  }

  override async usage(containerId: string): Promise<ResourceStatistics> {
    const s = this.sandboxes.get(containerId);
    const stats: ResourceStatistics = { timestamp: 0 };
    if (s?.limitBytes !== undefined) stats.disk_limit_bytes = s.limitBytes;
    if (s?.usedBytes !== undefined) stats.disk_used_bytes = s.usedBytes;
    if (s === undefined) return stats;
    // As Mesos: one entry per volume, then the sandbox's when it has a quota.
    const disks: DiskStatistics[] = [];
    for (const { volume, usedBytes } of s.volumes.values()) {
      const disk = volume.resource.disk;
      disks.push({
        ...(disk?.source === undefined ? {} : { source: disk.source }),
        ...(disk?.persistence === undefined ? {} : { persistence: disk.persistence }),
        limit_bytes: Math.floor(volume.limitMb * MB),
        ...(usedBytes === undefined ? {} : { used_bytes: usedBytes }),
      });
    }
    if (s.limitBytes !== undefined) {
      disks.push({
        limit_bytes: s.limitBytes,
        ...(s.usedBytes === undefined ? {} : { used_bytes: s.usedBytes }),
      });
    }
    if (disks.length > 0) stats.disk_statistics = disks;
    return stats;
  }

  override async cleanup(containerId: string): Promise<void> {
    this.sandboxes.delete(containerId);
    if (this.sandboxes.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** `du -k -s -x` of a path, in bytes (undefined when it cannot tell). */
  private async measure(path: string): Promise<number | undefined> {
    const result = await this.options.du(["-k", "-s", "-x", path]);
    return parseDuOutput(result.output);
  }

  /** Reports the container's first exceeded quota (once). */
  private exceeded(
    containerId: string,
    s: Sandbox,
    used: number,
    limit: number,
    resources: ContainerVolume["resource"][],
  ): void {
    if (!this.options.enforce || s.reported || this.sandboxes.get(containerId) !== s) return;
    s.reported = true;
    this.context.limit(containerId, {
      reason: "REASON_CONTAINER_LIMITATION_DISK",
      message: `Disk usage (${formatBytes(used)}) exceeds quota (${formatBytes(limit)})`,
      resources,
    });
  }

  private checkAll(): void {
    for (const [id, s] of this.sandboxes) void this.check(id, s);
  }

  private async check(containerId: string, s: Sandbox): Promise<void> {
    if (s.checking) return;
    s.checking = true;
    try {
      // -x: stay on the sandbox's filesystem (volumes mounted into it do not
      // count); du does not follow the symlinks volumes are linked with.
      const used = await this.measure(s.directory);
      if (used !== undefined) {
        s.usedBytes = used;
        if (s.limitBytes !== undefined && used > s.limitBytes) {
          // As Mesos: the quota that was exceeded.
          this.exceeded(containerId, s, used, s.limitBytes, [
            scalarResource("disk", s.limitBytes / MB),
          ]);
        }
      }
      for (const measured of [...s.volumes.values()]) {
        const { volume } = measured;
        let path: string;
        try {
          path = realpathSync(join(s.directory, volume.containerPath));
        } catch {
          continue; // not linked yet
        }
        const usedByVolume = await this.measure(path);
        if (usedByVolume === undefined) continue;
        measured.usedBytes = usedByVolume;
        const limit = Math.floor(volume.limitMb * MB);
        // A MOUNT disk's own filesystem enforces its size.
        if (volume.resource.disk?.source?.type !== "MOUNT" && usedByVolume > limit) {
          this.exceeded(containerId, s, usedByVolume, limit, [volume.resource]);
        }
      }
    } catch (e) {
      this.context.logger.warn(
        `Failed to measure the disk use of container '${containerId}': ${(e as Error).message}`,
      );
    } finally {
      s.checking = false;
    }
  }
}

/** The volumes of `resources`, keeping what was measured of those already known. */
function volumesOf(
  resources: ContainerResources,
  known: ReadonlyMap<string, MeasuredVolume>,
): Map<string, MeasuredVolume> {
  const out = new Map<string, MeasuredVolume>();
  for (const volume of resources.volumes ?? []) {
    const usedBytes = known.get(volume.containerPath)?.usedBytes;
    out.set(volume.containerPath, { volume, usedBytes });
  }
  return out;
}

function limitOf(resources: ContainerResources): number | undefined {
  return resources.diskMb === undefined ? undefined : Math.floor(resources.diskMb * MB);
}

/** stout's rendering of a byte count, as Mesos' message has it: `10240KB`, `1MB`. */
function formatBytes(bytes: number): string {
  return Bytes.of(Math.max(0, Math.floor(bytes))).toString();
}

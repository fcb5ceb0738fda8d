/**
 * `posix/disk` (also `disk/du`): measures each sandbox with `du` every
 * `--container_disk_watch_interval` and, with
 * `--enforce_container_disk_quota`, reports a container that uses more
 * than its disk resource (REASON_CONTAINER_LIMITATION_DISK), which then
 * gets destroyed.
 */
import type { ResourceStatistics } from "../../../common/protocol/generated/mesos-v1.js";
import {
  BaseIsolator,
  type ContainerConfig,
  type ContainerResources,
  type IsolatorContext,
  MB,
  scalarResource,
} from "./isolator.js";

/** Runs `du` (through the launcher helper, off the agent's event loop). */
export type DuRunner = (args: string[]) => Promise<{ code: number | null; output: string }>;

interface Sandbox {
  directory: string;
  limitBytes: number | undefined;
  usedBytes: number | undefined;
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

  override async prepare(config: ContainerConfig): Promise<undefined> {
    this.sandboxes.set(config.containerId, {
      directory: config.directory,
      limitBytes: limitOf(config.resources),
      usedBytes: undefined,
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
    if (s !== undefined) s.limitBytes = limitOf(resources);
  }

  override async usage(containerId: string): Promise<ResourceStatistics> {
    const s = this.sandboxes.get(containerId);
    const stats: ResourceStatistics = { timestamp: 0 };
    if (s?.limitBytes !== undefined) stats.disk_limit_bytes = s.limitBytes;
    if (s?.usedBytes !== undefined) stats.disk_used_bytes = s.usedBytes;
    return stats;
  }

  override async cleanup(containerId: string): Promise<void> {
    this.sandboxes.delete(containerId);
    if (this.sandboxes.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private checkAll(): void {
    for (const [id, s] of this.sandboxes) void this.check(id, s);
  }

  private async check(containerId: string, s: Sandbox): Promise<void> {
    if (s.checking) return;
    s.checking = true;
    try {
      // -x: stay on the sandbox's filesystem (volumes mounted into it do not count).
      const result = await this.options.du(["-k", "-s", "-x", s.directory]);
      const used = parseDuOutput(result.output);
      if (used === undefined) return;
      s.usedBytes = used;
      if (
        this.options.enforce &&
        !s.reported &&
        s.limitBytes !== undefined &&
        used > s.limitBytes &&
        this.sandboxes.get(containerId) === s
      ) {
        s.reported = true;
        this.context.limit(containerId, {
          reason: "REASON_CONTAINER_LIMITATION_DISK",
          message: `Disk usage (${formatMb(used)}) exceeds quota (${formatMb(s.limitBytes)})`,
          // As Mesos: the quota that was exceeded.
          resources: [scalarResource("disk", s.limitBytes / MB)],
        });
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

function limitOf(resources: ContainerResources): number | undefined {
  return resources.diskMb === undefined ? undefined : Math.floor(resources.diskMb * MB);
}

function formatMb(bytes: number): string {
  return `${(bytes / MB).toFixed(1)}MB`;
}

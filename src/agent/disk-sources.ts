/**
 * The disks an operator gives the agent in `--resources` with a `source`
 * (see docs/persistent-volumes.md), checked at start as Mesos' agent does,
 * so a typo in a root shows up at once rather than when a volume is made:
 *
 * - a PATH disk's root is created when missing;
 * - a MOUNT disk's root must exist and (on Linux) be a mount point listed in
 *   `/proc/mounts`, because the volume made on it takes the whole mount;
 * - BLOCK and RAW disks come only from resource providers, which the agent
 *   does not have.
 *
 * A relative root is taken relative to the work dir, where the agent puts
 * the volumes made on it (Mesos checks it relative to its current directory).
 */
import { mkdirSync, readFileSync, realpathSync } from "node:fs";
import { platform } from "node:os";
import { resolve } from "node:path";
import { formatResource, type Resources } from "../common/resources/index.js";

/** What the check needs from the host (injected by tests). */
export interface DiskSourceHost {
  /** The text of the mount table (`/proc/mounts`), or an error. */
  readMounts(): string;
  /** Whether mount points are checked against the mount table (Linux). */
  checksMountTable: boolean;
}

const systemHost: DiskSourceHost = {
  readMounts: () => readFileSync("/proc/mounts", "utf8"),
  checksMountTable: platform() === "linux",
};

/** Mount points of a `/proc/mounts` text (octal escapes such as `\040` decoded). */
export function mountPoints(table: string): Set<string> {
  const out = new Set<string>();
  for (const line of table.split("\n")) {
    const dir = line.split(" ")[1];
    if (dir === undefined) continue;
    out.add(
      dir.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))),
    );
  }
  return out;
}

/**
 * Checks (and for PATH disks prepares) every disk source of `resources`;
 * returns a one-line error in Mesos' words, or undefined.
 */
export function checkDiskSources(
  resources: Resources,
  workDir: string,
  host: DiskSourceHost = systemHost,
): string | undefined {
  let mounts: Set<string> | undefined;
  for (const r of resources.toArray()) {
    const source = r.disk?.source;
    if (source === undefined) continue;
    switch (source.type) {
      case "PATH": {
        const root = source.path?.root;
        if (root === undefined) {
          return `PATH disk root directory is not specified '${formatResource(r)}'`;
        }
        try {
          mkdirSync(resolve(workDir, root), { recursive: true });
        } catch (e) {
          return `Failed to create DiskInfo path directory '${root}': ${(e as Error).message}`;
        }
        break;
      }
      case "MOUNT": {
        const root = source.mount?.root;
        if (root === undefined) {
          return `MOUNT disk root directory is not specified '${formatResource(r)}'`;
        }
        let real: string;
        try {
          real = realpathSync(resolve(workDir, root));
        } catch {
          return `Failed to find mount point '${root}'`;
        }
        if (!host.checksMountTable) break;
        try {
          mounts ??= mountPoints(host.readMounts());
        } catch (e) {
          return `Failed to open mount table to verify mounts: ${(e as Error).message}`;
        }
        if (!mounts.has(real)) return `Failed to find mount '${real}' in /proc/mounts`;
        break;
      }
      default:
        return `Unsupported 'DiskInfo.Source.Type' in '${formatResource(r)}'`;
    }
  }
  return undefined;
}

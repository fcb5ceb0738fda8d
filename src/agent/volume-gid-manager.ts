/**
 * `--volume_gid_range`: group ids for volumes that non-root tasks share.
 *
 * A task running as a non-root user that uses a persistent volume (from the
 * agent's own disk, not a resource provider) or a SANDBOX_PATH volume of
 * type PARENT owned by another user gets the volume owned by a gid taken
 * from the range: every file and directory in it is given that group, the
 * directories get the setgid bit (files made later inherit the group) and
 * group write permission, and the task's process runs with the gid as a
 * supplementary group. The first container to use a volume allocates its
 * gid; later containers reuse it.
 *
 * A persistent volume keeps its gid until the volume is destroyed. A
 * PARENT SANDBOX_PATH volume keeps it until the container whose sandbox
 * holds it (the executor's) is destroyed; its group is then set back to
 * the primary group of its owner and the setgid bit and group write
 * permission are removed, as the sandbox may stay around for a while and
 * the gid may be handed to another volume.
 *
 * The allocations are checkpointed in `<work_dir>/meta/volume_gid_manager/
 * volume_gids` (Mesos' path; JSON here, where Mesos writes a protobuf) and
 * recovered when the agent restarts. After a reboot no container survives,
 * so SANDBOX_PATH allocations are released then; allocations of volumes
 * whose path is gone (a volume destroyed while the agent was down) too.
 */
import { constants, readFileSync } from "node:fs";
import { chown, type FileHandle, open, readdir, stat } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";
import type { Logger } from "../common/observability/logger.js";
import { parseResource } from "../common/resources/parse.js";
import {
  addRanges,
  type FlatRanges,
  flatFromValueRanges,
  rangesContain,
  rangesCount,
  subtractRanges,
} from "../common/resources/ranges.js";
import { writeFileAtomically } from "./checkpoint/writer.js";
import { O_PATH } from "./containerizer/o-path.js";
import { metaRoot } from "./paths.js";

/** What a gid was allocated for. */
export type VolumeGidType = "PERSISTENT" | "SANDBOX_PATH";

/** One allocation, as checkpointed. */
export interface VolumeGidInfo {
  type: VolumeGidType;
  /** The volume's source path on the host. */
  path: string;
  gid: number;
  /**
   * The directory below which no symbolic link of `path` is followed: a
   * SANDBOX_PATH volume's parent sandbox, whose entries its task controls
   * (absent: `path` itself; for SANDBOX_PATH ones checkpointed without it, `/`).
   */
  root?: string;
}

/** The largest gid a range may hold (gid_t is 32 bits; (gid_t)-1 means "no change" to chown). */
const MAX_GID = 0xfffffffe;

/** `<work_dir>/meta/volume_gid_manager/volume_gids`. */
export function volumeGidsPath(workDir: string): string {
  return join(metaRoot(workDir), "volume_gid_manager", "volume_gids");
}

/**
 * Parses `--volume_gid_range` (ranges in the resource syntax, e.g.
 * `[10000-20000]` or `[10000-10999,20000-20999]`) into flat ranges, or says
 * why it cannot be used.
 */
export function parseVolumeGidRange(
  text: string,
): { ok: true; value: FlatRanges } | { ok: false; error: string } {
  const parsed = parseResource("gids", text, "*");
  if (!parsed.ok) return { ok: false, error: `Failed to parse volume gid range '${text}'` };
  const resource = parsed.value;
  if (resource.type !== "RANGES" || resource.ranges === undefined) {
    return {
      ok: false,
      error: `Invalid volume gid range type ${resource.type}, expecting RANGES`,
    };
  }
  for (const r of resource.ranges.range) {
    if (r.begin > r.end) {
      return {
        ok: false,
        error: `Invalid volume gid range '${text}': range ${r.begin}-${r.end} begins after it ends`,
      };
    }
    if (r.end > MAX_GID) {
      return {
        ok: false,
        error: `Invalid volume gid range '${text}': ${r.end} is larger than the largest gid ${MAX_GID}`,
      };
    }
  }
  const flat = flatFromValueRanges(resource.ranges);
  if (rangesCount(flat) === 0) return { ok: false, error: "Empty volume gid range" };
  return { ok: true, value: flat };
}

const single = (gid: number): FlatRanges => [gid, gid];

const { O_DIRECTORY, O_NOFOLLOW, O_RDONLY } = constants;

/** `/proc/self/fd/<fd>`: the file the handle holds, whatever its path has become since. */
const fdPath = (h: FileHandle): string => `/proc/self/fd/${h.fd}`;

/**
 * Opens `path` (an O_PATH handle) without following a symbolic link below
 * `root`: `root` is the agent's (links in it are followed), each component
 * after it is taken from the directory already opened, so a task that
 * swaps one of its directories for a link (to /etc, say) while the agent
 * works gets ELOOP/ENOTDIR instead of the agent in /etc.
 */
async function openBeneath(root: string, path: string): Promise<FileHandle> {
  const rel = relative(root, path);
  if (rel.startsWith("..") || isAbsolute(rel)) throw new Error(`'${path}' is not in '${root}'`);
  let h = await open(root, O_PATH);
  for (const name of rel === "" ? [] : rel.split(sep)) {
    try {
      const next = await open(`${fdPath(h)}/${name}`, O_PATH | O_NOFOLLOW);
      await h.close();
      h = next;
    } catch (e) {
      await h.close();
      throw e;
    }
  }
  return h;
}

/**
 * Sets the group of the file `h` holds and of everything under it to
 * `gid`; directories get the setgid bit and group write permission
 * (`grant`) or lose both (not `grant`). Nothing is reached by a path: each
 * entry is opened in its directory's handle without following it, so a
 * link (or a directory swapped for one meanwhile) is never followed.
 * Symbolic links, and files with more than one hard link (one may be of a
 * file outside the volume, e.g. /etc/shadow), keep their group.
 */
async function setVolumeGroup(h: FileHandle, gid: number, grant: boolean): Promise<void> {
  const s = await h.stat();
  if (s.isSymbolicLink()) return;
  if (!s.isDirectory()) {
    if (s.nlink > 1) return;
    // An O_PATH handle takes no fchown: chown through /proc follows to the very file.
    await chown(fdPath(h), -1, gid);
    return;
  }
  const dir = await open(fdPath(h), O_RDONLY | O_DIRECTORY);
  try {
    await dir.chown(-1, gid);
    // chown clears the setgid bit of some file systems' directories: set the mode after it.
    const mode = (await dir.stat()).mode & 0o7777;
    await dir.chmod(grant ? mode | 0o2000 | 0o020 : mode & ~0o2000 & ~0o020);
    for (const name of await readdir(fdPath(dir))) {
      let entry: FileHandle;
      try {
        entry = await open(`${fdPath(dir)}/${name}`, O_PATH | O_NOFOLLOW);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") continue; // Removed meanwhile.
        throw e;
      }
      try {
        await setVolumeGroup(entry, gid, grant);
      } finally {
        await entry.close();
      }
    }
  } finally {
    await dir.close();
  }
}

/** True when `path` is `prefix` or lies beneath it. */
function isUnder(path: string, prefix: string): boolean {
  const base = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  return path === base || path.startsWith(`${base}/`);
}

export interface VolumeGidManagerOptions {
  workDir: string;
  /** The configured range, from {@link parseVolumeGidRange}. */
  range: FlatRanges;
  logger: Logger;
  /** The primary gid of the user with `uid` (undefined: unknown user). */
  primaryGidOf: (uid: number) => Promise<number | undefined>;
}

/** Allocates, checkpoints and releases volume gids (one per agent). */
export class VolumeGidManager {
  private free: FlatRanges;
  /** Allocations by volume path. */
  private readonly infos = new Map<string, VolumeGidInfo>();
  /** Ownership being set, by volume path: later users of the volume wait for it. */
  private readonly setting = new Map<string, Promise<number>>();
  /** Serialises checkpoint writes, so the last state written is the latest. */
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly o: VolumeGidManagerOptions) {
    this.free = o.range;
    o.logger.info(
      `Allocating ${rangesCount(o.range)} volume gids from the range ${rangeText(o.range)}`,
    );
  }

  /** `volume_gid_manager/volume_gids_total`. */
  get total(): number {
    return rangesCount(this.o.range);
  }

  /** `volume_gid_manager/volume_gids_free`. */
  get freeCount(): number {
    return rangesCount(this.free);
  }

  /** The allocations (for tests and diagnostics). */
  allocations(): VolumeGidInfo[] {
    return [...this.infos.values()];
  }

  /**
   * Reads the checkpointed allocations. `rebooted`: the host restarted since
   * they were written, so no container that used a SANDBOX_PATH volume lives.
   */
  async recover(rebooted: boolean): Promise<void> {
    const path = volumeGidsPath(this.o.workDir);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw new Error(`Failed to read volume gid infos from '${path}': ${(e as Error).message}`);
    }
    if (text.trim() === "") {
      // A crash between creating the file and syncing its content.
      this.o.logger.warn(`The volume gids file '${path}' is empty`);
      return;
    }
    let infos: VolumeGidInfo[];
    try {
      infos = parseInfos(JSON.parse(text));
    } catch (e) {
      throw new Error(`Failed to read volume gid infos from '${path}': ${(e as Error).message}`);
    }
    const orphans: string[] = [];
    for (const info of infos) {
      this.free = subtractRanges(this.free, single(info.gid));
      this.infos.set(info.path, info);
      if (rebooted && info.type === "SANDBOX_PATH") {
        this.o.logger.info(
          `Deallocating gid ${info.gid} of the PARENT SANDBOX_PATH volume '${info.path}' after a reboot`,
        );
        orphans.push(info.path);
        continue;
      }
      try {
        await stat(info.path);
      } catch {
        this.o.logger.warn(
          `Deallocating gid ${info.gid} of the missing volume path '${info.path}'`,
        );
        orphans.push(info.path);
      }
    }
    for (const orphan of orphans) await this.deallocate(orphan);
    this.o.logger.info(
      `Recovered ${this.infos.size} volume gid allocation(s); ${this.freeCount} of ${this.total} gids free`,
    );
  }

  /**
   * The gid of the volume at `path` (its source on the host), allocated and
   * set on the volume if it has none. Throws when the range is exhausted.
   */
  async allocate(path: string, type: VolumeGidType, root?: string): Promise<number> {
    const known = this.infos.get(path);
    if (known !== undefined) {
      return (await this.setting.get(path)) ?? known.gid;
    }
    const info: VolumeGidInfo = { type, path, gid: 0, ...(root === undefined ? {} : { root }) };
    let current: number;
    try {
      current = await this.onVolume(info, async (h) => (await h.stat()).gid);
    } catch (e) {
      throw new Error(`Failed to stat '${path}': ${(e as Error).message}`);
    }
    // A volume already owned by a gid of the range is another volume's
    // mount (a persistent volume a nested container gets through its
    // parent's sandbox): that allocation is used as it is.
    if (rangesContain(this.o.range, single(current))) {
      const again = this.infos.get(path);
      if (again !== undefined) return again.gid;
      this.o.logger.info(
        `Using gid ${current} of the volume path '${path}' (already in the range)`,
      );
      return current;
    }
    // Re-checked: another launch may have allocated while stat ran.
    const raced = this.infos.get(path);
    if (raced !== undefined) return (await this.setting.get(path)) ?? raced.gid;
    if (this.free.length === 0) {
      throw new Error(
        `Failed to allocate a gid to the volume path '${path}': the free gid range of --volume_gid_range is exhausted`,
      );
    }
    const gid = this.free[0] as number;
    this.free = subtractRanges(this.free, single(gid));
    info.gid = gid;
    this.infos.set(path, info);
    this.o.logger.info(`Allocating gid ${gid} to the volume path '${path}'`);
    const done = (async () => {
      await this.persist();
      try {
        await this.onVolume(info, (h) => setVolumeGroup(h, gid, true));
      } catch (e) {
        throw new Error(
          `Failed to set the owner group of the volume path '${path}' to ${gid}: ${(e as Error).message}`,
        );
      }
      return gid;
    })();
    this.setting.set(path, done);
    try {
      return await done;
    } finally {
      this.setting.delete(path);
    }
  }

  /**
   * Releases the gids of the volume at `path` and of the volumes beneath it
   * (a destroyed container's sandbox: its PARENT SANDBOX_PATH volumes).
   * What is left of the volume goes back to its owner's primary group: a
   * SANDBOX_PATH volume stays with its sandbox, a destroyed MOUNT disk
   * volume's emptied mount point stays for the next volume on that disk.
   */
  async deallocate(path: string): Promise<void> {
    const released: VolumeGidInfo[] = [];
    for (const info of this.infos.values()) {
      if (isUnder(info.path, path)) released.push(info);
    }
    if (released.length === 0) return;
    // A volume still being given its gid: restored after that, not before.
    await Promise.allSettled(released.map((info) => this.setting.get(info.path)));
    // Groups first: a gid freed while a directory still had it could be
    // handed to another volume and let its users into this one meanwhile.
    for (const info of released) {
      await this.restoreGroup(info).catch((e: unknown) =>
        this.o.logger.warn(
          `Failed to set the owner group of the volume path '${info.path}' back: ${(e as Error).message}`,
        ),
      );
    }
    for (const info of released) {
      if (this.infos.get(info.path) !== info) continue; // Released meanwhile.
      this.infos.delete(info.path);
      // A gid of an earlier range (the agent restarted with another) is not handed out again.
      if (rangesContain(this.o.range, single(info.gid))) {
        this.free = addRanges(this.free, single(info.gid));
      }
      this.o.logger.info(`Deallocated gid ${info.gid} of the volume path '${info.path}'`);
    }
    await this.persist();
  }

  /** Gives a released SANDBOX_PATH volume back to its owner's primary group. */
  private async restoreGroup(info: VolumeGidInfo): Promise<void> {
    let h: FileHandle;
    try {
      h = await openVolume(info);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return; // Gone with its sandbox.
      throw e;
    }
    try {
      const owner = (await h.stat()).uid;
      const gid = await this.o.primaryGidOf(owner);
      if (gid === undefined) throw new Error(`no user has the uid ${owner}`);
      await setVolumeGroup(h, gid, false);
    } finally {
      await h.close();
    }
  }

  /** Runs `fn` on the volume, opened without following links below its root. */
  private async onVolume<T>(info: VolumeGidInfo, fn: (h: FileHandle) => Promise<T>): Promise<T> {
    const h = await openVolume(info);
    try {
      return await fn(h);
    } finally {
      await h.close();
    }
  }

  private persist(): Promise<void> {
    const data = `${JSON.stringify({ infos: [...this.infos.values()] })}\n`;
    const write = this.writing.then(() =>
      writeFileAtomically(volumeGidsPath(this.o.workDir), data),
    );
    this.writing = write.catch(() => undefined);
    return write.catch((e: unknown) => {
      throw new Error(`Failed to save state of volume gid infos: ${(e as Error).message}`);
    });
  }
}

/** The volume of `info`, opened as {@link openBeneath} does. */
function openVolume(info: VolumeGidInfo): Promise<FileHandle> {
  const root = info.root ?? (info.type === "SANDBOX_PATH" ? "/" : info.path);
  return openBeneath(root, info.path);
}

function parseInfos(json: unknown): VolumeGidInfo[] {
  const list = (json as { infos?: unknown })?.infos ?? [];
  if (!Array.isArray(list)) throw new Error("'infos' is not a list");
  return list.map((x: unknown) => {
    const info = x as Partial<VolumeGidInfo>;
    if (
      typeof info.path !== "string" ||
      typeof info.gid !== "number" ||
      !Number.isInteger(info.gid) ||
      (info.type !== "PERSISTENT" && info.type !== "SANDBOX_PATH") ||
      (info.root !== undefined && typeof info.root !== "string")
    ) {
      throw new Error(`bad entry ${JSON.stringify(x)}`);
    }
    return {
      type: info.type,
      path: info.path,
      gid: info.gid,
      ...(info.root === undefined ? {} : { root: info.root }),
    };
  });
}

function rangeText(flat: FlatRanges): string {
  const parts: string[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) parts.push(`${flat[i]}-${flat[i + 1]}`);
  return `[${parts.join(",")}]`;
}

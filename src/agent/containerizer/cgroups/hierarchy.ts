/**
 * The cgroups the containerizer uses: which version the machine mounts
 * under `--cgroups_hierarchy` (v1: one mount per subsystem, possibly
 * combined like `cpu,cpuacct`; v2: one unified tree), where a container's
 * cgroup lives (`<hierarchy>/<subsystem>/<cgroups_root>/<container id>` on
 * v1, `<hierarchy>/<cgroups_root>/<container id>` on v2), and the file
 * operations on them: create, write, read, kill every member, remove.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** The controllers we use. */
export type Subsystem = "cpu" | "cpuacct" | "memory" | "pids" | "freezer" | "devices" | "blkio";

/** Which cgroups the machine has under the hierarchy. */
export class CgroupsHierarchy {
  private constructor(
    readonly version: 1 | 2,
    /** v1: subsystem -> mount point; v2: every controller -> the unified mount. */
    private readonly mounts: ReadonlyMap<string, string>,
    /** `--cgroups_root`, e.g. `mesos`. */
    readonly root: string,
  ) {}

  /**
   * Finds the cgroups mounted under `hierarchy` (from /proc/mounts). v1 wins
   * when both are there and v1 has the cpu or memory controller (hybrid
   * hosts mount the unified tree beside v1, usually without controllers).
   */
  static detect(
    hierarchy: string,
    root: string,
    mountsText?: string,
  ): CgroupsHierarchy | { error: string } {
    let text = mountsText;
    if (text === undefined) {
      try {
        text = readFileSync("/proc/mounts", "utf8");
      } catch (e) {
        return { error: `cannot read /proc/mounts: ${(e as Error).message}` };
      }
    }
    const base = hierarchy.replace(/\/+$/, "");
    const v1 = new Map<string, string>();
    let v2: string | undefined;
    for (const line of text.split("\n")) {
      const [, mountPoint, type, options] = line.split(" ");
      if (mountPoint === undefined || options === undefined) continue;
      if (mountPoint !== base && !mountPoint.startsWith(`${base}/`)) continue;
      if (type === "cgroup") {
        for (const option of options.split(",")) v1.set(option, mountPoint);
      } else if (type === "cgroup2" && (mountPoint === base || v2 === undefined)) {
        v2 = mountPoint;
      }
    }
    if (v1.has("cpu") || v1.has("memory")) return new CgroupsHierarchy(1, v1, root);
    if (v2 !== undefined) {
      let controllers: string[] = [];
      try {
        controllers = readFileSync(join(v2, "cgroup.controllers"), "utf8").trim().split(/\s+/);
      } catch {
        // No controllers file: not usable.
      }
      const mounts = new Map<string, string>();
      for (const c of controllers) mounts.set(c, v2);
      // cpu accounting and the freezer are built into v2.
      if (mounts.has("cpu")) mounts.set("cpuacct", v2);
      mounts.set("freezer", v2);
      if (controllers.includes("cpu") || controllers.includes("memory")) {
        return new CgroupsHierarchy(2, mounts, root);
      }
    }
    return { error: `no cgroup hierarchy with the cpu or memory controller under '${hierarchy}'` };
  }

  /** True when `subsystem` can be used. */
  has(subsystem: Subsystem): boolean {
    return this.mounts.has(subsystem);
  }

  /** The container's cgroup directory for `subsystem` (the same for all on v2). */
  path(subsystem: Subsystem, containerId: string): string {
    const mount = this.mounts.get(subsystem);
    if (mount === undefined) throw new Error(`the ${subsystem} cgroup controller is not mounted`);
    return join(mount, this.root, containerId);
  }

  /** The parent of every container cgroup for `subsystem`. */
  rootPath(subsystem: Subsystem): string {
    const mount = this.mounts.get(subsystem);
    if (mount === undefined) throw new Error(`the ${subsystem} cgroup controller is not mounted`);
    return join(mount, this.root);
  }

  /** Creates the container's cgroup for `subsystem`; returns its path. */
  async create(subsystem: Subsystem, containerId: string): Promise<string> {
    const path = this.path(subsystem, containerId);
    if (this.version === 2) await this.enableV2Controllers();
    await mkdir(path, { recursive: true });
    return path;
  }

  /** The container ids that have a cgroup for `subsystem` (for recovery). */
  async containers(subsystem: Subsystem): Promise<string[]> {
    try {
      const entries = await readdir(this.rootPath(subsystem), { withFileTypes: true });
      return entries.filter((e) => e.isDirectory()).map((e) => e.name);
    } catch {
      return [];
    }
  }

  private v2Enabled = false;

  /** v2: controllers must be enabled in every ancestor's subtree_control. */
  private async enableV2Controllers(): Promise<void> {
    if (this.v2Enabled) return;
    const mount = this.mounts.get("freezer") as string;
    const wanted = ["cpu", "memory", "pids"].filter((c) => this.mounts.has(c));
    const rootDir = join(mount, this.root);
    await mkdir(rootDir, { recursive: true });
    for (const dir of [mount, rootDir]) {
      const file = join(dir, "cgroup.subtree_control");
      // One write enables them all; the kernel refuses the whole write if one
      // cannot be enabled, so then each is tried alone.
      const all = await writeFile(file, wanted.map((c) => `+${c}`).join(" ")).then(
        () => true,
        () => false,
      );
      if (all) continue;
      for (const c of wanted) await writeFile(file, `+${c}`).catch(() => undefined);
    }
    this.v2Enabled = true;
  }
}

/** Reads a cgroup control file, trimmed. */
export async function readControl(cgroup: string, file: string): Promise<string> {
  return (await readFile(join(cgroup, file), "utf8")).trim();
}

/** Writes a cgroup control file. */
export async function writeControl(cgroup: string, file: string, value: string): Promise<void> {
  await writeFile(join(cgroup, file), value);
}

/** `key value` lines (memory.stat, cpu.stat, memory.oom_control) as numbers. */
export function parseFlatKeyed(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const [key, value] = line.trim().split(/\s+/);
    if (key === undefined || value === undefined) continue;
    const n = Number(value);
    if (Number.isFinite(n)) out.set(key, n);
  }
  return out;
}

/** Cgroup directories below `cgroup` (nested containers' cgroups), deepest first. */
export async function descendantCgroups(cgroup: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const child = join(dir, e.name);
      await walk(child);
      out.push(child);
    }
  };
  await walk(cgroup);
  return out;
}

/** The pids in a cgroup and every cgroup below it (nested containers). */
export async function subtreePids(cgroup: string): Promise<number[]> {
  const all = await cgroupPids(cgroup);
  for (const child of await descendantCgroups(cgroup)) all.push(...(await cgroupPids(child)));
  return all;
}

/** The pids in a cgroup (empty when it is gone). */
export async function cgroupPids(cgroup: string): Promise<number[]> {
  try {
    const text = await readFile(join(cgroup, "cgroup.procs"), "utf8");
    return text
      .split("\n")
      .filter((l) => l !== "")
      .map(Number);
  } catch {
    return [];
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Kills every process in `cgroup`: freezes it first when it can (so nothing
 * forks between reading the member list and signalling it), SIGKILLs all
 * members, thaws, and repeats until the cgroup is empty or `timeoutMs`
 * passes. Resolves with how many processes were signalled.
 */
export async function killCgroup(
  cgroup: string,
  version: 1 | 2,
  timeoutMs = 10_000,
): Promise<number> {
  if (!existsSync(cgroup)) return 0;
  if (version === 2 && existsSync(join(cgroup, "cgroup.kill"))) {
    const before = (await subtreePids(cgroup)).length;
    await writeControl(cgroup, "cgroup.kill", "1").catch(() => undefined);
    await waitEmpty(cgroup, timeoutMs);
    return before;
  }
  const freezeFile = version === 1 ? "freezer.state" : "cgroup.freeze";
  const canFreeze = existsSync(join(cgroup, freezeFile));
  const deadline = Date.now() + timeoutMs;
  let signalled = 0;
  for (let round = 0; Date.now() < deadline; round++) {
    // Freezing a cgroup freezes its descendants too; nested containers'
    // processes live in cgroups below this one and die with it.
    if (canFreeze) await freeze(cgroup, version, true);
    const pids = await subtreePids(cgroup);
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
        signalled++;
      } catch {
        // Already gone.
      }
    }
    if (canFreeze) await freeze(cgroup, version, false);
    if (pids.length === 0) return signalled;
    if (await waitEmpty(cgroup, Math.min(500, deadline - Date.now()))) return signalled;
    await sleep(Math.min(50, 5 * (round + 1)));
  }
  return signalled;
}

async function freeze(cgroup: string, version: 1 | 2, frozen: boolean): Promise<void> {
  const file = version === 1 ? "freezer.state" : "cgroup.freeze";
  const value = version === 1 ? (frozen ? "FROZEN" : "THAWED") : frozen ? "1" : "0";
  await writeControl(cgroup, file, value).catch(() => undefined);
  if (!frozen || version !== 1) return;
  // v1 freezing is asynchronous: wait (briefly) until it settles.
  for (let i = 0; i < 50; i++) {
    const state = await readControl(cgroup, "freezer.state").catch(() => "FROZEN");
    if (state === "FROZEN") return;
    await sleep(2);
  }
}

async function waitEmpty(cgroup: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + Math.max(0, timeoutMs);
  for (;;) {
    if ((await subtreePids(cgroup)).length === 0) return true;
    if (Date.now() >= deadline) return false;
    await sleep(10);
  }
}

/**
 * Removes a (killed) cgroup and the cgroups below it (nested containers),
 * deepest first; a few retries while the kernel lets go of exiting members.
 */
export async function removeCgroup(cgroup: string): Promise<void> {
  for (const child of await descendantCgroups(cgroup)) await removeOne(child);
  await removeOne(cgroup);
}

async function removeOne(cgroup: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rmdir(cgroup);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return;
      if (attempt >= 20) throw e;
      await sleep(25);
    }
  }
}

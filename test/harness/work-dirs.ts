import { readdirSync, readFileSync } from "node:fs";
import { tempDir } from "./processes.js";

/**
 * Work directories of one test file, and the processes left below them:
 * when a test fails before an agent recovered its containers, a session
 * shell still waiting to open its stdin pipe names that pipe (below a work
 * directory) on its command line, and would wait forever.
 */
export class WorkDirs {
  private readonly dirs: string[] = [];

  /** A new temporary work directory, remembered for `killLeft`. */
  make(prefix: string): string {
    const dir = tempDir(prefix);
    this.dirs.push(dir);
    return dir;
  }

  /** SIGKILLs every process whose command line names a path below one of the directories. */
  killLeft(): void {
    for (const name of readdirSync("/proc")) {
      if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
      try {
        const cmdline = readFileSync(`/proc/${name}/cmdline`, "utf8");
        if (this.dirs.some((d) => cmdline.includes(`${d}/`))) process.kill(Number(name), "SIGKILL");
      } catch {
        // Gone meanwhile, or not ours.
      }
    }
  }
}

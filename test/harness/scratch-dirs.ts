/**
 * Temporary directories of a unit test file, removed when it ends (no
 * daemons involved: processes.ts' tempDir is removed by stopAll instead).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export class ScratchDirs {
  private readonly dirs: string[] = [];

  /** A new directory in the system's temporary directory, named `prefix…`. */
  make(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  /** Removes every directory made (with what is in it). */
  removeAll(): void {
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
  }
}

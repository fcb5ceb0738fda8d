/**
 * The attacker of the sandbox attack tests: the real unprivileged user
 * nobody, doing what a task's executor could do in its sandbox while the
 * root agent works there.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** `test` options: these tests need root (to be an agent that switches users). */
export const needsRoot = {
  skip: process.getuid?.() === 0 ? false : "needs root (the attacker is nobody)",
};

/** nobody's uid (`-u`) or primary gid (`-g`). */
export function nobodyId(flag: "-u" | "-g"): number {
  return Number(execFileSync("id", [flag, "nobody"]).toString());
}

/** Runs `script` with sh as nobody (no supplementary groups), in `cwd` if given. */
export function asNobody(script: string, cwd?: string): void {
  execFileSync(
    "setpriv",
    ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "sh", "-c", script],
    cwd === undefined ? {} : { cwd },
  );
}

/** A new temporary directory nobody may pass through (0755), for a test's sandboxes. */
export function attackRoot(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/** A new directory `name` in `root` that nobody owns: a sandbox its task's user may change. */
export function nobodysDir(root: string, name: string): string {
  const dir = join(root, name);
  mkdirSync(dir);
  chownSync(dir, nobodyId("-u"), nobodyId("-g"));
  return dir;
}

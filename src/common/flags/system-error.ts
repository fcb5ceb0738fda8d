import { mkdirSync } from "node:fs";

/**
 * The reason part of a Node system error, worded as C's strerror (what
 * Mesos prints): "Not a directory" from "ENOTDIR: not a directory, mkdir '/x'".
 */
export function systemErrorReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const reason = /^E[A-Z]+: ([^,]+),/.exec(message)?.[1];
  return reason === undefined ? message : reason.charAt(0).toUpperCase() + reason.slice(1);
}

/**
 * Makes a daemon's directory (`--work_dir`) and its missing parents, one
 * component at a time as stout's `os::mkdir` does (mode 0755, "already
 * exists" is fine); throws the first other failure. Node's recursive mkdir
 * is not used: under /proc it never returns (it retries the parent forever).
 */
export function makeDirectories(dir: string): void {
  let path = dir.startsWith("/") ? "/" : "";
  for (const part of dir.split("/")) {
    if (part === "") continue;
    path += part;
    try {
      mkdirSync(path, 0o755);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    path += "/";
  }
}

import { mkdirSync } from "node:fs";

/**
 * Makes `dir` and its missing parents (mode 0755), one component at a time
 * as stout's `os::mkdir` does; "already exists" is fine, the first other
 * failure is thrown. Node's recursive mkdir is not used: under /proc it
 * never returns (it retries the parent forever).
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

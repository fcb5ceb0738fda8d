/**
 * Where mesos-ts is installed, for defaults that Mesos fixes at build time
 * (`--launcher_dir`, `--webui_dir`): we find them at run time, relative to
 * the package this file belongs to.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | undefined;

/** The mesos-ts package directory (holding `package.json`, `bin/`, `dist/`). */
export function packageRoot(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && isOurs(manifest)) break;
    const parent = dirname(dir);
    if (parent === dir) {
      // Not found (unusual layout): assume dist/src/common/flags/ under the package.
      dir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");
      break;
    }
    dir = parent;
  }
  cached = dir;
  return dir;
}

function isOurs(manifest: string): boolean {
  try {
    const parsed = JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown };
    return parsed.name === "mesos-ts";
  } catch {
    return false;
  }
}

/** Directory of the mesos-ts programs (`mesos-executor`, ...): the package's `bin/`. */
export function binDir(): string {
  return join(packageRoot(), "bin");
}

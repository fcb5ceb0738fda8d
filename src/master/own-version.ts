/** mesos-ts' own version (package.json), shown as `mesos_ts_version` beside the Mesos one. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../common/flags/install-paths.js";

let cached: string | undefined;

export function ownVersion(): string {
  if (cached !== undefined) return cached;
  try {
    const parsed = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as {
      version?: unknown;
    };
    cached = typeof parsed.version === "string" ? parsed.version : "unknown";
  } catch {
    cached = "unknown";
  }
  return cached;
}

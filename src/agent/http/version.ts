/**
 * The agent's `/version` document: the Mesos version we are compatible with
 * (clients switch features on it) and, separately, mesos-ts' own version.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../../common/flags/install-paths.js";
import { MESOS_COMPATIBLE_VERSION } from "../../common/flags/shared-flags.js";

let own: string | undefined;

/** mesos-ts' version from package.json. */
export function ownVersion(): string {
  if (own !== undefined) return own;
  try {
    const parsed = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as {
      version?: unknown;
    };
    own = typeof parsed.version === "string" ? parsed.version : "unknown";
  } catch {
    own = "unknown";
  }
  return own;
}

/** Build facts (we have no build stamp: empty, as Mesos prints for unknown ones). */
export const BUILD_INFO = { date: "", time: 0, user: "" } as const;

/** The body of `/version`. */
export function versionJson(): Record<string, unknown> {
  return {
    version: MESOS_COMPATIBLE_VERSION,
    build_date: BUILD_INFO.date,
    build_time: BUILD_INFO.time,
    build_user: BUILD_INFO.user,
    mesos_ts_version: ownVersion(),
  };
}

/**
 * The small endpoints every daemon serves the same way: `/health`,
 * `/version` and `/flags`. One implementation for the master and the agent.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../flags/install-paths.js";
import { MESOS_COMPATIBLE_VERSION } from "../flags/shared-flags.js";
import type { HttpRequest } from "./request.js";
import { type HttpResponse, ok } from "./response.js";
import { checkMethod, jsonResponse } from "./v1-api.js";

/** Build facts shown by `/version`, `/state` and GET_VERSION. */
export interface BuildInfo {
  /** The Mesos version whose protocols we follow ("1.12.0"). */
  readonly version: string;
  /** `YYYY-MM-DD hh:mm:ss` */
  readonly buildDate: string;
  /** Seconds since the epoch. */
  readonly buildTime: number;
  readonly buildUser: string;
}

/** Build facts for a daemon started at `startMs` (we have no build step stamping them). */
export function buildInfoAt(startMs: number): BuildInfo {
  return {
    version: MESOS_COMPATIBLE_VERSION,
    buildDate: new Date(startMs).toISOString().replace("T", " ").slice(0, 19),
    buildTime: Math.floor(startMs / 1000),
    buildUser: "mesos-ts",
  };
}

let cachedOwnVersion: string | undefined;

/** mesos-ts' own version (package.json), shown as `mesos_ts_version`. */
export function ownVersion(): string {
  if (cachedOwnVersion !== undefined) return cachedOwnVersion;
  try {
    const parsed = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as {
      version?: unknown;
    };
    cachedOwnVersion = typeof parsed.version === "string" ? parsed.version : "unknown";
  } catch {
    cachedOwnVersion = "unknown";
  }
  return cachedOwnVersion;
}

/** The `/version` document. */
export function versionJson(build: BuildInfo, own: string = ownVersion()): Record<string, unknown> {
  return {
    version: build.version,
    build_date: build.buildDate,
    build_time: build.buildTime,
    build_user: build.buildUser,
    mesos_ts_version: own,
  };
}

/** The v1 `VersionInfo` message (GET_VERSION). */
export function versionInfoMessage(build: BuildInfo): {
  version: string;
  build_date: string;
  build_time: number;
  build_user: string;
} {
  return {
    version: build.version,
    build_date: build.buildDate,
    build_time: build.buildTime,
    build_user: build.buildUser,
  };
}

/** `/version`: the Mesos version we follow, plus our own in `mesos_ts_version`. */
export function versionHandler(
  build: BuildInfo,
  own: string = ownVersion(),
): (request: HttpRequest) => HttpResponse {
  const body = JSON.stringify(versionJson(build, own));
  return (request) => checkMethod(request, ["GET"]) ?? jsonResponse(request, body);
}

/** `/health`: 200 with an empty body while the daemon answers at all. */
export function healthHandler(request: HttpRequest): HttpResponse {
  return checkMethod(request, ["GET"]) ?? ok();
}

/** `/flags`: `{"flags": {name: "value"}}`, every value as text. */
export function flagsHandler(
  flags: Readonly<Record<string, string>>,
): (request: HttpRequest) => HttpResponse {
  const body = JSON.stringify({ flags });
  return (request) => checkMethod(request, ["GET"]) ?? jsonResponse(request, body);
}

/** The v1 `get_flags` payload: `{flags: [{name, value}]}`. */
export function flagsMessage(flags: Readonly<Record<string, string>>): {
  flags: { name: string; value: string }[];
} {
  return { flags: Object.entries(flags).map(([name, value]) => ({ name, value })) };
}

/** Help texts of the common endpoints. */
export const COMMON_HELP = {
  health: "Health check: 200 OK with an empty body while the process serves.",
  version:
    "The Mesos version this daemon follows (version) and mesos-ts' own (mesos_ts_version).\n" +
    "Answers {version, build_date, build_time, build_user, mesos_ts_version}; ?jsonp=fn wraps it.",
  flags:
    'The flags this daemon runs with.\nAnswers {"flags": {name: value}} with every value as text.',
} as const;

/**
 * The small endpoints every daemon serves the same way: `/health`,
 * `/version` and `/flags`. One implementation for the master and the agent.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type BuildFacts, readBuildFacts } from "../build/build-info.js";
import { packageRoot } from "../flags/install-paths.js";
import { MESOS_COMPATIBLE_VERSION } from "../flags/shared-flags.js";
import type { HttpRequest } from "./request.js";
import { type BodyResponse, type HttpResponse, ok } from "./response.js";
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
  /** Commit the daemon was built from; absent when not built from a git clone. */
  readonly gitSha?: string | undefined;
  /** Branch ref ("refs/heads/main") at build time; absent when unknown. */
  readonly gitBranch?: string | undefined;
  /** Tag on the built commit; absent when it had none. */
  readonly gitTag?: string | undefined;
}

/**
 * Build facts for a daemon started at `startMs`: what `npm run build` recorded
 * (dist/build-info.json). Date, time and user fall back to the start time and
 * "mesos-ts" when no build recorded them (Mesos always shows these keys); the
 * git facts stay absent then, as Mesos leaves them out.
 */
export function buildInfoAt(startMs: number, facts: BuildFacts = readBuildFacts()): BuildInfo {
  return {
    version: MESOS_COMPATIBLE_VERSION,
    buildDate: facts.buildDate ?? new Date(startMs).toISOString().replace("T", " ").slice(0, 19),
    buildTime: facts.buildTime ?? Math.floor(startMs / 1000),
    buildUser: facts.buildUser ?? "mesos-ts",
    gitSha: facts.gitSha,
    gitBranch: facts.gitBranch,
    gitTag: facts.gitTag,
  };
}

/** The build keys of `/version` and `/state` in Mesos' order; git keys only when known. */
export function buildFieldsJson(build: BuildInfo): {
  git_sha?: string;
  git_branch?: string;
  git_tag?: string;
  build_date: string;
  build_time: number;
  build_user: string;
} {
  const out: { git_sha?: string; git_branch?: string; git_tag?: string } = {};
  if (build.gitSha !== undefined) out.git_sha = build.gitSha;
  if (build.gitBranch !== undefined) out.git_branch = build.gitBranch;
  if (build.gitTag !== undefined) out.git_tag = build.gitTag;
  return {
    ...out,
    build_date: build.buildDate,
    build_time: build.buildTime,
    build_user: build.buildUser,
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
    ...buildFieldsJson(build),
    mesos_ts_version: own,
  };
}

/** The v1 `VersionInfo` message (GET_VERSION). */
export function versionInfoMessage(build: BuildInfo): {
  version: string;
  build_date: string;
  build_time: number;
  build_user: string;
  git_sha?: string;
  git_branch?: string;
  git_tag?: string;
} {
  return { version: build.version, ...buildFieldsJson(build) };
}

/** `/version`: the Mesos version we follow, plus our own in `mesos_ts_version`. */
export function versionHandler(
  build: BuildInfo,
  own: string = ownVersion(),
): (request: HttpRequest) => HttpResponse {
  const body = JSON.stringify(versionJson(build, own));
  // Any method, as in Mesos (its route decides where only GET is allowed).
  return (request) => jsonResponse(request, body);
}

/** `/health`: 200 with an empty body while the daemon answers at all (any method, as in Mesos). */
export function healthHandler(_request: HttpRequest): HttpResponse {
  return ok();
}

/**
 * The method check of Mesos' read endpoints that insist on GET (`/flags`,
 * and the agent's `/monitor/statistics`, `/containers`,
 * `/containerizer/debug`): they refuse other methods (405) only when an
 * authorizer is configured, i.e. with `--acls`; without one any method
 * reads. Their routes take any method so this check runs after
 * authentication, as in Mesos (401 before 405).
 */
export function getOnlyWithAcls(
  flags: Readonly<Record<string, string>>,
): (request: HttpRequest) => BodyResponse | undefined {
  if (flags.acls === undefined) return () => undefined;
  return (request) => checkMethod(request, ["GET"]);
}

/** `/flags`: `{"flags": {name: "value"}}`, every value as text (route it for any method). */
export function flagsHandler(
  flags: Readonly<Record<string, string>>,
): (request: HttpRequest) => HttpResponse {
  const body = JSON.stringify({ flags });
  const methodCheck = getOnlyWithAcls(flags);
  return (request) => methodCheck(request) ?? jsonResponse(request, body);
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
    "Answers {version, git_sha, git_branch, git_tag, build_date, build_time, build_user,\n" +
    "mesos_ts_version}; the git keys only when built from a git clone. ?jsonp=fn wraps it.",
  flags:
    'The flags this daemon runs with.\nAnswers {"flags": {name: value}} with every value as text.',
} as const;

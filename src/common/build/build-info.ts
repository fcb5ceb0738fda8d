/**
 * Build facts recorded by `npm run build` (see write-build-info.ts) and read
 * by the daemons at start: the git commit, branch and tag the tree was built
 * from, and when and by whom. Mesos bakes these into the binary at configure
 * time; we keep them in `dist/build-info.json`, which is never committed.
 *
 * A missing or unreadable file is normal (a plain `tsc` build, a tarball
 * without `.git`): every fact is then unknown and the endpoints omit the git
 * keys, as Mesos does when it was not built from a git clone.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../flags/install-paths.js";

/** What the build knew about itself; each fact is absent when it was not known. */
export interface BuildFacts {
  /** `YYYY-MM-DD hh:mm:ss` (UTC) of the build. */
  readonly buildDate?: string | undefined;
  /** Seconds since the epoch of the build. */
  readonly buildTime?: number | undefined;
  /** The user who ran the build. */
  readonly buildUser?: string | undefined;
  /** `git rev-parse HEAD` of the built tree. */
  readonly gitSha?: string | undefined;
  /** `git symbolic-ref HEAD` ("refs/heads/main"); absent on a detached HEAD. */
  readonly gitBranch?: string | undefined;
  /** `git describe --exact --tags`; absent when HEAD carries no tag. */
  readonly gitTag?: string | undefined;
}

/** The file name under `dist/`. */
export const BUILD_INFO_FILE = "build-info.json";

/** Where the build writes its facts: `<package>/dist/build-info.json`. */
export function buildInfoPath(root: string = packageRoot()): string {
  return join(root, "dist", BUILD_INFO_FILE);
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** The facts in a build-info document; fields of the wrong type count as unknown. */
export function parseBuildFacts(document: string): BuildFacts {
  let parsed: unknown;
  try {
    parsed = JSON.parse(document);
  } catch {
    return {};
  }
  if (typeof parsed !== "object" || parsed === null) return {};
  const o = parsed as Record<string, unknown>;
  const time = o.build_time;
  return {
    buildDate: text(o.build_date),
    buildTime: typeof time === "number" && Number.isFinite(time) ? time : undefined,
    buildUser: text(o.build_user),
    gitSha: text(o.git_sha),
    gitBranch: text(o.git_branch),
    gitTag: text(o.git_tag),
  };
}

/** The build-info document for `facts` (unknown facts left out). */
export function formatBuildFacts(facts: BuildFacts): string {
  const out: Record<string, string | number> = {};
  if (facts.buildDate !== undefined) out.build_date = facts.buildDate;
  if (facts.buildTime !== undefined) out.build_time = facts.buildTime;
  if (facts.buildUser !== undefined) out.build_user = facts.buildUser;
  if (facts.gitSha !== undefined) out.git_sha = facts.gitSha;
  if (facts.gitBranch !== undefined) out.git_branch = facts.gitBranch;
  if (facts.gitTag !== undefined) out.git_tag = facts.gitTag;
  return `${JSON.stringify(out, null, 2)}\n`;
}

/** Reads the build facts; an absent or broken file means nothing is known. */
export function readBuildFacts(path: string = buildInfoPath()): BuildFacts {
  let document: string;
  try {
    document = readFileSync(path, "utf8");
  } catch {
    return {};
  }
  return parseBuildFacts(document);
}

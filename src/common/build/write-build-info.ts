/**
 * Run by `npm run build`: records the git commit, branch and tag of the tree
 * and the build's date and user in `dist/build-info.json` (see build-info.ts).
 * Outside a git clone, or without git, only the date and user are written.
 *
 *   node dist/src/common/build/write-build-info.js
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";
import { packageRoot } from "../flags/install-paths.js";
import { SystemClock } from "../time/clock.js";
import { type BuildFacts, buildInfoPath, formatBuildFacts } from "./build-info.js";

/** Output of `git <args>` run in `cwd`, or undefined when git fails or prints nothing. */
export function gitOutput(cwd: string, args: readonly string[]): string | undefined {
  try {
    const out = execFileSync("git", args, {
      cwd,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 10_000,
    }).trim();
    return out === "" ? undefined : out;
  } catch {
    return undefined;
  }
}

function buildUser(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER;
  }
}

/** The facts of a build of the tree at `root` happening at `nowMs`. */
export function collectBuildFacts(root: string, nowMs: number): BuildFacts {
  // The same three questions Mesos' configure asks git.
  const gitSha = gitOutput(root, ["rev-parse", "HEAD"]);
  return {
    buildDate: new Date(nowMs).toISOString().replace("T", " ").slice(0, 19),
    buildTime: Math.floor(nowMs / 1000),
    buildUser: buildUser(),
    gitSha,
    gitBranch: gitSha === undefined ? undefined : gitOutput(root, ["symbolic-ref", "HEAD"]),
    gitTag: gitSha === undefined ? undefined : gitOutput(root, ["describe", "--exact", "--tags"]),
  };
}

/** Writes the build facts of `root` to `path` (atomically) and returns them. */
export function writeBuildInfo(
  root: string = packageRoot(),
  path: string = buildInfoPath(root),
  nowMs: number = new SystemClock().now(),
): BuildFacts {
  const facts = collectBuildFacts(root, nowMs);
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, formatBuildFacts(facts));
  renameSync(temp, path);
  return facts;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const facts = writeBuildInfo();
  process.stdout.write(`build-info: git_sha ${facts.gitSha ?? "(not a git clone)"}\n`);
}

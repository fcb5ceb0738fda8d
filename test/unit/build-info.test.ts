import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  formatBuildFacts,
  parseBuildFacts,
  readBuildFacts,
} from "../../src/common/build/build-info.js";
import { collectBuildFacts, writeBuildInfo } from "../../src/common/build/write-build-info.js";
import {
  buildInfoAt,
  versionInfoMessage,
  versionJson,
} from "../../src/common/http/common-endpoints.js";
import { tempDir } from "../harness/processes.js";

const START = Date.UTC(2026, 0, 2, 3, 4, 5);

function gitWorks(): boolean {
  try {
    execFileSync("git", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("build info", () => {
  test("build info: without a build-info file the git keys are omitted, never faked", () => {
    const facts = readBuildFacts(join(tempDir("no-build-info-"), "build-info.json"));
    assert.deepEqual(facts, {});
    const build = buildInfoAt(START, facts);
    const version = versionJson(build, "0.1.0");
    assert.deepEqual(Object.keys(version), [
      "version",
      "build_date",
      "build_time",
      "build_user",
      "mesos_ts_version",
    ]);
    assert.equal(version.build_date, "2026-01-02 03:04:05");
    const info = versionInfoMessage(build);
    assert.equal("git_sha" in info || "git_branch" in info || "git_tag" in info, false);
  });

  test("build info: recorded facts appear in Mesos' key order, git keys before build_date", () => {
    const facts = parseBuildFacts(
      formatBuildFacts({
        buildDate: "2025-05-06 07:08:09",
        buildTime: 1746515289,
        buildUser: "ci",
        gitSha: "0123456789abcdef0123456789abcdef01234567",
        gitBranch: "refs/heads/main",
      }),
    );
    const version = versionJson(buildInfoAt(START, facts), "0.1.0");
    assert.deepEqual(version, {
      version: "1.12.0",
      git_sha: "0123456789abcdef0123456789abcdef01234567",
      git_branch: "refs/heads/main",
      build_date: "2025-05-06 07:08:09",
      build_time: 1746515289,
      build_user: "ci",
      mesos_ts_version: "0.1.0",
    });
    assert.deepEqual(Object.keys(version).slice(0, 3), ["version", "git_sha", "git_branch"]);
  });

  test("build info: a broken or mistyped file counts as nothing known", () => {
    const dir = tempDir("bad-build-info-");
    const path = join(dir, "build-info.json");
    writeFileSync(path, "{not json");
    assert.deepEqual(readBuildFacts(path), {});
    writeFileSync(path, JSON.stringify({ git_sha: 42, git_tag: "", build_time: "x" }));
    const facts = readBuildFacts(path);
    assert.equal(facts.gitSha, undefined);
    assert.equal(facts.gitTag, undefined);
    assert.equal(facts.buildTime, undefined);
  });

  test("build info: outside a git clone only date and user are recorded", () => {
    const dir = tempDir("not-git-");
    const facts = writeBuildInfo(dir, join(dir, "dist", "build-info.json"), START);
    assert.equal(facts.gitSha, undefined);
    assert.equal(facts.gitBranch, undefined);
    assert.equal(facts.gitTag, undefined);
    assert.equal(facts.buildDate, "2026-01-02 03:04:05");
    assert.deepEqual(readBuildFacts(join(dir, "dist", "build-info.json")), facts);
  });

  test("build info: a git clone records its HEAD, branch ref and exact tag", {
    skip: gitWorks() ? false : "git is not installed",
  }, () => {
    const dir = tempDir("git-clone-");
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], {
        cwd: dir,
        encoding: "utf8",
      }).trim();
    git("init", "-q", "-b", "trunk");
    writeFileSync(join(dir, "f"), "x");
    git("add", "f");
    git("commit", "-q", "-m", "one");
    const head = git("rev-parse", "HEAD");
    let facts = collectBuildFacts(dir, START);
    assert.equal(facts.gitSha, head);
    assert.equal(facts.gitBranch, "refs/heads/trunk");
    assert.equal(facts.gitTag, undefined);
    git("tag", "v9.9.9");
    git("checkout", "-q", "--detach");
    facts = collectBuildFacts(dir, START);
    assert.equal(facts.gitSha, head);
    assert.equal(facts.gitBranch, undefined, "a detached HEAD has no branch");
    assert.equal(facts.gitTag, "v9.9.9");
  });
});

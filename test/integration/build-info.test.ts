/**
 * git_sha and friends from a real build: writes dist/build-info.json the way
 * `npm run build` does, starts a master and an agent, and compares what
 * /version, /master/state, the agent's /state and GET_VERSION (master and
 * agent, JSON) show with `git rev-parse HEAD` of this tree.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import type { BuildFacts } from "../../src/common/build/build-info.js";
import { writeBuildInfo } from "../../src/common/build/write-build-info.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, repoRoot, stopAll } from "../harness/processes.js";

type Json = Record<string, unknown>;

function git(...args: string[]): string | undefined {
  try {
    return execFileSync("git", args, { cwd: repoRoot, encoding: "utf8", stdio: "pipe" }).trim();
  } catch {
    return undefined;
  }
}

const headBefore = git("rev-parse", "HEAD");
const skip = headBefore === undefined ? "not a git clone (or no git): nothing to compare" : false;

let master: DaemonHandle;
let agent: DaemonHandle;
let facts: BuildFacts = {};
/** HEAD as git tells it around the write (a commit may land in between on a busy tree). */
let heads: string[] = [];

async function getJson(url: string): Promise<Json> {
  const res = await fetch(url);
  assert.equal(res.status, 200, `${url}: ${res.status}`);
  return (await res.json()) as Json;
}

async function getVersionCall(url: string): Promise<Json> {
  const res = await fetch(`${url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ type: "GET_VERSION" }),
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { get_version?: { version_info?: Json } };
  assert.ok(body.get_version?.version_info, "GET_VERSION answered without version_info");
  return body.get_version.version_info;
}

describe("build info", { skip }, () => {
  before(async () => {
    facts = writeBuildInfo();
    heads = [headBefore ?? "", git("rev-parse", "HEAD") ?? ""];
    ({ master, agent } = await startOneAgentCluster());
  });
  after(stopAll);

  function assertGit(document: Json, where: string, mesosKeyOrder = true): void {
    assert.ok(heads.includes(String(document.git_sha)), `${where}: git_sha ${document.git_sha}`);
    assert.equal(document.git_sha, facts.gitSha, where);
    assert.equal(document.git_branch, git("symbolic-ref", "HEAD"), `${where}: git_branch`);
    assert.equal(document.git_tag, git("describe", "--exact", "--tags"), `${where}: git_tag`);
    if (!mesosKeyOrder) return; // v1 JSON follows the proto's field order
    const keys = Object.keys(document);
    assert.ok(keys.indexOf("git_sha") < keys.indexOf("build_date"), `${where}: key order`);
  }

  test("build info: master /version and /master/state carry the tree's git_sha", async () => {
    assertGit(await getJson(`${master.url}/version`), "master /version");
    assertGit(await getJson(`${master.url}/master/state`), "/master/state");
  });

  test("build info: agent /version and /slave(1)/state carry the tree's git_sha", async () => {
    assertGit(await getJson(`${agent.url}/version`), "agent /version");
    assertGit(await getJson(`${agent.url}/slave(1)/state`), "agent /state");
  });

  test("build info: v1 GET_VERSION of master and agent carries git_sha", async () => {
    assertGit(await getVersionCall(master.url), "master GET_VERSION", false);
    assertGit(await getVersionCall(agent.url), "agent GET_VERSION", false);
  });
});

/**
 * The agent's HTTP endpoints behind Basic authentication
 * (`--http_credentials`, `--authenticate_http_readonly`,
 * `--authenticate_http_readwrite`) and its ACLs (`view_flags`,
 * `get_endpoints`).
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type DaemonHandle,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
} from "../harness/processes.js";

let agent: DaemonHandle;

const auth = (principal: string, secret: string): Record<string, string> => ({
  Authorization: `Basic ${Buffer.from(`${principal}:${secret}`).toString("base64")}`,
});
const OPS = auth("ops", "ops-secret");
const DEV = auth("dev", "dev-secret");

before(async () => {
  const dir = tempDir();
  const credentials = join(dir, "http-credentials");
  // The older line form: one `principal secret` per line.
  writeFileSync(credentials, "ops ops-secret\ndev dev-secret\n");
  const master = await startMaster();
  agent = await startAgent({
    master: master.address,
    flags: {
      http_credentials: credentials,
      authenticate_http_readonly: true,
      authenticate_http_readwrite: true,
      acls: JSON.stringify({
        view_flags: [
          { principals: { values: ["ops"] }, flags: { type: "ANY" } },
          { principals: { type: "ANY" }, flags: { type: "NONE" } },
        ],
        get_endpoints: [
          { principals: { values: ["ops"] }, paths: { type: "ANY" } },
          { principals: { type: "ANY" }, paths: { type: "NONE" } },
        ],
      }),
    },
  });
});

after(stopAll);

async function get(path: string, headers: Record<string, string> = {}) {
  const r = await fetch(`${agent.url}${path}`, { headers });
  await r.arrayBuffer();
  return { status: r.status, challenge: r.headers.get("www-authenticate") };
}

describe("auth: agent HTTP endpoints", () => {
  it("read-only endpoints answer 401 with realm mesos-agent-readonly without credentials", async () => {
    for (const path of ["/state", "/slave(1)/state", "/flags", "/metrics/snapshot"]) {
      const r = await get(path);
      assert.equal(r.status, 401, path);
      assert.equal(r.challenge, 'Basic realm="mesos-agent-readonly"', path);
    }
  });

  it("the profiler is in realm mesos-agent-readwrite, as libprocess guards it", async () => {
    const r = await get("/profiler/stop");
    assert.equal(r.status, 401);
    assert.equal(r.challenge, 'Basic realm="mesos-agent-readwrite"');
  });

  it("the operator API is in realm mesos-agent-readwrite", async () => {
    const r = await fetch(`${agent.url}/api/v1`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: '{"type":"GET_HEALTH"}',
    });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get("www-authenticate"), 'Basic realm="mesos-agent-readwrite"');
    const ok = await fetch(`${agent.url}/api/v1`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...OPS },
      body: '{"type":"GET_HEALTH"}',
    });
    assert.equal(ok.status, 200);
  });

  it("view_flags and get_endpoints: ops allowed, dev 403", async () => {
    assert.equal((await get("/state", DEV)).status, 200);
    assert.equal((await get("/flags", OPS)).status, 200);
    assert.equal((await get("/flags", DEV)).status, 403);
    assert.equal((await get("/metrics/snapshot", OPS)).status, 200);
    assert.equal((await get("/metrics/snapshot", DEV)).status, 403);
  });

  it("with --acls, /flags, /monitor/statistics, /containers and /containerizer/debug take GET only (405 after authentication), as Mesos", async () => {
    for (const path of [
      "/flags",
      "/monitor/statistics",
      "/slave(1)/monitor/statistics",
      "/containers",
      "/containerizer/debug",
    ]) {
      const refused = await fetch(`${agent.url}${path}`, { method: "POST", headers: OPS });
      assert.equal(refused.status, 405, path);
      assert.equal(refused.headers.get("allow"), "GET", path);
      assert.equal(
        await refused.text(),
        "405 Method Not Allowed. Expecting one of { 'GET' }, but received 'POST'.",
        path,
      );
      // Without credentials the authentication answers first.
      const anonymous = await fetch(`${agent.url}${path}`, { method: "POST" });
      await anonymous.arrayBuffer();
      assert.equal(anonymous.status, 401, path);
      assert.equal((await get(path, OPS)).status, 200, path);
    }
    // /state still answers any method.
    const state = await fetch(`${agent.url}/state`, { method: "POST", headers: OPS });
    await state.arrayBuffer();
    assert.equal(state.status, 200);
  });

  it("/health stays open", async () => {
    assert.equal((await get("/health")).status, 200);
  });
});

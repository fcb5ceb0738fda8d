/**
 * What HTTP clients get when authentication fails, as Mesos answers:
 * - the master's `basic` realms: 401, `WWW-Authenticate: Basic realm="..."`
 *   and libprocess' body `401 Unauthorized.`, for missing, wrong and
 *   malformed credentials alike;
 * - an agent with `--authenticate_http_executors` combines the basic and jwt
 *   authenticators in every realm that requires authentication: one 401
 *   with both challenges and both bodies;
 * - `--http_authenticators` picks the agent's authenticators (`jwt` alone:
 *   only executor tokens pass, with the Bearer challenge);
 * - `--authenticate_http_executors` without `--http_credentials` stops the
 *   agent (its basic authenticator has no credentials), and `jwt` without a
 *   key does too, as in Mesos.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { signJwt } from "../../src/common/auth/jwt.js";
import {
  freePort,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
} from "../harness/processes.js";

after(stopAll);

const basic = (user: string, secret: string) =>
  `Basic ${Buffer.from(`${user}:${secret}`).toString("base64")}`;

describe("auth: 401 answers", () => {
  it("the master answers every failed Basic authentication with libprocess' 401", async () => {
    const dir = tempDir("h3-auth-answers-");
    const credentials = join(dir, "credentials");
    writeFileSync(credentials, "ops ops-secret\n", { mode: 0o600 });
    const master = await startMaster({
      flags: { credentials, authenticate_http_readonly: true, authenticate_http_readwrite: true },
    });
    for (const authorization of [
      undefined,
      basic("ops", "wrong"),
      basic("nobody", "ops-secret"),
      "Bearer abc",
      "Basic !!!",
    ]) {
      const r = await fetch(`${master.url}/master/state`, {
        headers: authorization === undefined ? {} : { Authorization: authorization },
      });
      assert.equal(r.status, 401, String(authorization));
      assert.equal(r.headers.get("www-authenticate"), 'Basic realm="mesos-master-readonly"');
      assert.equal(await r.text(), "401 Unauthorized.", String(authorization));
    }
    const teardown = await fetch(`${master.url}/master/teardown`, { method: "POST" });
    assert.equal(teardown.status, 401);
    assert.equal(teardown.headers.get("www-authenticate"), 'Basic realm="mesos-master-readwrite"');
    const ok = await fetch(`${master.url}/master/state`, {
      headers: { Authorization: basic("ops", "ops-secret") },
    });
    assert.equal(ok.status, 200);
  });

  it("an agent authenticating executors answers its realms with both challenges", async () => {
    const dir = tempDir("h3-auth-answers-agent-");
    const credentials = join(dir, "credentials.json");
    writeFileSync(
      credentials,
      JSON.stringify({ credentials: [{ principal: "ops", secret: "s" }] }),
      { mode: 0o600 },
    );
    const key = join(dir, "jwt.key");
    writeFileSync(key, "a key that is long enough for HS256 tokens", { mode: 0o600 });
    const master = await startMaster();
    const agent = await startAgent({
      master: master.address,
      flags: {
        authenticate_http_readonly: true,
        authenticate_http_executors: true,
        jwt_secret_key: key,
        http_credentials: credentials,
      },
    });
    const none = await fetch(`${agent.url}/slave(1)/state`);
    assert.equal(none.status, 401);
    assert.equal(
      none.headers.get("www-authenticate"),
      'Basic realm="mesos-agent-readonly",Bearer realm="mesos-agent-readonly"',
    );
    assert.equal(
      await none.text(),
      '"Basic" authenticator returned:\n401 Unauthorized.\n\n' +
        '"Bearer" authenticator returned:\n401 Unauthorized.',
    );
    const wrong = await fetch(`${agent.url}/slave(1)/state`, {
      headers: { Authorization: basic("ops", "wrong") },
    });
    assert.equal(wrong.status, 401);
    assert.equal(
      wrong.headers.get("www-authenticate"),
      'Basic realm="mesos-agent-readonly",Bearer realm="mesos-agent-readonly", ' +
        `error="invalid_token", error_description="Scheme 'Basic' unsupported"`,
    );
    const ok = await fetch(`${agent.url}/slave(1)/state`, {
      headers: { Authorization: basic("ops", "s") },
    });
    assert.equal(ok.status, 200);
  });

  it("--authenticate_http_executors without --http_credentials stops the agent", async () => {
    const key = join(tempDir("h3-auth-answers-key-"), "jwt.key");
    writeFileSync(key, "a key that is long enough for HS256 tokens", { mode: 0o600 });
    const run = await runBinary(
      "mesos-agent",
      [
        "--master=127.0.0.1:1",
        "--ip=127.0.0.1",
        `--port=${await freePort()}`,
        `--work_dir=${tempDir("h3-agent-no-creds-")}`,
        "--authenticate_http_executors",
        `--jwt_secret_key=${key}`,
      ],
      { timeoutMs: 30_000 },
    );
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(
      run.stderr,
      /Failed to create HTTP authenticator module 'basic': No credentials provided for the default 'basic' HTTP authenticator for realm 'mesos-agent-executor'/,
    );
  });

  it("--http_authenticators=jwt: only executor tokens pass the agent's realms", async () => {
    const dir = tempDir("h3-auth-answers-jwt-");
    const key = join(dir, "jwt.key");
    const secret = "a key that is long enough for HS256 tokens";
    writeFileSync(key, secret, { mode: 0o600 });
    const master = await startMaster();
    const agent = await startAgent({
      master: master.address,
      flags: { authenticate_http_readonly: true, http_authenticators: "jwt", jwt_secret_key: key },
    });
    const none = await fetch(`${agent.url}/slave(1)/state`);
    assert.equal(none.status, 401);
    assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="mesos-agent-readonly"');
    assert.equal(await none.text(), "401 Unauthorized.");
    const basicTry = await fetch(`${agent.url}/slave(1)/state`, {
      headers: { Authorization: basic("ops", "s") },
    });
    assert.equal(basicTry.status, 401);
    assert.equal(
      basicTry.headers.get("www-authenticate"),
      `Bearer realm="mesos-agent-readonly", error="invalid_token", error_description="Scheme 'Basic' unsupported"`,
    );
    const token = signJwt({ cid: "some-container" }, secret);
    const ok = await fetch(`${agent.url}/slave(1)/state`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    assert.equal(ok.status, 200);
  });

  it("with --acls an executor token passes the agent's realms but is refused what is not its own", async () => {
    const dir = tempDir("h3-auth-answers-jwt-acls-");
    const credentials = join(dir, "credentials.json");
    writeFileSync(
      credentials,
      JSON.stringify({ credentials: [{ principal: "ops", secret: "s" }] }),
      { mode: 0o600 },
    );
    const key = join(dir, "jwt.key");
    const secret = "a key that is long enough for HS256 tokens";
    writeFileSync(key, secret, { mode: 0o600 });
    const master = await startMaster();
    // Permissive ACLs: anyone may do anything, but a token is no one (Mesos
    // rejects a subject with claims and no principal outside its own containers).
    const agent = await startAgent({
      master: master.address,
      flags: {
        authenticate_http_readonly: true,
        authenticate_http_executors: true,
        jwt_secret_key: key,
        http_credentials: credentials,
        acls: JSON.stringify({ permissive: true }),
      },
    });
    const token = { Authorization: `Bearer ${signJwt({ cid: "some-container" }, secret)}` };
    const ops = { Authorization: basic("ops", "s") };
    const flags = await fetch(`${agent.url}/slave(1)/flags`, { headers: token });
    assert.equal(flags.status, 403);
    assert.equal((await fetch(`${agent.url}/slave(1)/flags`, { headers: ops })).status, 200);
    const containers = await fetch(`${agent.url}/slave(1)/containers`, { headers: token });
    assert.equal(containers.status, 403);
    const state = await fetch(`${agent.url}/slave(1)/state`, { headers: token });
    assert.equal(state.status, 200);
    assert.equal("flags" in ((await state.json()) as object), false);
    const opsState = await fetch(`${agent.url}/slave(1)/state`, { headers: ops });
    assert.equal("flags" in ((await opsState.json()) as object), true);
  });

  it("--http_authenticators=jwt without --jwt_secret_key stops the agent", async () => {
    const run = await runBinary(
      "mesos-agent",
      [
        "--master=127.0.0.1:1",
        "--ip=127.0.0.1",
        `--port=${await freePort()}`,
        `--work_dir=${tempDir("h3-agent-no-key-")}`,
        "--authenticate_http_readonly",
        "--http_authenticators=jwt",
      ],
      { timeoutMs: 30_000 },
    );
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(
      run.stderr,
      /Failed to create HTTP authenticator module 'jwt': No secret key provided for the default 'jwt' HTTP authenticator for realm 'mesos-agent-readonly'/,
    );
  });
});

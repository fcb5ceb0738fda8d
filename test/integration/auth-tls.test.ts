/**
 * TLS (LIBPROCESS_SSL_*): a master that only speaks TLS serves its HTTP API
 * over HTTPS and refuses plain HTTP; an agent with TLS on registers with it
 * (messages both ways over TLS); with LIBPROCESS_SSL_SUPPORT_DOWNGRADE a
 * daemon answers both. The test makes its own CA and certificates with
 * openssl and skips when openssl is missing.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { haveOpenssl, makeCa, makeNodeCertificate } from "../harness/certificates.js";
import { binPath, freePort, startAgent, stopAll, tempDir, waitFor } from "../harness/processes.js";

let dir = "";
let ca: Buffer;
let tlsEnv: Record<string, string> = {};
const children: ChildProcess[] = [];

function makeCertificates(): void {
  dir = tempDir("mesos-tls-");
  makeCa(dir, "ca", "mesos-ts test CA");
  makeNodeCertificate(dir);
  ca = readFileSync(join(dir, "ca.crt"));
  tlsEnv = {
    LIBPROCESS_SSL_ENABLED: "true",
    LIBPROCESS_SSL_CERT_FILE: join(dir, "node.crt"),
    LIBPROCESS_SSL_KEY_FILE: join(dir, "node.key"),
    LIBPROCESS_SSL_CA_FILE: join(dir, "ca.crt"),
  };
}

function httpsGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port, path, ca, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** A master with TLS only (no downgrade): started by hand, probed over HTTPS. */
async function startTlsMaster(): Promise<{ port: number; child: ChildProcess; log: string }> {
  const port = await freePort();
  const work = tempDir("mesos-tls-master-");
  const log = join(work, "master.log");
  const out = openSync(log, "a");
  const child = spawn(
    process.execPath,
    [
      binPath("mesos-master"),
      "--ip=127.0.0.1",
      `--port=${port}`,
      "--registry=in_memory",
      `--work_dir=${work}`,
    ],
    { stdio: ["ignore", out, out], env: { ...process.env, ...tlsEnv } },
  );
  children.push(child);
  await waitFor(
    "the TLS master to answer /health over HTTPS",
    async () => (await httpsGet(port, "/health").catch(() => undefined))?.status === 200,
    { timeoutMs: 60_000 },
  );
  return { port, child, log };
}

before(() => {
  if (haveOpenssl) makeCertificates();
});

after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  await stopAll();
});

describe("auth: TLS", { skip: haveOpenssl ? false : "openssl is not installed" }, () => {
  let master: { port: number; child: ChildProcess; log: string };
  before(async () => {
    master = await startTlsMaster();
  });

  it("serves HTTPS and refuses plain HTTP without downgrade", async () => {
    const state = await httpsGet(master.port, "/master/state");
    assert.equal(state.status, 200);
    assert.match(state.body, /"activated_slaves"/);
    const plain = await fetch(`http://127.0.0.1:${master.port}/health`).then(
      (r) => r.status,
      () => "refused",
    );
    assert.equal(plain, "refused");
  });

  it("an agent with TLS registers with the TLS-only master", async () => {
    const agent = await startAgent({
      master: `127.0.0.1:${master.port}`,
      // Downgrade on the agent so the harness can probe it over plain HTTP.
      env: { ...tlsEnv, LIBPROCESS_SSL_SUPPORT_DOWNGRADE: "true" },
    });
    await waitFor(
      "the agent in /master/slaves",
      async () => {
        const r = await httpsGet(master.port, "/master/slaves");
        return (JSON.parse(r.body) as { slaves: unknown[] }).slaves.length === 1;
      },
      { timeoutMs: 30_000 },
    );
    // The downgrading agent answers both.
    assert.equal((await fetch(`${agent.url}/health`)).status, 200);
    assert.equal((await httpsGet(agent.port, "/health")).status, 200);
  });

  it("a scheduler subscribes over HTTPS and receives SUBSCRIBED", async () => {
    const body = JSON.stringify({
      type: "SUBSCRIBE",
      subscribe: { framework_info: { user: "nobody", name: "tls-framework" } },
    });
    const events = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: "127.0.0.1",
          port: master.port,
          path: "/api/v1/scheduler",
          method: "POST",
          ca,
          agent: false,
          headers: { "Content-Type": "application/json", Accept: "application/json" },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (d: string) => {
            text += d;
            if (text.includes('"SUBSCRIBED"')) {
              resolve(text);
              req.destroy();
            }
          });
          res.on("error", () => {});
        },
      );
      req.on("error", (e) => {
        if (!req.destroyed) reject(e);
      });
      req.end(body);
    });
    assert.match(events, /"framework_id"/);
  });

  it("bad TLS settings stop the daemon with a clear line", async () => {
    const port = await freePort();
    const out = execFileSync(
      "sh",
      [
        "-c",
        `${process.execPath} ${binPath("mesos-master")} --ip=127.0.0.1 --port=${port} ` +
          `--registry=in_memory --work_dir=${tempDir()} 2>&1; echo "exit=$?"`,
      ],
      { env: { ...process.env, LIBPROCESS_SSL_ENABLED: "true" }, encoding: "utf8" },
    );
    assert.match(out, /LIBPROCESS_SSL_CERT_FILE and LIBPROCESS_SSL_KEY_FILE/);
    assert.match(out, /exit=1/);
  });
});

/**
 * Our clients over TLS (LIBPROCESS_SSL_ENABLED): with a master and an agent
 * that speak only TLS (no downgrade), mesos-execute (the scheduler library)
 * runs `echo hi` to TASK_FINISHED, which also needs the command executor to
 * reach the agent's executor API over HTTPS, and the `mesos` CLI reads the
 * master and the agent's sandbox. With server verification against another
 * CA, mesos-execute cannot connect. Certificates come from openssl; the test
 * skips without it.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { haveOpenssl, makeCa, makeNodeCertificate } from "../harness/certificates.js";
import { binPath, freePort, runBinary, tempDir, waitFor } from "../harness/processes.js";

const children: ChildProcess[] = [];
let dir = "";

function makeCertificates(): void {
  dir = tempDir("mesos-tls-client-");
  makeCa(dir, "ca");
  makeCa(dir, "other-ca");
  makeNodeCertificate(dir);
}

function tlsEnv(ca = "ca.crt"): Record<string, string> {
  return {
    LIBPROCESS_SSL_ENABLED: "true",
    LIBPROCESS_SSL_CERT_FILE: join(dir, "node.crt"),
    LIBPROCESS_SSL_KEY_FILE: join(dir, "node.key"),
    LIBPROCESS_SSL_CA_FILE: join(dir, ca),
    LIBPROCESS_SSL_VERIFY_SERVER_CERT: "true",
  };
}

function httpsStatus(port: number, path: string): Promise<number> {
  const ca = readFileSync(join(dir, "ca.crt"));
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port, path, ca, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

/** A daemon that speaks only TLS, started by hand and probed over HTTPS. */
async function startTls(binary: string, flags: string[]): Promise<{ port: number; log: string }> {
  const port = await freePort();
  const work = tempDir(`${binary}-tls-`);
  const log = join(work, `${binary}.log`);
  const out = openSync(log, "a");
  const child = spawn(
    process.execPath,
    [binPath(binary), "--ip=127.0.0.1", `--port=${port}`, `--work_dir=${work}`, ...flags],
    { stdio: ["ignore", out, out], env: { ...process.env, ...tlsEnv() } },
  );
  children.push(child);
  await waitFor(
    `${binary} to answer /health over HTTPS`,
    async () => (await httpsStatus(port, "/health").catch(() => 0)) === 200,
    { timeoutMs: 60_000 },
  );
  return { port, log };
}

before(() => {
  if (haveOpenssl) makeCertificates();
});

after(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
});

describe("TLS clients", { skip: haveOpenssl ? false : "openssl is not installed" }, () => {
  let master = { port: 0, log: "" };
  let agent = { port: 0, log: "" };
  before(async () => {
    master = await startTls("mesos-master", ["--registry=in_memory"]);
    agent = await startTls("mesos-agent", [
      `--master=127.0.0.1:${master.port}`,
      "--resources=cpus:2;mem:1024;disk:1024",
      // Executors get the TLS settings the way Mesos documents it.
      `--executor_environment_variables=${JSON.stringify({
        ...tlsEnv(),
        PATH: process.env.PATH ?? "/usr/bin:/bin",
      })}`,
    ]);
  });

  it("mesos-execute runs `echo hi` to TASK_FINISHED against a TLS-only master and agent", async () => {
    const run = await runBinary(
      "mesos-execute",
      [
        `--master=127.0.0.1:${master.port}`,
        "--name=tls-echo",
        "--command=echo hi",
        "--resources=cpus:0.1;mem:32",
      ],
      { env: tlsEnv(), timeoutMs: 60_000 },
    );
    assert.match(
      run.stdout,
      /Received status update TASK_FINISHED/,
      `${run.stdout}${run.stderr}\n--- agent ---\n${readFileSync(agent.log, "utf8").slice(-3000)}`,
    );
  });

  it("the mesos CLI reads the master's state and a task's sandbox over HTTPS", async () => {
    const agents = await runBinary(
      "mesos",
      [`--master=127.0.0.1:${master.port}`, "-o", "json", "agent", "list"],
      { env: tlsEnv(), timeoutMs: 30_000 },
    );
    assert.equal(agents.code, 0, agents.stderr);
    assert.match(
      agents.stdout,
      new RegExp(`127\\.0\\.0\\.1:${agent.port}|"port":\\s*${agent.port}`),
    );
    const stdout = await runBinary(
      "mesos",
      [`--master=127.0.0.1:${master.port}`, "cat", "tls-echo", "stdout"],
      { env: tlsEnv(), timeoutMs: 30_000 },
    );
    assert.equal(stdout.code, 0, stdout.stderr);
    assert.match(stdout.stdout, /hi/);
  });

  it("with server verification against another CA, mesos-execute cannot connect", async () => {
    const run = await runBinary(
      "mesos-execute",
      [
        `--master=127.0.0.1:${master.port}`,
        "--name=tls-untrusted",
        "--command=true",
        "--resources=cpus:0.1;mem:32",
      ],
      { env: tlsEnv("other-ca.crt"), timeoutMs: 6_000 },
    );
    assert.doesNotMatch(run.stdout, /Subscribed with ID/);
  });
});

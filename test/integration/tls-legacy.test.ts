/**
 * libprocess TLS behaviour between real daemons:
 * - LIBPROCESS_SSL_SUPPORT_DOWNGRADE on the connecting side: an agent with
 *   TLS on registers with a master that speaks plain HTTP (its TLS attempt
 *   fails and is tried again in plain), the upgrade path Mesos' ssl.md
 *   describes; without downgrade it cannot.
 * - LIBPROCESS_SSL_REQUIRE_CLIENT_CERT with the default `legacy` hostname
 *   validation: the master looks each client's IP up by reverse DNS and
 *   drops connections whose certificate does not carry that name, so an
 *   agent with a CA-signed certificate for another host never registers,
 *   while one whose certificate names the host does; a certificate no
 *   trusted CA signed is refused whatever it names.
 * Certificates come from openssl; the test skips without it.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { reverseName } from "../../src/common/process/tls-client.js";
import { haveOpenssl, makeCa, makeNodeCertificate } from "../harness/certificates.js";
import {
  type DaemonHandle,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
  waitForAgents,
  waitLong,
} from "../harness/processes.js";

let dir = "";
/** What 127.0.0.1 is called by reverse lookup here (`localhost` on most machines). */
let loopbackName = "";

function tlsEnv(cert = "node", extra: Record<string, string> = {}): Record<string, string> {
  return {
    LIBPROCESS_SSL_ENABLED: "true",
    LIBPROCESS_SSL_CERT_FILE: join(dir, `${cert}.crt`),
    LIBPROCESS_SSL_KEY_FILE: join(dir, `${cert}.key`),
    LIBPROCESS_SSL_CA_FILE: join(dir, "ca.crt"),
    ...extra,
  };
}

/** GET over HTTPS presenting the client certificate `cert`; the status, or the error. */
function httpsGet(port: number, path: string, cert?: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = httpsRequest(
      {
        host: "127.0.0.1",
        port,
        path,
        ca: readFileSync(join(dir, "ca.crt")),
        ...(cert === undefined
          ? {}
          : {
              cert: readFileSync(join(dir, `${cert === "chained" ? "chained-full" : cert}.crt`)),
              key: readFileSync(join(dir, `${cert}.key`)),
            }),
        agent: false,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", (e) => resolve(e.message));
    req.end();
  });
}

async function agentPorts(master: DaemonHandle): Promise<number[]> {
  const body = await new Promise<string>((resolve, reject) => {
    const req = httpsRequest(
      {
        host: "127.0.0.1",
        port: master.port,
        path: "/master/slaves",
        ca: readFileSync(join(dir, "ca.crt")),
        cert: readFileSync(join(dir, "node.crt")),
        key: readFileSync(join(dir, "node.key")),
        agent: false,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          text += d;
        });
        res.on("end", () => resolve(text));
      },
    );
    req.on("error", reject);
    req.end();
  });
  const doc = JSON.parse(body) as { slaves: { pid: string }[] };
  return doc.slaves.map((s) => Number(s.pid.split(":").pop()));
}

before(async () => {
  if (!haveOpenssl) return;
  dir = tempDir("h3-tls-legacy-");
  loopbackName = (await reverseName("127.0.0.1")) ?? "127.0.0.1";
  makeCa(dir, "ca");
  makeNodeCertificate(dir, "ca", "node", {
    cn: loopbackName,
    san: `IP:127.0.0.1,DNS:${loopbackName}`,
  });
  // Self-signed (no CA signed it), naming this host as the legacy check wants.
  makeCa(dir, "rogue", loopbackName);
  makeNodeCertificate(dir, "ca", "elsewhere", {
    cn: "elsewhere.example",
    san: "DNS:elsewhere.example",
  });
  // An intermediate CA and a certificate it signed (presented with the intermediate).
  makeNodeCertificate(dir, "ca", "inter", {
    cn: "mesos-ts intermediate",
    san: "DNS:inter.example\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign",
  });
  makeNodeCertificate(dir, "inter", "chained", {
    cn: loopbackName,
    san: `IP:127.0.0.1,DNS:${loopbackName}`,
  });
  writeFileSync(
    join(dir, "chained-full.crt"),
    Buffer.concat([readFileSync(join(dir, "chained.crt")), readFileSync(join(dir, "inter.crt"))]),
  );
});

after(async () => {
  await stopAll();
});

const skip = haveOpenssl ? false : "openssl is not installed";

describe("TLS downgrade on the connecting side", { skip }, () => {
  it("an agent with TLS and LIBPROCESS_SSL_SUPPORT_DOWNGRADE registers with a plain master; without downgrade it cannot", async () => {
    const master = await startMaster();
    const strict = await startAgent({
      master: master.address,
      env: tlsEnv(),
      // Its /health is TLS only: the harness' plain probe would never pass.
      waitReady: false,
    });
    await waitLong("the TLS-only agent to fail connecting to the plain master", () =>
      new RegExp(`Failed to connect to ${master.address.replace(/\./g, "\\.")}`).test(
        strict.logs(),
      ),
    );
    await strict.stop();
    const agent = await startAgent({
      master: master.address,
      env: tlsEnv("node", { LIBPROCESS_SSL_SUPPORT_DOWNGRADE: "true" }),
    });
    await waitForAgents(master, 1);
    const state = (await (await fetch(`${master.url}/master/slaves`)).json()) as {
      slaves: { pid: string }[];
    };
    assert.deepEqual(
      state.slaves.map((s) => s.pid.split(":").pop()),
      [String(agent.port)],
    );
    await agent.stop();
    await master.stop();
  });
});

describe("TLS downgrade on the connecting side (master)", { skip }, () => {
  it("a master with TLS and downgrade reaches a plain agent: its TLS attempt fails and it retries in plain", async () => {
    const master = await startMaster({
      env: tlsEnv("node", { LIBPROCESS_SSL_SUPPORT_DOWNGRADE: "true" }),
    });
    const agent = await startAgent({ master: master.address });
    // The agent hears SlaveRegisteredMessage only if the master's messages get through.
    await waitLong("the plain agent to be told it registered", () =>
      /Registered with master master@127\.0\.0\.1:\d+; given agent ID/.test(agent.logs()),
    );
    await agent.stop();
    await master.stop();
  });
});

describe("TLS client certificates with legacy hostname validation", { skip }, () => {
  it("the master drops clients whose certificate does not name their reverse-DNS name", async () => {
    // Downgrade on the master only so the harness can probe /health in plain;
    // TLS clients are checked all the same.
    const master = await startMaster({
      env: tlsEnv("node", {
        LIBPROCESS_SSL_REQUIRE_CLIENT_CERT: "true",
        LIBPROCESS_SSL_SUPPORT_DOWNGRADE: "true",
      }),
    });
    // HTTPS: a certificate naming this host is served, another host's is dropped, none is refused.
    assert.equal(await httpsGet(master.port, "/health", "node"), 200);
    assert.notEqual(await httpsGet(master.port, "/health", "elsewhere"), 200);
    assert.notEqual(await httpsGet(master.port, "/health"), 200);
    // One the CA did not sign is refused in the handshake, whatever name it carries.
    assert.notEqual(await httpsGet(master.port, "/health", "rogue"), 200);
    await waitFor("the master to log why it dropped the other host's certificate", () =>
      new RegExp(
        `Dropped TLS connection from 127\\.0\\.0\\.1: Presented Certificate Name: elsewhere\\.example does not match peer hostname name: ${loopbackName.replace(/\./g, "\\.")}`,
      ).test(master.logs()),
    );

    // An agent presenting the other host's certificate: its messages never arrive.
    const impostor = await startAgent({
      master: master.address,
      env: tlsEnv("elsewhere", { LIBPROCESS_SSL_SUPPORT_DOWNGRADE: "true" }),
    });
    const drops = (master.logs().match(/Dropped TLS connection/g) ?? []).length;
    await waitLong("the master to drop the impostor agent's connection", () => {
      return (master.logs().match(/Dropped TLS connection/g) ?? []).length > drops;
    });
    const agent = await startAgent({
      master: master.address,
      env: tlsEnv("node", { LIBPROCESS_SSL_SUPPORT_DOWNGRADE: "true" }),
    });
    await waitLong("the agent with the right certificate to register", async () =>
      (await agentPorts(master)).includes(agent.port),
    );
    assert.deepEqual(await agentPorts(master), [agent.port]);
    assert.doesNotMatch(master.logs(), new RegExp(`slave\\(1\\)@127\\.0\\.0\\.1:${impostor.port}`));
    await impostor.stop();
    await agent.stop();
    await master.stop();
  });

  it("client certificate chains are bounded by LIBPROCESS_SSL_VERIFICATION_DEPTH", async () => {
    const env = (depth: string) =>
      tlsEnv("node", {
        LIBPROCESS_SSL_REQUIRE_CLIENT_CERT: "true",
        LIBPROCESS_SSL_SUPPORT_DOWNGRADE: "true",
        LIBPROCESS_SSL_VERIFICATION_DEPTH: depth,
      });
    const strict = await startMaster({ env: env("0") });
    assert.equal(await httpsGet(strict.port, "/health", "node"), 200);
    assert.notEqual(await httpsGet(strict.port, "/health", "chained"), 200);
    await waitFor("the master to log the chain it refused", () =>
      /Dropped TLS connection from 127\.0\.0\.1: Certificate chain too long: more than 0 intermediate CA\(s\)/.test(
        strict.logs(),
      ),
    );
    const lenient = await startMaster({ env: env("1") });
    assert.equal(await httpsGet(lenient.port, "/health", "chained"), 200);
    await strict.stop();
    await lenient.stop();
  });

  it("an agent verifying the master drops a master whose certificate names another host", async () => {
    const master = await startMaster({
      env: tlsEnv("elsewhere", { LIBPROCESS_SSL_SUPPORT_DOWNGRADE: "true" }),
    });
    const agent = await startAgent({
      master: master.address,
      env: tlsEnv("node", { LIBPROCESS_SSL_VERIFY_SERVER_CERT: "true" }),
      waitReady: false,
    });
    await waitLong("the agent to refuse the master's certificate", () =>
      new RegExp(
        `Failed to connect to ${master.address.replace(/\./g, "\\.")}: certificate verification failed: ` +
          `Presented Certificate Name: elsewhere\\.example does not match peer hostname name: ${loopbackName.replace(/\./g, "\\.")}`,
      ).test(agent.logs()),
    );
    const slaves = (await (await fetch(`${master.url}/master/slaves`)).json()) as {
      slaves: unknown[];
    };
    assert.equal(slaves.slaves.length, 0);
    // Our HTTP clients check the same name: the CLI refuses this master, and takes a right one.
    const verifying = tlsEnv("node", { LIBPROCESS_SSL_VERIFY_SERVER_CERT: "true" });
    const cli = await runBinary("mesos", [`--master=${master.address}`, "agent", "list"], {
      env: verifying,
      timeoutMs: 30_000,
    });
    assert.notEqual(cli.code, 0, cli.stdout);
    assert.match(
      cli.stdout + cli.stderr,
      /Presented Certificate Name: elsewhere\.example does not match peer hostname name/,
    );
    await agent.stop();
    await master.stop();
  });
});

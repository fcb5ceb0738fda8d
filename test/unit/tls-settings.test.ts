/**
 * libprocess TLS settings read by tls-client.ts / tls.ts:
 * LIBPROCESS_SSL_CA_DIR, LIBPROCESS_SSL_VERIFY_DEPTH (default 4) and
 * LIBPROCESS_SSL_HOSTNAME_VALIDATION_SCHEME (`legacy` | `openssl`, with
 * LIBPROCESS_SSL_VERIFY_IPADD) as HTTP clients apply them, checked by real handshakes against an
 * in-process TLS server. Certificates come from openssl; skips without it.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { connect, createServer, type Server } from "node:tls";
import { tlsFromEnv } from "../../src/common/process/tls.js";
import { reverseNameSync, tlsClientFromEnv } from "../../src/common/process/tls-client.js";
import { loopbackDnsNames } from "../harness/certificates.js";

let haveOpenssl = true;
try {
  execFileSync("openssl", ["version"], { stdio: "ignore" });
} catch {
  haveOpenssl = false;
}
const skip = haveOpenssl ? false : "openssl is not installed";

let dir = "";
const servers: Server[] = [];
const ports = new Map<string, number>();

const run = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });

/** A certificate `name` signed by `issuer` (self-signed when undefined); `ca` marks a CA. */
function issue(name: string, issuer: string | undefined, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
  run(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${name}`,
  );
  const signer =
    issuer === undefined
      ? ["-signkey", `${name}.key`]
      : ["-CA", `${issuer}.crt`, "-CAkey", `${issuer}.key`, "-CAcreateserial"];
  run(
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    ...signer,
    "-out",
    `${name}.crt`,
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
  );
}

const CA = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign";
const LEAF = (san: string) => `basicConstraints=CA:FALSE\nsubjectAltName=${san}`;
const pem = (name: string) => readFileSync(join(dir, `${name}.crt`));

/** A TLS server presenting `leaf` with the chain `chain` (intermediates, nearest first). */
async function serve(label: string, leaf: string, chain: string[]): Promise<void> {
  const server = createServer(
    {
      cert: Buffer.concat([pem(leaf), ...chain.map(pem)]),
      key: readFileSync(join(dir, `${leaf}.key`)),
    },
    (socket) => socket.end("hi"),
  );
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  ports.set(label, (server.address() as AddressInfo).port);
}

before(async () => {
  if (!haveOpenssl) return;
  dir = mkdtempSync(join(tmpdir(), "mesos-tls-settings-"));
  issue("root", undefined, CA);
  issue("other", undefined, CA);
  issue("inter1", "root", CA);
  issue("inter2", "inter1", CA);
  const names = loopbackDnsNames().map((n) => `DNS:${n}`);
  issue("direct", "root", LEAF(["IP:127.0.0.1", ...names].join(",")));
  issue("deep", "inter2", LEAF(["IP:127.0.0.1", ...names].join(",")));
  issue("misnamed", "root", LEAF("DNS:elsewhere.example"));
  mkdirSync(join(dir, "cadir"));
  mkdirSync(join(dir, "otherdir"));
  writeFileSync(join(dir, "cadir", "root.pem"), pem("root"));
  writeFileSync(join(dir, "cadir", "README"), "not a certificate\n");
  writeFileSync(join(dir, "otherdir", "other.pem"), pem("other"));
  await serve("direct", "direct", []);
  await serve("deep", "deep", ["inter2", "inter1"]);
  await serve("misnamed", "misnamed", []);
});

after(() => {
  for (const s of servers) s.close();
});

/** Connects to server `label` as `host` with the client settings of `env`; the error, if any. */
async function handshake(
  label: string,
  env: Record<string, string>,
  host = "127.0.0.1",
): Promise<string | undefined> {
  const settings = tlsClientFromEnv({
    LIBPROCESS_SSL_ENABLED: "true",
    LIBPROCESS_SSL_VERIFY_SERVER_CERT: "true",
    LIBPROCESS_SSL_CA_DIR: join(dir, "cadir"),
    ...env,
  });
  assert.ok(settings.ok, settings.ok ? "" : settings.error);
  return new Promise((resolve) => {
    const socket = connect({
      ...settings.value,
      host: "127.0.0.1",
      port: ports.get(label),
      ...(host === "127.0.0.1" ? {} : { servername: host }),
    });
    socket.on("secureConnect", () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.on("error", (e) => resolve(e.message));
  });
}

test("tls: LIBPROCESS_SSL_CA_DIR holds the trusted CAs (every certificate file in it)", {
  skip,
}, async () => {
  assert.equal(await handshake("direct", {}), undefined);
  const refused = await handshake("direct", { LIBPROCESS_SSL_CA_DIR: join(dir, "otherdir") });
  assert.match(refused ?? "", /unable to (get local issuer|verify)/i);
  // CA_FILE and CA_DIR add up.
  const both = await handshake("direct", {
    LIBPROCESS_SSL_CA_DIR: join(dir, "otherdir"),
    LIBPROCESS_SSL_CA_FILE: join(dir, "root.crt"),
  });
  assert.equal(both, undefined);
  const missing = tlsClientFromEnv({
    LIBPROCESS_SSL_ENABLED: "1",
    LIBPROCESS_SSL_VERIFY_SERVER_CERT: "1",
    LIBPROCESS_SSL_CA_DIR: join(dir, "nope"),
  });
  assert.equal(missing.ok, false);
  assert.match(missing.ok ? "" : missing.error, /CA directory \(LIBPROCESS_SSL_CA_DIR\) '.*nope'/);
  // As libprocess, nothing verified: the CAs are not read at all.
  const unused = tlsClientFromEnv({
    LIBPROCESS_SSL_ENABLED: "1",
    LIBPROCESS_SSL_CA_DIR: join(dir, "nope"),
  });
  assert.ok(unused.ok && unused.value !== undefined && unused.value.ca === undefined);
});

test("tls: LIBPROCESS_SSL_VERIFY_DEPTH bounds the intermediate CAs (default 4)", {
  skip,
}, async () => {
  assert.equal(await handshake("deep", {}), undefined, "two intermediates pass by default");
  assert.equal(await handshake("deep", { LIBPROCESS_SSL_VERIFY_DEPTH: "2" }), undefined);
  const tooLong = await handshake("deep", { LIBPROCESS_SSL_VERIFY_DEPTH: "1" });
  assert.match(tooLong ?? "", /chain too long/i);
  assert.equal(await handshake("direct", { LIBPROCESS_SSL_VERIFY_DEPTH: "0" }), undefined);
  // Without verification nothing is checked.
  assert.equal(
    await handshake("deep", {
      LIBPROCESS_SSL_VERIFY_DEPTH: "1",
      LIBPROCESS_SSL_VERIFY_SERVER_CERT: "false",
    }),
    undefined,
  );
  const bad = tlsClientFromEnv({ LIBPROCESS_SSL_ENABLED: "1", LIBPROCESS_SSL_VERIFY_DEPTH: "x" });
  assert.match(bad.ok ? "" : bad.error, /LIBPROCESS_SSL_VERIFY_DEPTH='x'/);
});

test("tls: LIBPROCESS_SSL_HOSTNAME_VALIDATION_SCHEME=openssl matches the name or IP; legacy the peer's reverse-DNS name", {
  skip,
}, async () => {
  const openssl = { LIBPROCESS_SSL_HOSTNAME_VALIDATION_SCHEME: "openssl" };
  // legacy (the default): the name 127.0.0.1 has by reverse lookup must be in the certificate.
  assert.equal(await handshake("direct", {}), undefined);
  assert.match(
    (await handshake("misnamed", {})) ?? "",
    /Presented Certificate Name: misnamed does not match peer hostname name: /,
  );
  // openssl: an IP needs VERIFY_IPADD, then it must be in the certificate.
  assert.match((await handshake("direct", openssl)) ?? "", /VERIFY_IPADD/);
  const ipadd = { ...openssl, LIBPROCESS_SSL_VERIFY_IPADD: "true" };
  assert.equal(await handshake("direct", ipadd), undefined);
  assert.match((await handshake("misnamed", ipadd)) ?? "", /IP: 127\.0\.0\.1 is not in the cert/);
  // A DNS name is matched against the certificate's names.
  assert.equal(await handshake("direct", openssl, "localhost"), undefined);
  assert.match((await handshake("misnamed", openssl, "localhost")) ?? "", /localhost/);
  const bad = tlsFromEnv({
    LIBPROCESS_SSL_ENABLED: "1",
    LIBPROCESS_SSL_CERT_FILE: join(dir, "direct.crt"),
    LIBPROCESS_SSL_KEY_FILE: join(dir, "direct.key"),
    LIBPROCESS_SSL_HOSTNAME_VALIDATION_SCHEME: "strict",
  });
  assert.match(bad.ok ? "" : bad.error, /expected 'legacy' or 'openssl'/);
  // The host settings (tls.ts) read the CA directory too.
  const host = tlsFromEnv({
    LIBPROCESS_SSL_ENABLED: "1",
    LIBPROCESS_SSL_VERIFY_SERVER_CERT: "1",
    LIBPROCESS_SSL_CERT_FILE: join(dir, "direct.crt"),
    LIBPROCESS_SSL_KEY_FILE: join(dir, "direct.key"),
    LIBPROCESS_SSL_CA_DIR: join(dir, "cadir"),
  });
  assert.ok(host.ok && host.value !== undefined);
  assert.equal((host.value.client.ca as Buffer[]).length, 1);
});

test("tls: a failed reverse lookup is not kept, and clients that do not verify look nothing up", () => {
  // A getent that fails (no answer from the resolver) until told to answer,
  // counting its runs; first on PATH for this test.
  const bin = mkdtempSync(join(tmpdir(), "h3-getent-"));
  const runs = join(bin, "runs");
  const answer = join(bin, "answer");
  writeFileSync(
    join(bin, "getent"),
    `#!/bin/sh\necho run >> '${runs}'\n[ -f '${answer}' ] || exit 3\necho "$2 node.example"\n`,
    { mode: 0o755 },
  );
  const path = process.env.PATH;
  process.env.PATH = `${bin}:${path ?? ""}`;
  const count = () => {
    try {
      return readFileSync(runs, "utf8").split("\n").filter(Boolean).length;
    } catch {
      return 0;
    }
  };
  try {
    // Addresses of TEST-NET-1: no other test looks them up.
    assert.equal(reverseNameSync("192.0.2.71"), undefined);
    writeFileSync(answer, "");
    assert.equal(reverseNameSync("192.0.2.71"), "node.example", "the failure was kept");
    assert.equal(reverseNameSync("192.0.2.71"), "node.example");
    assert.equal(count(), 2, "an answer is kept");

    // Without LIBPROCESS_SSL_VERIFY_SERVER_CERT no name is checked, so none is looked up.
    const client = tlsClientFromEnv({ LIBPROCESS_SSL_ENABLED: "true" });
    assert.ok(client.ok && client.value !== undefined);
    const check = client.value.checkServerIdentity;
    assert.ok(check !== undefined);
    const cert = { subject: { CN: "other.example" }, subjectaltname: "DNS:other.example" };
    check("192.0.2.72", cert as unknown as Parameters<typeof check>[1]);
    assert.equal(count(), 2, "a client that does not verify looked the server up");
  } finally {
    process.env.PATH = path;
  }
});

/**
 * How the libprocess TLS environment is read (as libprocess' flag loader and
 * openssl.cpp do it) and libprocess' `legacy` hostname check, on fake
 * certificates and a fake reverse lookup.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { PeerCertificate } from "node:tls";
import { tlsFromEnv } from "../../src/common/process/tls.js";
import {
  bool,
  legacyNameCheck,
  read,
  tlsClientFromEnv,
  tlsEnabled,
  verification,
} from "../../src/common/process/tls-client.js";

test("tls env: requiring client certificates turns server verification on, and legacy names only add", () => {
  const v = (env: Record<string, string>) => {
    const r = verification(env);
    assert.ok(r.ok);
    return r.value;
  };
  assert.deepEqual(v({}), { verifyServer: false, requireClient: false });
  assert.deepEqual(v({ LIBPROCESS_SSL_REQUIRE_CLIENT_CERT: "true" }), {
    verifyServer: true,
    requireClient: true,
  });
  // libprocess forces verification on even when it is said to be off.
  assert.deepEqual(
    v({ LIBPROCESS_SSL_REQUIRE_CLIENT_CERT: "1", LIBPROCESS_SSL_VERIFY_SERVER_CERT: "false" }),
    { verifyServer: true, requireClient: true },
  );
  assert.deepEqual(v({ LIBPROCESS_SSL_REQUIRE_CERT: "true", LIBPROCESS_SSL_VERIFY_CERT: "0" }), {
    verifyServer: true,
    requireClient: true,
  });
  assert.deepEqual(
    v({ LIBPROCESS_SSL_VERIFY_CERT: "true", LIBPROCESS_SSL_VERIFY_SERVER_CERT: "false" }),
    { verifyServer: true, requireClient: false },
  );
  const client = tlsClientFromEnv({
    LIBPROCESS_SSL_ENABLED: "true",
    LIBPROCESS_SSL_REQUIRE_CLIENT_CERT: "true",
  });
  assert.ok(client.ok && client.value !== undefined);
  assert.equal(client.value.rejectUnauthorized, true);
});

test("tls env: names match without regard to case, LIBPROCESS_SSL_ wins over SSL_, an empty boolean is true", () => {
  assert.equal(read({ LIBPROCESS_SSL_enabled: "true" }, "ENABLED"), "true");
  assert.equal(read({ SSL_Enabled: "1" }, "ENABLED"), "1");
  assert.equal(read({ SSL_ENABLED: "false", LIBPROCESS_SSL_enabled: "true" }, "ENABLED"), "true");
  assert.equal(read({ SSL_CA_FILE: "/a" }, "CA_FILE"), "/a");
  const empty = bool({ LIBPROCESS_SSL_SUPPORT_DOWNGRADE: "" }, "SUPPORT_DOWNGRADE", false);
  assert.deepEqual(empty, { ok: true, value: true });
  assert.deepEqual(bool({}, "SUPPORT_DOWNGRADE", false), { ok: true, value: false });
  const bad = bool({ LIBPROCESS_SSL_ENABLED: "yes" }, "ENABLED", false);
  assert.equal(bad.ok, false);
  assert.match(
    bad.ok ? "" : bad.error,
    /LIBPROCESS_SSL_ENABLED='yes': expected true, false, 1 or 0/,
  );
  // A client reads the downgrade setting (it retries in plain).
  const client = tlsClientFromEnv({ SSL_ENABLED: "1", LIBPROCESS_SSL_SUPPORT_DOWNGRADE: "1" });
  assert.ok(client.ok && client.value !== undefined);
  assert.equal(client.value.downgrade, true);
});

test("tls env: LIBPROCESS_SSL_VERIFICATION_DEPTH is libprocess' name; the documented VERIFY_DEPTH is read too", () => {
  const bad = (env: Record<string, string>) => {
    const r = tlsClientFromEnv({ LIBPROCESS_SSL_ENABLED: "1", ...env });
    return r.ok ? "" : r.error;
  };
  assert.match(bad({ LIBPROCESS_SSL_VERIFICATION_DEPTH: "x" }), /VERIFICATION_DEPTH='x'/);
  assert.match(bad({ LIBPROCESS_SSL_VERIFY_DEPTH: "-1" }), /VERIFY_DEPTH='-1'/);
  // The real name wins.
  assert.equal(
    bad({ LIBPROCESS_SSL_VERIFICATION_DEPTH: "2", LIBPROCESS_SSL_VERIFY_DEPTH: "x" }),
    "",
  );
});

const cert = (cn: string | undefined, san?: string): PeerCertificate =>
  ({
    subject: cn === undefined ? {} : { CN: cn },
    ...(san === undefined ? {} : { subjectaltname: san }),
  }) as unknown as PeerCertificate;

const names: Record<string, string | undefined> = {
  "10.0.0.1": "node1.example",
  "10.0.0.2": undefined,
};
const reverse = async (ip: string) => (ip in names ? names[ip] : ip);

test("tls legacy: the peer's reverse-DNS name must be a DNS subjectAltName or the common name", async () => {
  const o = { verifyIpadd: false, requireClientCert: false };
  const check = (c: PeerCertificate, ip: string, opts = o) => legacyNameCheck(c, ip, opts, reverse);
  assert.equal(await check(cert("x", "DNS:other, DNS:node1.example"), "10.0.0.1"), undefined);
  assert.equal(await check(cert("node1.example"), "10.0.0.1"), undefined);
  assert.equal(await check(cert("node1.example"), "::ffff:10.0.0.1"), undefined);
  assert.equal(
    await check(cert("other.example", "DNS:other.example"), "10.0.0.1"),
    "Presented Certificate Name: other.example does not match peer hostname name: node1.example",
  );
  // No wildcard matching, as libprocess compares names as strings.
  assert.match((await check(cert("*.example"), "10.0.0.1")) ?? "", /does not match/);
  assert.equal(
    await check(cert(undefined, "IP Address:10.0.0.1"), "10.0.0.1"),
    "Could not verify presented certificate with hostname node1.example, IP 10.0.0.1",
  );
  // An IP subjectAltName counts only with LIBPROCESS_SSL_VERIFY_IPADD.
  const ipadd = { verifyIpadd: true, requireClientCert: false };
  assert.equal(await check(cert(undefined, "IP Address:10.0.0.1"), "10.0.0.1", ipadd), undefined);
  // An address without a name stands for itself (getnameinfo's numeric answer).
  assert.equal(await check(cert("10.0.0.9"), "10.0.0.9"), undefined);
  // The lookup failed: accepted unless this process requires client certificates.
  assert.equal(await check(cert("x"), "10.0.0.2"), undefined);
  assert.equal(
    await check(cert("x"), "10.0.0.2", { verifyIpadd: false, requireClientCert: true }),
    "Cannot verify peer certificate: peer hostname unknown",
  );
});

let haveOpenssl = true;
try {
  execFileSync("openssl", ["version"], { stdio: "ignore" });
} catch {
  haveOpenssl = false;
}

test("tls env: host settings check ECDH curves, warn about downgrade with verification and mismatched SSL_ names", {
  skip: haveOpenssl ? false : "openssl is not installed",
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "h3-tls-env-"));
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-out", "c.pem"].concat([
      "-days",
      "2",
      "-subj",
      "/CN=localhost",
    ]),
    { cwd: dir, stdio: "ignore" },
  );
  const base = {
    LIBPROCESS_SSL_ENABLED: "true",
    LIBPROCESS_SSL_CERT_FILE: join(dir, "c.pem"),
    LIBPROCESS_SSL_KEY_FILE: join(dir, "k.pem"),
  };
  const curves = tlsFromEnv({ ...base, LIBPROCESS_SSL_ECDH_CURVES: "no-such-curve" });
  assert.match(
    curves.ok ? "" : curves.error,
    /Could not load ECDH curves 'no-such-curve' \(LIBPROCESS_SSL_ECDH_CURVES\)/,
  );
  const good = tlsFromEnv({ ...base, LIBPROCESS_SSL_ECDH_CURVES: "P-256:P-384" });
  assert.ok(good.ok && good.value !== undefined);
  assert.equal(good.value.client.ecdhCurve, "P-256:P-384");
  const warned = tlsFromEnv({
    ...base,
    LIBPROCESS_SSL_SUPPORT_DOWNGRADE: "true",
    LIBPROCESS_SSL_REQUIRE_CLIENT_CERT: "true",
    SSL_REQUIRE_CLIENT_CERT: "false",
  });
  assert.ok(warned.ok && warned.value !== undefined);
  assert.equal(warned.value.requireClientCert, true);
  assert.ok(warned.value.inboundCheck !== undefined, "legacy scheme checks clients' names");
  const lines = warned.value.warnings.join("\n");
  assert.match(lines, /can be bypassed because TLS downgrades are enabled/);
  assert.match(lines, /Mismatched values for SSL environment variables SSL_REQUIRE_CLIENT_CERT/);
  const openssl = tlsFromEnv({
    ...base,
    LIBPROCESS_SSL_REQUIRE_CLIENT_CERT: "true",
    LIBPROCESS_SSL_HOSTNAME_VALIDATION_SCHEME: "openssl",
  });
  assert.ok(openssl.ok && openssl.value !== undefined);
  // openssl scheme: clients' chains are bounded, their names not checked.
  const check = openssl.value.inboundCheck;
  assert.ok(check !== undefined);
  const fake = { remoteAddress: "10.0.0.1", getPeerCertificate: () => cert("not-this-host") };
  assert.equal(await check(fake), undefined);
});

test("tls env: one reading of LIBPROCESS_SSL_ENABLED for every process (empty is on, a bad value counts as on)", () => {
  assert.equal(tlsEnabled({}), false);
  assert.equal(tlsEnabled({ LIBPROCESS_SSL_ENABLED: "false" }), false);
  assert.equal(tlsEnabled({ LIBPROCESS_SSL_ENABLED: "0" }), false);
  assert.equal(tlsEnabled({ LIBPROCESS_SSL_ENABLED: "" }), true);
  assert.equal(tlsEnabled({ LIBPROCESS_SSL_ENABLED: "1" }), true);
  assert.equal(tlsEnabled({ SSL_ENABLED: "true" }), true);
  assert.equal(tlsEnabled({ LIBPROCESS_SSL_enabled: "true" }), true);
  // tlsFromEnv refuses it with a line; a process deciding how to run counts it as on.
  assert.equal(tlsEnabled({ LIBPROCESS_SSL_ENABLED: "TRUE" }), true);
  assert.equal(tlsFromEnv({ LIBPROCESS_SSL_ENABLED: "TRUE" }).ok, false);
});

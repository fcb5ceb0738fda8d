/**
 * libprocess' TLS settings (`LIBPROCESS_SSL_*`, or the pre-1.0 `SSL_*`
 * names) as HTTP clients use them. No TLS code is loaded here (types only),
 * so executors pay nothing for it unless TLS is on.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { isIP } from "node:net";
import { join } from "node:path";
import type { ConnectionOptions, PeerCertificate, SecureVersion } from "node:tls";
import { err, ok, type Result } from "../errors/result.js";

/** An environment to read settings from. */
export type Env = Readonly<Record<string, string | undefined>>;

/** A setting by its libprocess name (`LIBPROCESS_SSL_<name>`, or `SSL_<name>`). */
export function read(env: Env, name: string): string | undefined {
  return env[`LIBPROCESS_SSL_${name}`] ?? env[`SSL_${name}`];
}

/** A true/false setting (`true`, `1`, `false`, `0`; empty: `fallback`). */
export function bool(env: Env, name: string, fallback: boolean): Result<boolean, string> {
  const v = read(env, name);
  if (v === undefined || v === "") return ok(fallback);
  if (v === "true" || v === "1") return ok(true);
  if (v === "false" || v === "0") return ok(false);
  return err(`LIBPROCESS_SSL_${name}='${v}': expected true, false, 1 or 0`);
}

/** A file's bytes, or why it cannot be read (`what` names it for the message). */
export function file(path: string, what: string): Result<Buffer, string> {
  try {
    return ok(readFileSync(path));
  } catch (e) {
    return err(`Failed to read the ${what} '${path}': ${(e as Error).message}`);
  }
}

/**
 * The trusted CAs: `LIBPROCESS_SSL_CA_FILE` and every PEM certificate file
 * in `LIBPROCESS_SSL_CA_DIR` (OpenSSL's hashed directory, e.g. made by
 * `openssl rehash`; Node has no lookup by hash, so the whole directory is
 * read once at start). Undefined when neither is set (Node's own roots).
 */
export function trustedCas(env: Env): Result<Buffer[] | undefined, string> {
  const cas: Buffer[] = [];
  const caPath = read(env, "CA_FILE");
  if (caPath !== undefined) {
    const ca = file(caPath, "CA file (LIBPROCESS_SSL_CA_FILE)");
    if (!ca.ok) return ca;
    cas.push(ca.value);
  }
  const dir = read(env, "CA_DIR");
  if (dir !== undefined) {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (e) {
      return err(
        `Failed to read the CA directory (LIBPROCESS_SSL_CA_DIR) '${dir}': ${(e as Error).message}`,
      );
    }
    for (const name of names) {
      const path = join(dir, name);
      try {
        if (!statSync(path).isFile()) continue;
        const pem = readFileSync(path);
        if (pem.includes("-----BEGIN CERTIFICATE-----")) cas.push(pem);
      } catch {
        // A dangling link or an unreadable file is skipped, as OpenSSL's lookup would.
      }
    }
  }
  return ok(caPath === undefined && dir === undefined ? undefined : cas);
}

/** How far up a peer's chain goes: 0 for a self-signed certificate, 1 for one a root signed, ... */
export function chainDepth(cert: PeerCertificate): number {
  let depth = 0;
  let current = cert as PeerCertificate & { issuerCertificate?: PeerCertificate };
  const seen = new Set<string>();
  while (current.issuerCertificate !== undefined && current.issuerCertificate !== current) {
    const key = current.fingerprint256;
    if (seen.has(key)) break;
    seen.add(key);
    current = current.issuerCertificate as PeerCertificate & {
      issuerCertificate?: PeerCertificate;
    };
    if (current.fingerprint256 === key) break;
    depth++;
  }
  return depth;
}

// Builtins only: a fixed base (not the module URL) keeps this module bundleable into the executors.
const requireTls = createRequire("file:///");

/**
 * The server checks of an outbound connection (when verification is on):
 * `LIBPROCESS_SSL_VERIFY_DEPTH` (default 4, as libprocess: at most that
 * many intermediate CAs between the peer and the trust anchor) and
 * `LIBPROCESS_SSL_HOSTNAME_VALIDATION_SCHEME`: `openssl` matches the name
 * (or, with `LIBPROCESS_SSL_VERIFY_IPADD`, the IP) the client connected to
 * against the certificate; `legacy` (the default) checks no name (libprocess
 * would look the peer's name up by reverse DNS; see docs/ssl.md).
 */
export function serverChecks(
  env: Env,
): Result<(host: string, cert: PeerCertificate) => Error | undefined, string> {
  const depthText = read(env, "VERIFY_DEPTH");
  const depth = depthText === undefined || depthText === "" ? 4 : Number(depthText);
  if (!Number.isInteger(depth) || depth < 0) {
    return err(`LIBPROCESS_SSL_VERIFY_DEPTH='${depthText}': expected a whole number >= 0`);
  }
  const scheme = read(env, "HOSTNAME_VALIDATION_SCHEME") ?? "legacy";
  if (scheme !== "legacy" && scheme !== "openssl") {
    return err(
      `LIBPROCESS_SSL_HOSTNAME_VALIDATION_SCHEME='${scheme}': expected 'legacy' or 'openssl'`,
    );
  }
  const ipadd = bool(env, "VERIFY_IPADD", false);
  if (!ipadd.ok) return ipadd;
  return ok((host, cert) => {
    // Levels above the peer: its issuers up to the anchor; `depth` intermediates at most.
    if (chainDepth(cert) > depth + 1) {
      return new Error(
        `Certificate chain too long: more than ${depth} intermediate CA(s) (LIBPROCESS_SSL_VERIFY_DEPTH)`,
      );
    }
    if (scheme === "legacy") return undefined;
    const name = host.replace(/^\[|\]$/g, "");
    if (isIP(name) !== 0 && !ipadd.value) {
      return new Error(
        "No DNS name given and IP address verification is disabled (LIBPROCESS_SSL_VERIFY_IPADD)",
      );
    }
    const tls = requireTls("node:tls") as typeof import("node:tls");
    return tls.checkServerIdentity(name, cert);
  });
}

/** The oldest and newest protocol allowed by the ENABLE_* switches (TLS 1.2 by default, as libprocess). */
export function versions(env: Env): Result<{ min: SecureVersion; max: SecureVersion }, string> {
  const order: [string, SecureVersion, boolean][] = [
    ["ENABLE_TLS_V1_0", "TLSv1", false],
    ["ENABLE_TLS_V1_1", "TLSv1.1", false],
    ["ENABLE_TLS_V1_2", "TLSv1.2", true],
    ["ENABLE_TLS_V1_3", "TLSv1.3", false],
  ];
  const on: SecureVersion[] = [];
  for (const [name, version, fallback] of order) {
    const v = bool(env, name, fallback);
    if (!v.ok) return v;
    if (v.value) on.push(version);
  }
  const min = on[0];
  const max = on[on.length - 1];
  if (min === undefined || max === undefined) return err("every TLS protocol version is disabled");
  return ok({ min, max });
}

/**
 * TLS for HTTP clients (the scheduler library, mesos-execute, the `mesos`
 * CLI, executors), from the same environment: undefined when
 * `LIBPROCESS_SSL_ENABLED` is off, else the options of an outbound
 * connection. The certificate and key are optional here (a client shows
 * them when both are given); `LIBPROCESS_SSL_CA_FILE` / `_CA_DIR` are what
 * the server is checked against (with `serverChecks`) when `LIBPROCESS_SSL_VERIFY_SERVER_CERT` (or
 * `_VERIFY_CERT`) is on. Errors are one line.
 */
export function tlsClientFromEnv(
  env: Env = process.env,
): Result<ConnectionOptions | undefined, string> {
  const enabled = bool(env, "ENABLED", false);
  if (!enabled.ok) return enabled;
  if (!enabled.value) return ok(undefined);
  const options: ConnectionOptions = {};
  const certPath = read(env, "CERT_FILE");
  const keyPath = read(env, "KEY_FILE");
  if (certPath !== undefined && keyPath !== undefined) {
    const cert = file(certPath, "certificate (LIBPROCESS_SSL_CERT_FILE)");
    if (!cert.ok) return cert;
    const key = file(keyPath, "key (LIBPROCESS_SSL_KEY_FILE)");
    if (!key.ok) return key;
    options.cert = cert.value;
    options.key = key.value;
  }
  const cas = trustedCas(env);
  if (!cas.ok) return cas;
  if (cas.value !== undefined) options.ca = cas.value;
  const checks = serverChecks(env);
  if (!checks.ok) return checks;
  const requireLegacy = bool(env, "REQUIRE_CERT", false);
  if (!requireLegacy.ok) return requireLegacy;
  const verifyLegacy = bool(env, "VERIFY_CERT", requireLegacy.value);
  if (!verifyLegacy.ok) return verifyLegacy;
  const verifyServer = bool(env, "VERIFY_SERVER_CERT", verifyLegacy.value);
  if (!verifyServer.ok) return verifyServer;
  const range = versions(env);
  if (!range.ok) return range;
  const ciphers = read(env, "CIPHERS");
  return ok({
    ...options,
    minVersion: range.value.min,
    maxVersion: range.value.max,
    ...(ciphers === undefined ? {} : { ciphers }),
    rejectUnauthorized: verifyServer.value,
    checkServerIdentity: checks.value,
  });
}

let processClientTls: ConnectionOptions | undefined | null = null;

/**
 * `tlsClientFromEnv` of this process' environment, read once (as
 * libprocess does); throws an Error with the one-line reason when the
 * settings are invalid.
 */
export function clientTls(): ConnectionOptions | undefined {
  if (processClientTls === null) {
    const read = tlsClientFromEnv();
    if (!read.ok) throw new Error(read.error);
    processClientTls = read.value;
  }
  return processClientTls;
}

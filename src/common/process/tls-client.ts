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

/**
 * A setting by its libprocess name (`LIBPROCESS_SSL_<name>`, else the
 * pre-1.0 `SSL_<name>`). As libprocess' flag loader, the part after the
 * prefix is matched without regard to case (`LIBPROCESS_SSL_enabled`).
 */
export function read(env: Env, name: string): string | undefined {
  const exact = env[`LIBPROCESS_SSL_${name}`];
  if (exact !== undefined) return exact;
  const lower = name.toLowerCase();
  let legacy: string | undefined;
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (key.startsWith("LIBPROCESS_SSL_")) {
      if (key.slice("LIBPROCESS_SSL_".length).toLowerCase() === lower) return value;
    } else if (key.startsWith("SSL_") && key.slice("SSL_".length).toLowerCase() === lower) {
      legacy = value;
    }
  }
  return legacy;
}

/**
 * A true/false setting: `true`/`1` or `false`/`0`; unset: `fallback`. Set
 * but empty is true, as for any boolean flag libprocess loads.
 */
export function bool(env: Env, name: string, fallback: boolean): Result<boolean, string> {
  const v = read(env, name);
  if (v === undefined) return ok(fallback);
  if (v === "" || v === "true" || v === "1") return ok(true);
  if (v === "false" || v === "0") return ok(false);
  return err(`LIBPROCESS_SSL_${name}='${v}': expected true, false, 1 or 0`);
}

/**
 * Whether TLS is on. A malformed value counts as on: whoever reads the
 * settings in full (`tlsFromEnv`) then fails with its one-line error.
 */
export function tlsEnabled(env: Env): boolean {
  const enabled = bool(env, "ENABLED", false);
  return !enabled.ok || enabled.value;
}

/**
 * Whether outbound connections verify the server and inbound ones require a
 * client certificate. As libprocess: each legacy name turns its setting on
 * (`_VERIFY_CERT`, `_REQUIRE_CERT`), and requiring client certificates turns
 * server verification on too, whatever the other variables say.
 */
export function verification(
  env: Env,
): Result<{ verifyServer: boolean; requireClient: boolean }, string> {
  const names = ["REQUIRE_CLIENT_CERT", "REQUIRE_CERT", "VERIFY_SERVER_CERT", "VERIFY_CERT"];
  const on = new Map<string, boolean>();
  for (const name of names) {
    const v = bool(env, name, false);
    if (!v.ok) return v;
    on.set(name, v.value);
  }
  const requireClient = on.get("REQUIRE_CLIENT_CERT") === true || on.get("REQUIRE_CERT") === true;
  const verifyServer =
    requireClient || on.get("VERIFY_SERVER_CERT") === true || on.get("VERIFY_CERT") === true;
  return ok({ verifyServer, requireClient });
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
 * Why a verified peer's chain is too long: more than `depth` intermediate
 * CAs between it and the trust anchor (`LIBPROCESS_SSL_VERIFICATION_DEPTH`).
 */
export function depthProblem(cert: PeerCertificate, depth: number): string | undefined {
  // Levels above the peer: its issuers up to the anchor.
  return chainDepth(cert) > depth + 1
    ? `Certificate chain too long: more than ${depth} intermediate CA(s) (LIBPROCESS_SSL_VERIFICATION_DEPTH)`
    : undefined;
}

/** `LIBPROCESS_SSL_HOSTNAME_VALIDATION_SCHEME` and `LIBPROCESS_SSL_VERIFY_IPADD`. */
export interface HostnameValidation {
  readonly scheme: "legacy" | "openssl";
  readonly verifyIpadd: boolean;
}

/** Reads the hostname validation settings (`legacy` by default, as libprocess). */
export function hostnameValidation(env: Env): Result<HostnameValidation, string> {
  const scheme = read(env, "HOSTNAME_VALIDATION_SCHEME") ?? "legacy";
  if (scheme !== "legacy" && scheme !== "openssl") {
    return err(
      `LIBPROCESS_SSL_HOSTNAME_VALIDATION_SCHEME='${scheme}': expected 'legacy' or 'openssl'`,
    );
  }
  const ipadd = bool(env, "VERIFY_IPADD", false);
  if (!ipadd.ok) return ipadd;
  return ok({ scheme, verifyIpadd: ipadd.value });
}

/**
 * `LIBPROCESS_SSL_VERIFICATION_DEPTH`, the name libprocess reads (default 4).
 * Mesos' ssl.md calls it `LIBPROCESS_SSL_VERIFY_DEPTH`, which libprocess
 * ignores; we take that name too, the real one winning.
 */
export function verificationDepth(env: Env): Result<number, string> {
  const real = read(env, "VERIFICATION_DEPTH");
  const name = real === undefined ? "VERIFY_DEPTH" : "VERIFICATION_DEPTH";
  const text = real ?? read(env, "VERIFY_DEPTH");
  const depth = text === undefined || text === "" ? 4 : Number(text);
  if (!Number.isInteger(depth) || depth < 0) {
    return err(`LIBPROCESS_SSL_${name}='${text}': expected a whole number >= 0`);
  }
  return ok(depth);
}

/**
 * The checks of an outbound connection's server certificate during the
 * handshake (when verification is on): the chain depth (at most
 * `LIBPROCESS_SSL_VERIFICATION_DEPTH` intermediate CAs between the peer and
 * the trust anchor) and, with the `openssl` scheme, the name (or, with
 * `LIBPROCESS_SSL_VERIFY_IPADD`, the IP) the client connected to. The
 * `legacy` scheme's name check runs after the handshake (`legacyNameCheck`).
 */
export function serverChecks(
  env: Env,
  legacyInline?: LegacyOptions,
): Result<(host: string, cert: PeerCertificate) => Error | undefined, string> {
  const depth = verificationDepth(env);
  if (!depth.ok) return depth;
  const validation = hostnameValidation(env);
  if (!validation.ok) return validation;
  const { scheme, verifyIpadd } = validation.value;
  return ok((host, cert) => {
    const tooLong = depthProblem(cert, depth.value);
    if (tooLong !== undefined) return new Error(tooLong);
    const name = host.replace(/^\[|\]$/g, "");
    if (scheme === "legacy") {
      if (legacyInline === undefined) return undefined;
      // An HTTP client: the name of the address connected to, else the name used.
      const ip = isIP(name) !== 0 ? plainIp(name) : undefined;
      const peerName = ip === undefined ? name : reverseNameSync(ip);
      const problem = legacyNameMatch(cert, ip, peerName, legacyInline);
      return problem === undefined ? undefined : new Error(problem);
    }
    if (isIP(name) !== 0 && !verifyIpadd) {
      return new Error(
        "No DNS name given and IP address verification is disabled (LIBPROCESS_SSL_VERIFY_IPADD)",
      );
    }
    const tls = requireTls("node:tls") as typeof import("node:tls");
    return tls.checkServerIdentity(name, cert);
  });
}

/** `::ffff:10.0.0.1` (an IPv4 peer of a dual-stack socket) is `10.0.0.1`. */
function plainIp(ip: string): string {
  return ip.startsWith("::ffff:") && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/**
 * The name of `ip` by reverse lookup (getnameinfo, so /etc/hosts counts), as
 * libprocess asks it: an address without a name stands for itself; undefined
 * when the lookup fails otherwise.
 */
export async function reverseName(ip: string): Promise<string | undefined> {
  const dns = requireTls("node:dns") as typeof import("node:dns");
  try {
    return (await dns.promises.lookupService(ip, 0)).hostname;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOTFOUND" ? ip : undefined;
  }
}

/** How the `legacy` check decides, besides the names. */
export interface LegacyOptions {
  readonly verifyIpadd: boolean;
  readonly requireClientCert: boolean;
}

/**
 * libprocess' `legacy` hostname validation of `cert` for a peer at `ip`
 * whose reverse-DNS name is `name` (undefined: unknown): the name must be a
 * DNS subjectAltName of the certificate or, if none matches, its common
 * name; with `LIBPROCESS_SSL_VERIFY_IPADD` an IP subjectAltName equal to
 * the peer's IP (v4) passes too. When no name is known and IP verification
 * is off, the peer passes unless this process requires client
 * certificates. Returns why the connection must be dropped, or undefined.
 */
export function legacyNameMatch(
  cert: PeerCertificate,
  ip: string | undefined,
  name: string | undefined,
  options: LegacyOptions,
): string | undefined {
  if (name === undefined && !options.verifyIpadd) {
    return options.requireClientCert
      ? "Cannot verify peer certificate: peer hostname unknown"
      : undefined;
  }
  for (const entry of (cert.subjectaltname ?? "").split(/,\s*/)) {
    if (name !== undefined && entry === `DNS:${name}`) return undefined;
    const ipEntry = options.verifyIpadd && ip !== undefined && isIP(ip) === 4;
    if (ipEntry && entry === `IP Address:${ip}`) return undefined;
  }
  const cn = cert.subject?.CN;
  if (name !== undefined && typeof cn === "string" && cn !== "") {
    return cn === name
      ? undefined
      : `Presented Certificate Name: ${cn} does not match peer hostname name: ${name}`;
  }
  const details = [
    ...(name === undefined ? [] : [`hostname ${name}`]),
    ...(ip === undefined ? [] : [`IP ${ip}`]),
  ];
  return `Could not verify presented certificate with ${details.join(", ")}`;
}

/**
 * The `legacy` check once a verified TLS connection is up (daemons: client
 * side with server verification, server side when client certificates are
 * required): the peer's IP is looked up by reverse DNS first. Resolves
 * with why the connection must be dropped, or undefined.
 */
export async function legacyNameCheck(
  cert: PeerCertificate,
  peerIp: string | undefined,
  options: LegacyOptions & { hostname?: string | undefined },
  reverse: (ip: string) => Promise<string | undefined> = reverseName,
): Promise<string | undefined> {
  const ip = peerIp === undefined ? undefined : plainIp(peerIp);
  let name = options.hostname;
  if (ip !== undefined) name = (await reverse(ip)) ?? name;
  return legacyNameMatch(cert, ip, name, options);
}

const reverseNames = new Map<string, string | undefined>();

/**
 * `reverseName`, synchronously (for `checkServerIdentity`, which cannot
 * wait): asks `getent hosts`, the same resolver library lookup, once per
 * address for the life of the process. A failed lookup is not kept: it
 * lets a peer through (no name known), which must not outlast the failure.
 */
export function reverseNameSync(ip: string): string | undefined {
  if (reverseNames.has(ip)) return reverseNames.get(ip);
  const { execFileSync } = requireTls("node:child_process") as typeof import("node:child_process");
  let name: string | undefined;
  try {
    const out = execFileSync("getent", ["hosts", ip], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 10_000,
    });
    name = out.trim().split(/\s+/)[1];
  } catch (e) {
    // Exit status 2: no entry, and an address without a name stands for itself.
    name = (e as { status?: number }).status === 2 ? ip : undefined;
  }
  if (name !== undefined) reverseNames.set(ip, name);
  return name;
}

/** The part of a TLS socket the post-handshake checks read. */
export interface VerifiedSocket {
  readonly remoteAddress?: string | undefined;
  getPeerCertificate(detailed: true): PeerCertificate;
}

/** A check run once a TLS connection is up; resolves with why to drop it. */
export type AfterHandshake = (socket: VerifiedSocket) => Promise<string | undefined>;

/** The legacy name check for a connection, or undefined when the scheme or settings need none. */
export function legacyCheck(
  validation: HostnameValidation,
  enabled: boolean,
  requireClientCert: boolean,
): AfterHandshake | undefined {
  if (!enabled || validation.scheme !== "legacy") return undefined;
  return (socket) =>
    legacyNameCheck(socket.getPeerCertificate(true), socket.remoteAddress, {
      verifyIpadd: validation.verifyIpadd,
      requireClientCert,
    });
}

/** `LIBPROCESS_SSL_ECDH_CURVES` (libprocess' name; Mesos' ssl.md says `_ECDH_CURVE`): `auto` or a `:` list. */
export function ecdhCurves(env: Env): string | undefined {
  const v = read(env, "ECDH_CURVES") ?? read(env, "ECDH_CURVE");
  return v === undefined || v === "" ? undefined : v;
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

/** The options of an outbound TLS connection, with what libprocess does around the handshake. */
export interface ClientTls extends ConnectionOptions {
  /**
   * The `legacy` hostname check, to run once the handshake is done (dropping
   * the connection when it resolves with a reason); absent when not needed.
   */
  readonly afterHandshake?: AfterHandshake;
  /** `LIBPROCESS_SSL_SUPPORT_DOWNGRADE`: a failed TLS connection is tried again in plain. */
  readonly downgrade?: boolean;
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
export function tlsClientFromEnv(env: Env = process.env): Result<ClientTls | undefined, string> {
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
  const verify = verification(env);
  if (!verify.ok) return verify;
  const { verifyServer, requireClient } = verify.value;
  // As libprocess, the CAs are read only when something is verified.
  if (verifyServer) {
    const cas = trustedCas(env);
    if (!cas.ok) return cas;
    if (cas.value !== undefined) options.ca = cas.value;
  }
  const validation = hostnameValidation(env);
  if (!validation.ok) return validation;
  // An HTTP client cannot wait for a lookup once connected: the legacy
  // name check runs inside the handshake, with a synchronous lookup; only
  // when the server is verified (Node asks checkServerIdentity either way).
  const checks = serverChecks(
    env,
    verifyServer
      ? { verifyIpadd: validation.value.verifyIpadd, requireClientCert: requireClient }
      : undefined,
  );
  if (!checks.ok) return checks;
  const downgrade = bool(env, "SUPPORT_DOWNGRADE", false);
  if (!downgrade.ok) return downgrade;
  const range = versions(env);
  if (!range.ok) return range;
  const ciphers = read(env, "CIPHERS");
  const curves = ecdhCurves(env);
  return ok({
    ...options,
    minVersion: range.value.min,
    maxVersion: range.value.max,
    ...(ciphers === undefined ? {} : { ciphers }),
    ...(curves === undefined ? {} : { ecdhCurve: curves }),
    rejectUnauthorized: verifyServer,
    checkServerIdentity: checks.value,
    downgrade: downgrade.value,
  });
}

let processClientTls: ClientTls | undefined | null = null;

/**
 * `tlsClientFromEnv` of this process' environment, read once (as
 * libprocess does); throws an Error with the one-line reason when the
 * settings are invalid.
 */
export function clientTls(): ClientTls | undefined {
  if (processClientTls === null) {
    const read = tlsClientFromEnv();
    if (!read.ok) throw new Error(read.error);
    processClientTls = read.value;
  }
  return processClientTls;
}

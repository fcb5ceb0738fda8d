/**
 * TLS for a process host, from libprocess' environment variables
 * (`LIBPROCESS_SSL_*`, or the pre-1.0 `SSL_*` names): when enabled, the
 * host's listener speaks TLS (HTTP APIs and inbound messages) and its
 * outbound message connections use TLS too. With
 * `LIBPROCESS_SSL_SUPPORT_DOWNGRADE` the listener also accepts plain
 * connections, telling them apart by their first byte (a TLS handshake
 * starts with 0x16).
 */
import { type ConnectionOptions, createSecureContext, type SecureContext } from "node:tls";
import { err, ok, type Result } from "../errors/result.js";
import { bool, type Env, file, read, serverChecks, trustedCas, versions } from "./tls-client.js";

export { clientTls, tlsClientFromEnv } from "./tls-client.js";

/** What the host does with TLS. */
export interface TlsSettings {
  /** Accept plain connections as well. */
  readonly downgrade: boolean;
  /** Server side: certificate, key, CA, client-certificate policy. */
  readonly secureContext: SecureContext;
  readonly requestCert: boolean;
  readonly requireClientCert: boolean;
  /** Client side, for outbound connections. */
  readonly client: ConnectionOptions;
}

/**
 * Reads the TLS settings from `env`; undefined when
 * `LIBPROCESS_SSL_ENABLED` is off. Errors are one line (missing key or
 * certificate, unreadable files, bad values).
 */
export function tlsFromEnv(env: Env = process.env): Result<TlsSettings | undefined, string> {
  const enabled = bool(env, "ENABLED", false);
  if (!enabled.ok) return enabled;
  if (!enabled.value) return ok(undefined);
  const certPath = read(env, "CERT_FILE");
  const keyPath = read(env, "KEY_FILE");
  if (certPath === undefined || keyPath === undefined) {
    return err(
      "LIBPROCESS_SSL_ENABLED is set but LIBPROCESS_SSL_CERT_FILE and LIBPROCESS_SSL_KEY_FILE are not both given",
    );
  }
  const cert = file(certPath, "certificate (LIBPROCESS_SSL_CERT_FILE)");
  if (!cert.ok) return cert;
  const key = file(keyPath, "key (LIBPROCESS_SSL_KEY_FILE)");
  if (!key.ok) return key;
  const cas = trustedCas(env);
  if (!cas.ok) return cas;
  const ca = cas.value;
  const checks = serverChecks(env);
  if (!checks.ok) return checks;
  const downgrade = bool(env, "SUPPORT_DOWNGRADE", false);
  if (!downgrade.ok) return downgrade;
  const requireLegacy = bool(env, "REQUIRE_CERT", false);
  if (!requireLegacy.ok) return requireLegacy;
  const requireClient = bool(env, "REQUIRE_CLIENT_CERT", requireLegacy.value);
  if (!requireClient.ok) return requireClient;
  const verifyLegacy = bool(env, "VERIFY_CERT", requireClient.value);
  if (!verifyLegacy.ok) return verifyLegacy;
  const verifyServer = bool(env, "VERIFY_SERVER_CERT", verifyLegacy.value);
  if (!verifyServer.ok) return verifyServer;
  const range = versions(env);
  if (!range.ok) return range;
  const ciphers = read(env, "CIPHERS");
  let secureContext: SecureContext;
  try {
    secureContext = createSecureContext({
      cert: cert.value,
      key: key.value,
      ...(ca === undefined ? {} : { ca }),
      minVersion: range.value.min,
      maxVersion: range.value.max,
      ...(ciphers === undefined ? {} : { ciphers }),
    });
  } catch (e) {
    return err(`Invalid TLS certificate or key: ${(e as Error).message}`);
  }
  return ok({
    downgrade: downgrade.value,
    secureContext,
    requestCert: requireClient.value,
    requireClientCert: requireClient.value,
    client: {
      cert: cert.value,
      key: key.value,
      ...(ca === undefined ? {} : { ca }),
      minVersion: range.value.min,
      maxVersion: range.value.max,
      ...(ciphers === undefined ? {} : { ciphers }),
      rejectUnauthorized: verifyServer.value,
      checkServerIdentity: checks.value,
    },
  });
}

/** True when the first byte of a connection starts a TLS handshake record. */
export function looksLikeTls(firstByte: number): boolean {
  return firstByte === 0x16;
}

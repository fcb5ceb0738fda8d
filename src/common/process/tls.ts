/**
 * TLS for a process host, from libprocess' environment variables
 * (`LIBPROCESS_SSL_*`, or the pre-1.0 `SSL_*` names): when enabled, the
 * host's listener speaks TLS (HTTP APIs and inbound messages) and its
 * outbound message connections use TLS too. With
 * `LIBPROCESS_SSL_SUPPORT_DOWNGRADE` the listener also accepts plain
 * connections, telling them apart by their first byte (a TLS handshake
 * starts with 0x16).
 */
import { createSecureContext, type TlsOptions } from "node:tls";
import { err, ok, type Result } from "../errors/result.js";
import {
  type AfterHandshake,
  bool,
  type ClientTls,
  depthProblem,
  type Env,
  ecdhCurves,
  file,
  hostnameValidation,
  legacyCheck,
  read,
  serverChecks,
  trustedCas,
  verification,
  verificationDepth,
  versions,
} from "./tls-client.js";

export { clientTls, tlsClientFromEnv } from "./tls-client.js";

/** What the host does with TLS. */
export interface TlsSettings {
  /** Accept plain connections as well. */
  readonly downgrade: boolean;
  /**
   * Server side: certificate, key, CAs, versions, ciphers and the
   * client-certificate policy, for a `tls.Server` (which is what checks a
   * client's certificate against the CAs; a bare server-side TLSSocket only
   * insists that one is presented).
   */
  readonly serverOptions: TlsOptions;
  readonly requestCert: boolean;
  readonly requireClientCert: boolean;
  /**
   * Server side, with client certificates required and the `legacy`
   * scheme: the client's name check, run once its handshake is done.
   */
  readonly inboundCheck?: AfterHandshake | undefined;
  /** Client side, for outbound connections (with `downgrade` and the legacy check). */
  readonly client: ClientTls;
  /** Settings libprocess warns about at start (one line each). */
  readonly warnings: readonly string[];
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
  const verify = verification(env);
  if (!verify.ok) return verify;
  const { verifyServer, requireClient } = verify.value;
  // As libprocess, the CAs are read only when something is verified.
  const cas = verifyServer ? trustedCas(env) : ok(undefined);
  if (!cas.ok) return cas;
  const ca = cas.value;
  const depth = verificationDepth(env);
  if (!depth.ok) return depth;
  const checks = serverChecks(env);
  if (!checks.ok) return checks;
  const validation = hostnameValidation(env);
  if (!validation.ok) return validation;
  const downgrade = bool(env, "SUPPORT_DOWNGRADE", false);
  if (!downgrade.ok) return downgrade;
  const range = versions(env);
  if (!range.ok) return range;
  const ciphers = read(env, "CIPHERS");
  const curves = ecdhCurves(env);
  if (curves !== undefined) {
    try {
      createSecureContext({ ecdhCurve: curves });
    } catch (e) {
      return err(
        `Could not load ECDH curves '${curves}' (LIBPROCESS_SSL_ECDH_CURVES): ${(e as Error).message}`,
      );
    }
  }
  const contextOptions = {
    cert: cert.value,
    key: key.value,
    ...(ca === undefined ? {} : { ca }),
    minVersion: range.value.min,
    maxVersion: range.value.max,
    ...(ciphers === undefined ? {} : { ciphers }),
    ...(curves === undefined ? {} : { ecdhCurve: curves }),
  };
  try {
    // Made once here so a bad certificate or key stops the daemon with one line.
    createSecureContext(contextOptions);
  } catch (e) {
    return err(`Invalid TLS certificate or key: ${(e as Error).message}`);
  }
  const warnings: string[] = [];
  if (downgrade.value)
    warnings.push("Failed SSL connections will be downgraded to a non-SSL socket");
  if (downgrade.value && verifyServer) {
    warnings.push(
      "TLS certificate verification is on (LIBPROCESS_SSL_VERIFY_SERVER_CERT or " +
        "LIBPROCESS_SSL_REQUIRE_CLIENT_CERT) but can be bypassed because TLS downgrades are enabled",
    );
  }
  for (const name of Object.keys(env)) {
    if (!name.startsWith("SSL_")) continue;
    const modern = env[`LIBPROCESS_${name}`];
    if (modern !== undefined && modern !== env[name]) {
      warnings.push(
        `Mismatched values for SSL environment variables ${name} and LIBPROCESS_${name}`,
      );
    }
  }
  const afterHandshake = legacyCheck(validation.value, verifyServer, requireClient);
  // Client certificates: the chain depth, then (legacy scheme) the client's name.
  const legacyInbound = legacyCheck(validation.value, requireClient, requireClient);
  const inboundCheck: AfterHandshake | undefined = requireClient
    ? async (socket) =>
        depthProblem(socket.getPeerCertificate(true), depth.value) ?? legacyInbound?.(socket)
    : undefined;
  return ok({
    downgrade: downgrade.value,
    serverOptions: {
      ...contextOptions,
      requestCert: requireClient,
      rejectUnauthorized: requireClient,
    },
    requestCert: requireClient,
    requireClientCert: requireClient,
    inboundCheck,
    warnings,
    client: {
      ...contextOptions,
      rejectUnauthorized: verifyServer,
      checkServerIdentity: checks.value,
      ...(afterHandshake === undefined ? {} : { afterHandshake }),
      downgrade: downgrade.value,
    },
  });
}

/** True when the first byte of a connection starts a TLS handshake record. */
export function looksLikeTls(firstByte: number): boolean {
  return firstByte === 0x16;
}

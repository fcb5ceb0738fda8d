/**
 * Where the master is: the `--master` forms Mesos programs take, reduced to
 * one `host:port` the client can dial. `file://` values are read (the file
 * holds one of the other forms); `zk://` names the ZooKeeper group the
 * masters are elected in: `parseMasterSpec` accepts it and
 * `zooKeeperLeaderSource` follows the leader.
 */
import { readFileSync } from "node:fs";
import type { Logger } from "../common/observability/logger.js";
import { type Clock, SystemClock } from "../common/time/clock.js";
import { MasterDetector } from "../common/zookeeper/detector.js";
import { masterInfoAddress } from "../common/zookeeper/master-info-json.js";
import { ZkSession } from "../common/zookeeper/session.js";
import { parseZkUrl, type ZkUrl } from "../common/zookeeper/url.js";

/** A master to dial. */
export interface MasterAddress {
  readonly host: string;
  readonly port: number;
}

/** The result of parsing a `--master` value: an address or a one-line reason. */
export type MasterAddressResult =
  | { readonly ok: true; readonly address: MasterAddress }
  | { readonly ok: false; readonly error: string };

/** Default master port, as Mesos'. */
export const DEFAULT_MASTER_PORT = 5050;

/**
 * Parses `host:port`, `ip:port`, `http://host:port[/...]`, `[v6]:port`,
 * a bare host (port 5050), or `file:///path` holding one of these. A
 * `zk://` URL is no master address: see `parseMasterSpec`.
 */
export function parseMasterAddress(
  text: string,
  readFile: (path: string) => string = (p) => readFileSync(p, "utf8"),
): MasterAddressResult {
  const spec = parseMasterSpec(text, readFile);
  if (!spec.ok) return spec;
  if (spec.value.kind === "zk") {
    return {
      ok: false,
      error: "The master address is a ZooKeeper URL (zk://); the leader must be detected first",
    };
  }
  return { ok: true, address: spec.value.address };
}

/** A `--master` value: a master to dial, or the ZooKeeper group to find the leader in. */
export type MasterSpec =
  | { readonly kind: "address"; readonly address: MasterAddress }
  | { readonly kind: "zk"; readonly url: ZkUrl };

/**
 * Parses any `--master` form: `host:port`, `ip:port`, `http://host:port[/...]`,
 * `[v6]:port`, a bare host (port 5050), `zk://...`, or `file:///path` holding
 * one of these.
 */
export function parseMasterSpec(
  text: string,
  readFile: (path: string) => string = (p) => readFileSync(p, "utf8"),
): { ok: true; value: MasterSpec } | { ok: false; error: string } {
  let value = text.trim();
  if (value.startsWith("file://")) {
    const path = value.slice("file://".length);
    try {
      value = readFile(path).trim();
    } catch (e) {
      return { ok: false, error: `Failed to read master address from '${path}': ${reason(e)}` };
    }
    if (value.startsWith("file://")) {
      return { ok: false, error: `The file '${path}' names another file; give host:port` };
    }
  }
  if (value.startsWith("zk://")) {
    const url = parseZkUrl(value);
    return url.ok ? { ok: true, value: { kind: "zk", url: url.value } } : url;
  }
  if (value === "") return { ok: false, error: "The master address is empty; give host:port" };
  // A comma-separated list names several masters; without leader detection
  // the first one is dialled and redirects lead to the leader.
  const first = value.split(",")[0]?.trim() ?? "";
  const withoutScheme = first.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
  const address = splitHostPort(withoutScheme);
  if (address === undefined) {
    return { ok: false, error: `Invalid master address '${text}': expected host:port` };
  }
  return { ok: true, value: { kind: "address", address } };
}

/** Finds the leading master to dial (ZooKeeper-elected masters). */
export interface LeaderSource {
  /** The leader now, waiting up to `timeoutMs` for one to be elected (undefined: none). */
  leader(timeoutMs: number): Promise<MasterAddress | undefined>;
  /**
   * Calls `fn` whenever the detected leader changes: another master, or
   * none (no master leads, or this client's own ZooKeeper session expired).
   * Returns a function that stops calling it.
   */
  onChange(fn: (leader: MasterAddress | undefined) => void): () => void;
  /** Stops following (closes the ZooKeeper session). */
  close(): void;
}

/** The default ZooKeeper session timeout of schedulers (Mesos' 10 s). */
export const DEFAULT_ZK_SESSION_TIMEOUT_MS = 10_000;

/** A LeaderSource watching the `json.info_*` group at `url` (the session starts now). */
export function zooKeeperLeaderSource(
  url: ZkUrl,
  options: { logger: Logger; clock?: Clock; sessionTimeoutMs?: number | undefined },
): LeaderSource {
  const clock = options.clock ?? new SystemClock();
  const session = new ZkSession({
    url,
    sessionTimeoutMs: options.sessionTimeoutMs ?? DEFAULT_ZK_SESSION_TIMEOUT_MS,
    logger: options.logger,
    clock,
  });
  const detector = new MasterDetector({
    session,
    groupPath: url.path,
    logger: options.logger,
    clock,
  });
  session.start();
  detector.start();
  return {
    leader: async (timeoutMs) => {
      const leader = await detector.waitForLeader(timeoutMs);
      return leader === undefined ? undefined : masterInfoAddress(leader.info);
    },
    onChange: (fn) =>
      detector.onChange((leader) =>
        fn(leader === undefined ? undefined : masterInfoAddress(leader.info)),
      ),
    close: () => {
      detector.stop();
      session.close();
    },
  };
}

/** Splits `host:port` (or `[v6]:port`, or a bare host) into its parts. */
export function splitHostPort(text: string): MasterAddress | undefined {
  let host: string;
  let portText: string | undefined;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close === -1) return undefined;
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== "" && !rest.startsWith(":")) return undefined;
    portText = rest === "" ? undefined : rest.slice(1);
  } else {
    const colon = text.lastIndexOf(":");
    if (colon !== text.indexOf(":")) return undefined;
    host = colon === -1 ? text : text.slice(0, colon);
    portText = colon === -1 ? undefined : text.slice(colon + 1);
  }
  if (host === "" || /[\s/@]/.test(host)) return undefined;
  if (portText === undefined) return { host, port: DEFAULT_MASTER_PORT };
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  return { host, port };
}

/** `host:port`, bracketing IPv6 hosts. */
export function formatMasterAddress(address: MasterAddress): string {
  const host = address.host.includes(":") ? `[${address.host}]` : address.host;
  return `${host}:${address.port}`;
}

/**
 * The master named by a redirect's `Location` header, which Mesos writes
 * scheme-relative (`//host:port/master/api/v1/scheduler`); absolute URLs
 * are accepted too. Undefined when the header names no host.
 */
export function masterFromLocation(location: string): MasterAddress | undefined {
  const match = /^(?:https?:)?\/\/([^/?#]+)/.exec(location.trim());
  if (match?.[1] === undefined) return undefined;
  return splitHostPort(match[1]);
}

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === "ENOENT") return "no such file";
  if (err.code === "EACCES") return "permission denied";
  return err instanceof Error ? err.message : String(e);
}

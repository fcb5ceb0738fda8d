/**
 * Master addresses as operators type them: `host:port`, `host` (port
 * 5050), `http://host:port`, a libprocess pid `master@ip:port`, or
 * `file:///path` whose contents are one of those. `zk://` (ZooKeeper) is
 * understood by `mesos resolve`; other commands need the master itself.
 */
import { readFileSync } from "node:fs";
import { clientTls } from "../../../common/process/tls.js";
import { CliError, usageError } from "./cli-error.js";

/** Without a scheme in an address, libprocess' setting decides (LIBPROCESS_SSL_ENABLED: HTTPS). */
function defaultScheme(): string {
  try {
    return clientTls() === undefined ? "http" : "https";
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}

/** The default master port. */
export const DEFAULT_MASTER_PORT = 5050;

/** An HTTP endpoint the CLI talks to. */
export interface HttpTarget {
  /** What the operator recognises: `master` or `agent`. */
  readonly role: "master" | "agent";
  /** `host:port` as shown in messages. */
  readonly address: string;
  /** `http://host:port` (no trailing slash). */
  readonly baseUrl: string;
}

/** The message for a `zk://` address. */
export function zkNotSupported(address: string): string {
  return (
    `cannot use '${address}' here: this command needs the master as host:port ` +
    `(find the leading master with 'mesos resolve ${address}')`
  );
}

/**
 * Parses a master address. Throws `CliError` (usage) for text that is not
 * an address, and a plain `CliError` for `zk://` and unreadable files.
 */
export function parseMasterAddress(
  text: string,
  readFile: (path: string) => string = (p) => readFileSync(p, "utf8"),
): HttpTarget {
  const value = text.trim();
  if (value === "") throw usageError("the master address is empty");
  if (value.startsWith("zk://")) throw new CliError(zkNotSupported(value));
  if (value.startsWith("file://")) {
    const path = value.slice("file://".length);
    let contents: string;
    try {
      contents = readFile(path);
    } catch (e) {
      throw new CliError(`cannot read the master address from ${path}: ${errorText(e)}`);
    }
    const inner = contents.trim();
    if (inner.startsWith("file://")) {
      throw usageError(`the file ${path} names another file; it must hold host:port`);
    }
    return parseMasterAddress(inner, readFile);
  }
  return parseHostPort(value, "master", DEFAULT_MASTER_PORT);
}

/**
 * `host:port`, `[v6]:port`, `http(s)://host:port[/]`, or `name@host:port`
 * (a libprocess pid) as an HTTP target.
 */
export function parseHostPort(
  text: string,
  role: HttpTarget["role"],
  defaultPort: number,
): HttpTarget {
  let rest = text.trim();
  let scheme = defaultScheme();
  const schemeMatch = /^(https?):\/\//i.exec(rest);
  if (schemeMatch !== null) {
    scheme = (schemeMatch[1] as string).toLowerCase();
    rest = rest.slice(schemeMatch[0].length);
  } else if (rest.includes("://")) {
    throw usageError(`unsupported ${role} address '${text}' (expected host:port)`);
  }
  const at = rest.lastIndexOf("@");
  if (at >= 0) rest = rest.slice(at + 1);
  rest = rest.replace(/\/+$/, "");
  if (rest.includes("/")) {
    throw usageError(`unsupported ${role} address '${text}' (expected host:port)`);
  }
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(rest);
  if (v6 !== null) {
    host = `[${v6[1] as string}]`;
    portText = v6[2];
  } else {
    const colon = rest.lastIndexOf(":");
    if (colon >= 0) {
      host = rest.slice(0, colon);
      portText = rest.slice(colon + 1);
    } else {
      host = rest;
    }
  }
  if (host === "" || /[\s]/.test(host)) {
    throw usageError(`invalid ${role} address '${text}' (expected host:port)`);
  }
  let port = defaultPort;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw usageError(`invalid port in ${role} address '${text}'`);
    }
    port = Number(portText);
  }
  return { role, address: `${host}:${port}`, baseUrl: `${scheme}://${host}:${port}` };
}

function errorText(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES") return "permission denied";
  return e instanceof Error ? e.message : String(e);
}

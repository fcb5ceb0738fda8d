/**
 * Where the master is: the `--master` forms Mesos programs take, reduced to
 * one `host:port` the client can dial. `file://` values are read (the file
 * holds one of the other forms); `zk://` needs leader detection through
 * ZooKeeper, which arrives with the high-availability work.
 */
import { readFileSync } from "node:fs";

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
 * a bare host (port 5050), or `file:///path` holding one of these.
 * `zk://` answers "not supported yet".
 */
export function parseMasterAddress(
  text: string,
  readFile: (path: string) => string = (p) => readFileSync(p, "utf8"),
): MasterAddressResult {
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
    return {
      ok: false,
      error:
        "Detecting the master through ZooKeeper (zk://) is not supported yet " +
        "(high availability issue); give the master as host:port",
    };
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
  return { ok: true, address };
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

/**
 * ZooKeeper URLs as Mesos takes them in `--zk` and `--master`:
 * `zk://host1:port1,host2:port2/path`, `zk://user:password@hosts/path`
 * (digest authentication), or `file:///path` naming a file that holds one
 * of those. We check more than Mesos does (hosts, ports, path) so a typo
 * stops the daemon at start with a one-line reason instead of a silent
 * retry loop against a server that does not exist.
 */
import { readFileSync } from "node:fs";

/** A parsed `zk://` URL. */
export interface ZkUrl {
  /** The servers as the client takes them: `host1:port1,host2:port2`. */
  readonly servers: string;
  /** The group's znode path (`/mesos`); `/` when none was given. */
  readonly path: string;
  /** Digest credentials (`user:password`), when the URL carries them. */
  readonly credentials?: string;
}

export type ZkUrlResult = { ok: true; value: ZkUrl } | { ok: false; error: string };

const SCHEME = "zk://";
/** ZooKeeper's default client port, used for a host without one. */
export const DEFAULT_ZK_PORT = 2181;

/** True if `text` looks like a ZooKeeper URL (or a file that may hold one). */
export function isZkUrl(text: string): boolean {
  return text.trim().startsWith(SCHEME);
}

function checkServer(server: string): string | undefined {
  let host = server;
  let portText: string | undefined;
  if (server.startsWith("[")) {
    const close = server.indexOf("]");
    if (close < 0) return `unclosed '[' in '${server}'`;
    host = server.slice(1, close);
    const rest = server.slice(close + 1);
    if (rest !== "" && !rest.startsWith(":")) return `bad server '${server}'`;
    portText = rest === "" ? undefined : rest.slice(1);
  } else {
    const colon = server.lastIndexOf(":");
    if (colon >= 0) {
      host = server.slice(0, colon);
      portText = server.slice(colon + 1);
    }
  }
  if (host === "" || /[\s/@]/.test(host)) return `bad host in '${server}'`;
  if (portText !== undefined) {
    const port = Number(portText);
    if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) {
      return `bad port '${portText}' in '${server}'`;
    }
  }
  return undefined;
}

/** Parses a `zk://` URL (no `file://`); errors are one line. */
export function parseZkUrl(text: string): ZkUrlResult {
  const s = text.trim();
  const fail = (why: string): ZkUrlResult => ({
    ok: false,
    error: `Invalid ZooKeeper URL '${s}': ${why}`,
  });
  if (!s.startsWith(SCHEME)) return fail("expected 'zk://' at the beginning");
  const rest = s.slice(SCHEME.length);
  const slash = rest.indexOf("/");
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  let path = slash < 0 ? "/" : rest.slice(slash);
  if (path.length > 1 && path.endsWith("/")) path = path.replace(/\/+$/, "");
  if (path === "") path = "/";
  if (/\/\/|[\s?#]/.test(path)) return fail(`bad path '${path}'`);
  if (path.split("/").some((p) => p === "." || p === "..")) {
    return fail(`bad path '${path}'`);
  }
  const at = authority.lastIndexOf("@");
  const credentials = at < 0 ? undefined : authority.slice(0, at);
  const servers = at < 0 ? authority : authority.slice(at + 1);
  if (credentials !== undefined) {
    const colon = credentials.indexOf(":");
    if (colon <= 0) return fail("credentials must be 'user:password'");
  }
  if (servers === "") return fail("no servers; expected zk://host:port[,host:port...]/path");
  const list = servers.split(",");
  for (const server of list) {
    if (server === "") return fail("empty server in the list");
    const problem = checkServer(server);
    if (problem !== undefined) return fail(problem);
  }
  const value: ZkUrl =
    credentials === undefined ? { servers, path } : { servers, path, credentials };
  return { ok: true, value };
}

/**
 * Parses `--zk` / `--master` values that may be `file:///path` (read here;
 * the flag loader may already have read it).
 */
export function parseZkUrlOrFile(
  text: string,
  readFile: (path: string) => string = (p) => readFileSync(p, "utf8"),
): ZkUrlResult {
  const s = text.trim();
  if (!s.startsWith("file://")) return parseZkUrl(s);
  const path = s.slice("file://".length);
  let content: string;
  try {
    content = readFile(path).trim();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : e instanceof Error ? e.message : String(e);
    return { ok: false, error: `Failed to read the ZooKeeper URL from '${path}': ${why}` };
  }
  return parseZkUrl(content);
}

/** The URL as text, with the password hidden (for logs). */
export function formatZkUrl(url: ZkUrl): string {
  const user = url.credentials === undefined ? "" : `${url.credentials.split(":")[0]}:***@`;
  return `${SCHEME}${user}${url.servers}${url.path}`;
}

/** `url.path` joined with `child`. */
export function zkJoin(path: string, child: string): string {
  return path === "/" ? `/${child}` : `${path}/${child}`;
}

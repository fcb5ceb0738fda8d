/**
 * Finding the master from `--master`: `host:port` or `ip:port` (the
 * hostname is resolved), `master@ip:port`, or a comma-separated list of
 * those (the first is used: without ZooKeeper there is no election to pick
 * another). `zk://` needs leader detection, which arrives with high
 * availability. A `file://` value was already read by the flag loader.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";

/** The master's UPID text (`master@ip:port`) or a one-line reason it cannot be found. */
export type MasterAddress = { ok: true; pid: string } | { ok: false; error: string };

/** Splits `host:port` (IPv6 in brackets). */
function splitHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(text);
  if (m === null || m[1] === undefined) return undefined;
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host: m[1], port };
}

/** Parses `--master` without resolving names: the master's host, port and process id. */
export function parseMasterFlag(
  value: string,
): { ok: true; id: string; host: string; port: number } | { ok: false; error: string } {
  const text = value.trim();
  if (text.startsWith("zk://")) {
    return {
      ok: false,
      error:
        "--master=zk://... needs ZooKeeper master detection, which is not supported yet (high availability issue); give the master as host:port",
    };
  }
  const first = (text.split(",")[0] ?? "").trim();
  let id = "master";
  let rest = first;
  const at = first.indexOf("@");
  if (at >= 0) {
    id = first.slice(0, at);
    rest = first.slice(at + 1);
  }
  const hostPort = splitHostPort(rest);
  if (hostPort === undefined || id === "") {
    return {
      ok: false,
      error: `Failed to parse --master '${value}': expected host:port, ip:port or master@ip:port`,
    };
  }
  return { ok: true, id, ...hostPort };
}

/** Resolves `--master` to the master's UPID text. */
export async function resolveMaster(value: string): Promise<MasterAddress> {
  const parsed = parseMasterFlag(value);
  if (!parsed.ok) return parsed;
  let ip = parsed.host;
  if (isIP(ip) === 0) {
    try {
      ip = (await lookup(parsed.host, { family: 4 })).address;
    } catch (e) {
      return {
        ok: false,
        error: `Failed to resolve the master's hostname '${parsed.host}': ${(e as Error).message}`,
      };
    }
  }
  const address = isIP(ip) === 6 ? `[${ip}]:${parsed.port}` : `${ip}:${parsed.port}`;
  return { ok: true, pid: `${parsed.id}@${address}` };
}

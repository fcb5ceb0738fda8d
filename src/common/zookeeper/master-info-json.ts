/**
 * MasterInfo as the JSON Mesos stores in `json.info_*` znodes (proto field
 * names, `ip` as the libprocess number, `address` with the dotted IP).
 */

import type { MasterInfo } from "../protocol/generated/mesos-v1.js";
import { codecFor } from "../protocol/index.js";

/** The znode data for `info`. */
export function encodeMasterInfoJson(info: MasterInfo): Buffer {
  return Buffer.from(codecFor("mesos.v1.MasterInfo").encodeJson(info));
}

/** Reads a `json.info_*` znode; a one-line error for data that is not a MasterInfo. */
export function decodeMasterInfoJson(
  data: Buffer,
): { ok: true; value: MasterInfo } | { ok: false; error: string } {
  let value: unknown;
  try {
    value = JSON.parse(data.toString("utf8"));
  } catch (e) {
    return { ok: false, error: `not JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  const decoded = codecFor("mesos.v1.MasterInfo").decodeJson(value);
  return decoded.ok ? decoded : { ok: false, error: decoded.error.message };
}

/** `host:port` of a leader, as `mesos-resolve` prints it (the IP, else the hostname). */
export function masterInfoAddress(info: MasterInfo): { host: string; port: number } {
  const host = info.address?.ip ?? numberToIp(info.ip) ?? info.hostname ?? "";
  return { host, port: info.address?.port ?? info.port };
}

/** The libprocess IP number back to dotted form (undefined for 0). */
function numberToIp(n: number): string | undefined {
  if (n === 0) return undefined;
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff].join(".");
}

/** The UPID text of the leader (`master@ip:port`). */
export function masterInfoPid(info: MasterInfo): string {
  if (info.pid !== undefined && info.pid !== "") return info.pid;
  const { host, port } = masterInfoAddress(info);
  return `master@${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/**
 * MasterInfo as the JSON Mesos stores in `json.info_*` znodes (proto field
 * names, `ip` as the libprocess number, `address` with the dotted IP).
 */

import type { MasterInfo } from "../protocol/generated/mesos-v1.js";
import { codecFor } from "../protocol/index.js";
import { MASTER_INFO_JSON_LABEL } from "./group.js";

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

/** The label of Mesos' older binary MasterInfo znodes (`info_<seq>`). */
export const MASTER_INFO_LABEL = "info";

/**
 * Reads a master's znode by its label, as Mesos' detector does: `json.info`
 * holds MasterInfo in JSON; the older `info` a binary MasterInfo; a member
 * without a label (the oldest masters) just its UPID text. Any other label
 * is an error.
 */
export function decodeMasterZnode(
  label: string | undefined,
  data: Buffer,
): { ok: true; value: MasterInfo } | { ok: false; error: string } {
  if (label === MASTER_INFO_JSON_LABEL) return decodeMasterInfoJson(data);
  if (label === MASTER_INFO_LABEL) {
    const decoded = codecFor("mesos.v1.MasterInfo").decodeProtobuf(data);
    return decoded.ok
      ? decoded
      : { ok: false, error: `Failed to parse data into MasterInfo: ${decoded.error.message}` };
  }
  if (label === undefined) return masterInfoFromPid(data.toString("utf8").trim());
  return { ok: false, error: `Failed to parse data of unknown label '${label}'` };
}

/** A MasterInfo made from a bare UPID (`master@ip:port`), as Mesos does for old znodes. */
function masterInfoFromPid(
  pid: string,
): { ok: true; value: MasterInfo } | { ok: false; error: string } {
  const m = /^([^@]+)@(\d+)\.(\d+)\.(\d+)\.(\d+):(\d+)$/.exec(pid);
  if (m === null) return { ok: false, error: `'${pid}' is not a master UPID` };
  const octets = [m[2], m[3], m[4], m[5]].map(Number);
  const port = Number(m[6]);
  if (octets.some((o) => o > 255) || port > 65535) {
    return { ok: false, error: `'${pid}' is not a master UPID` };
  }
  const ip = octets.join(".");
  // The libprocess number: the address bytes in network order, read little-endian.
  const number =
    ((octets[3] ?? 0) * 2 ** 24 +
      (octets[2] ?? 0) * 2 ** 16 +
      (octets[1] ?? 0) * 2 ** 8 +
      (octets[0] ?? 0)) >>>
    0;
  return {
    ok: true,
    value: { id: pid, ip: number, port, pid, hostname: ip, address: { ip, port, hostname: ip } },
  };
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

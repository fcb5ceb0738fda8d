/**
 * This master's MasterInfo, as schedulers receive it in SUBSCRIBED and
 * agents and tools read it from `/state`.
 *
 * Capabilities: Mesos 1.12 advertises AGENT_UPDATE (the master handles
 * UpdateSlaveMessage: oversubscribed resources, resource providers,
 * operation feedback), AGENT_DRAINING (DRAIN_AGENT) and QUOTA_V2
 * (UPDATE_QUOTA). Clients switch behaviour on them, so we advertise a
 * capability only once the master really does what it promises; each is
 * added by the issue that implements it (see docs/master.md). AGENT_DRAINING
 * (core/drain.ts) and QUOTA_V2 (UPDATE_QUOTA with guarantees and limits,
 * http/quota.ts) are in.
 */
import { isIP } from "node:net";
import { MESOS_COMPATIBLE_VERSION } from "../common/flags/shared-flags.js";
import type {
  DomainInfo,
  MasterInfo,
  MasterInfo_Capability,
} from "../common/protocol/generated/mesos-v1.js";

/** The capabilities this master advertises (see the module comment for which and why). */
export const MASTER_CAPABILITIES: readonly MasterInfo_Capability[] = [
  { type: "AGENT_DRAINING" },
  { type: "QUOTA_V2" },
];

/**
 * `MasterInfo.ip`: the IPv4 address as libprocess stores it, the four bytes
 * in network order read as a little-endian uint32 (127.0.0.1 -> 16777343).
 * Zero for IPv6.
 */
export function ipToMasterInfoIp(ip: string): number {
  if (isIP(ip) !== 4) return 0;
  const [a, b, c, d] = ip.split(".").map(Number) as [number, number, number, number];
  return (a + b * 2 ** 8 + c * 2 ** 16 + d * 2 ** 24) >>> 0;
}

export interface MasterInfoInit {
  id: string;
  ip: string;
  port: number;
  hostname: string;
  domain?: DomainInfo | undefined;
}

/** Builds the MasterInfo (version: the Mesos version we are compatible with). */
export function buildMasterInfo(init: MasterInfoInit): MasterInfo {
  const info: MasterInfo = {
    id: init.id,
    ip: ipToMasterInfoIp(init.ip),
    port: init.port,
    pid: `master@${init.ip.includes(":") ? `[${init.ip}]` : init.ip}:${init.port}`,
    hostname: init.hostname,
    version: MESOS_COMPATIBLE_VERSION,
    address: { hostname: init.hostname, ip: init.ip, port: init.port },
    capabilities: [...MASTER_CAPABILITIES],
  };
  if (init.domain !== undefined) info.domain = init.domain;
  return info;
}

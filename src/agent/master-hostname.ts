/**
 * The current master's host name for the agent's `/state`
 * (`master_hostname`): the reverse lookup of the IP in the master's pid,
 * as Mesos agents report it. Looked up in the background once per master
 * IP (the state read never waits on DNS); until the answer is in, or when
 * the lookup fails, the key is left out.
 */

import { lookupService } from "node:dns/promises";
import { parseUpid } from "../common/process/upid.js";

export type ReverseLookup = (ip: string, port: number) => Promise<string>;

const systemLookup: ReverseLookup = async (ip, port) => (await lookupService(ip, port)).hostname;

export class MasterHostnames {
  /** Per IP: the name, or null when the lookup failed. */
  private readonly names = new Map<string, string | null>();
  private readonly pending = new Set<string>();

  constructor(private readonly lookup: ReverseLookup = systemLookup) {}

  /** The host name of the master at `pid` (`master@ip:port`), if known yet. */
  of(pid: string | undefined): string | undefined {
    const master = pid === undefined ? undefined : parseUpid(pid);
    if (master === undefined || !master.ok) return undefined;
    const ip = master.value.ip;
    const known = this.names.get(ip);
    if (known !== undefined) return known ?? undefined;
    if (!this.pending.has(ip)) {
      this.pending.add(ip);
      const port = master.value.port;
      const settle = (name: string | null) => {
        this.pending.delete(ip);
        this.names.set(ip, name);
      };
      this.lookup(ip, port).then(settle, () => settle(null));
    }
    return undefined;
  }
}

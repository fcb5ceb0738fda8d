/**
 * Test harness: a small virtual network of "hosts" on one machine. Each
 * host is a Linux network namespace with its own IP on a veth pair whose
 * other end is plugged into a bridge in the root namespace (which also gets
 * an address, so the test process reaches every host). A host can be cut
 * off the bridge (its veth taken down: a partition) and healed.
 *
 *   const skipReason = netnsUnavailable();   // string when not root / no `ip netns`
 *   const net = await VirtualNetwork.create(["zk", "m1", "m2"]);
 *   const child = net.host("m1").spawn(process.execPath, [...]);
 *   await net.host("m1").partition(); ... await net.host("m1").heal();
 *   after(() => net.cleanup());
 */
import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from "node:child_process";
import { existsSync } from "node:fs";

/** Why netns tests must skip here, or undefined when they can run. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "network namespace tests need root";
  if (!existsSync("/usr/sbin/ip") && !existsSync("/sbin/ip") && !existsSync("/usr/bin/ip")) {
    return "network namespace tests need iproute2 (`ip`)";
  }
  try {
    execFileSync("ip", ["netns", "list"], { stdio: "ignore" });
  } catch {
    return "`ip netns` is not available here";
  }
  return undefined;
}

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** One host: a namespace with one address. */
export interface NetHost {
  readonly name: string;
  /** The namespace (`ip netns exec <ns> ...`). */
  readonly namespace: string;
  readonly ip: string;
  /** Spawns a command inside the host's namespace. */
  spawn(command: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  /** Cuts the host off the bridge (nothing in or out). */
  partition(): void;
  /** Plugs it back in. */
  heal(): void;
}

const networks = new Set<VirtualNetwork>();

/** A bridge and one namespace per host. */
export class VirtualNetwork {
  private readonly hosts = new Map<string, NetHost>();
  private readonly namespaces: string[] = [];
  private readonly links: string[] = [];
  private cleaned = false;

  private constructor(
    /** Short unique tag used in every interface and namespace name. */
    readonly tag: string,
    readonly bridge: string,
    /** The first three octets, e.g. `10.213.7`. */
    readonly prefix: string,
  ) {}

  /** The root namespace's address on the bridge (reachable from every host). */
  get gateway(): string {
    return `${this.prefix}.1`;
  }

  /** Creates the bridge and the hosts (addresses .2, .3, ... in order). */
  static create(names: readonly string[]): VirtualNetwork {
    const tag = `${process.pid % 10000}${Math.floor(Math.random() * 100)}`.slice(0, 6);
    const octet = 16 + (Number(tag) % 200);
    const net = new VirtualNetwork(tag, `mtsbr${tag}`, `10.213.${octet}`);
    networks.add(net);
    try {
      ip("link", "add", net.bridge, "type", "bridge");
      net.links.push(net.bridge);
      ip("addr", "add", `${net.gateway}/24`, "dev", net.bridge);
      ip("link", "set", net.bridge, "up");
      names.forEach((name, i) => {
        net.addHost(name, i);
      });
    } catch (error) {
      net.cleanup();
      const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
      throw new Error(`Failed to set up the virtual network: ${stderr ?? String(error)}`);
    }
    return net;
  }

  private addHost(name: string, index: number): void {
    const ns = `mts${this.tag}-${name}`;
    const outside = `mts${this.tag}h${index}`;
    const inside = `mts${this.tag}p${index}`;
    const address = `${this.prefix}.${index + 2}`;
    ip("netns", "add", ns);
    this.namespaces.push(ns);
    ip("link", "add", outside, "type", "veth", "peer", "name", inside);
    this.links.push(outside);
    ip("link", "set", inside, "netns", ns);
    ip("link", "set", outside, "master", this.bridge);
    ip("link", "set", outside, "up");
    ip("netns", "exec", ns, "ip", "addr", "add", `${address}/24`, "dev", inside);
    ip("netns", "exec", ns, "ip", "link", "set", inside, "up");
    ip("netns", "exec", ns, "ip", "link", "set", "lo", "up");
    this.hosts.set(name, {
      name,
      namespace: ns,
      ip: address,
      spawn: (command, args, options = {}) =>
        spawn("ip", ["netns", "exec", ns, command, ...args], options),
      partition: () => ip("link", "set", outside, "down"),
      heal: () => ip("link", "set", outside, "up"),
    });
  }

  /** The host called `name`. */
  host(name: string): NetHost {
    const h = this.hosts.get(name);
    if (h === undefined) throw new Error(`No host '${name}' in the virtual network`);
    return h;
  }

  /** Removes the namespaces, veths and the bridge (idempotent). */
  cleanup(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    networks.delete(this);
    for (const ns of this.namespaces.splice(0)) {
      try {
        ip("netns", "del", ns);
      } catch {
        // already gone
      }
    }
    for (const link of this.links.splice(0).reverse()) {
      try {
        ip("link", "del", link);
      } catch {
        // deleting a namespace removes its veth pair too
      }
    }
  }
}

process.once("exit", () => {
  for (const n of [...networks]) n.cleanup();
});

/**
 * `network/cni`: a container whose `ContainerInfo.network_infos` name CNI
 * networks gets a network namespace of its own, attached to each network
 * by the network's CNI plugin (`CNI_COMMAND=ADD` before the executor
 * starts, `DEL` once the container is gone). Containers naming no network
 * stay on the host's network.
 *
 * Networks are the configuration files in `--network_cni_config_dir`;
 * plugins are looked up in `--network_cni_plugins_dir` (a `:` list), as
 * Mesos does. What `DEL` needs is kept under the CNI root directory
 * (`<runtime_dir|work_dir>/isolators/network/cni`, Mesos' layout):
 *
 *     <root>/<container id>/ns                    the namespace (bind mount)
 *     <root>/<container id>/uts                   its UTS namespace (hostname; not in Mesos)
 *     <root>/<container id>/hosts, hostname, resolv.conf  the container's /etc files
 *     <root>/<container id>/<network>/network.conf the configuration given to ADD
 *     <root>/<container id>/<network>/<ifname>/network.info  ADD's answer
 *
 * so a restarted agent can still detach containers that ended while it was
 * away. Unlike Mesos, which clones the executor into a new namespace and
 * runs ADD on it while the executor waits, the namespace here is made and
 * attached in `prepare` and the launch shim joins it (`nsenter --net`): the
 * executor never runs before its network is there, and its IP is known for
 * its environment and first status update.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import type { Logger } from "../../../common/observability/logger.js";
import type {
  NetworkInfo,
  ResourceStatistics,
} from "../../../common/protocol/generated/mesos-v1.js";
import { BaseIsolator, type ContainerConfig, type LaunchPreparation } from "./isolator.js";

/** How nested container ids are written (`<parent>/mesos/<child>`). */
const NESTED_SEPARATOR = "/mesos/";

/** `isolators/network/cni` below `--runtime_dir` (or `--work_dir` when persisted). */
export const CNI_DIR = "isolators/network/cni";

/** The PATH the agent and plugins find host programs with. */
const HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface NetworkCniFlags {
  network_cni_plugins_dir?: string | undefined;
  network_cni_config_dir?: string | undefined;
  network_cni_root_dir_persist: boolean;
  /** `--network_cni_metrics` (default true): interface statistics in the container's usage. */
  network_cni_metrics?: boolean | undefined;
  /** `--default_container_dns` (ContainerDNSInfo JSON). */
  default_container_dns?: unknown;
  work_dir: string;
  runtime_dir: string;
}

/** The CNI root directory, as Mesos picks it. */
export function cniRootDir(flags: NetworkCniFlags): string {
  return join(flags.network_cni_root_dir_persist ? flags.work_dir : flags.runtime_dir, CNI_DIR);
}

/** Mesos' name for a container id in paths (`parent.child` for nested ones). */
function containerDirName(containerId: string): string {
  return containerId.split(NESTED_SEPARATOR).join(".");
}

/** The first `file` found in the `:` list `dirs`. */
function which(file: string, dirs: string): string | undefined {
  // A plugin is a file in one of the directories: no `/` or `..` leads root elsewhere.
  if (file === "" || file === "." || file === ".." || file.includes("/")) return undefined;
  for (const dir of dirs.split(delimiter)) {
    if (dir === "") continue;
    const path = join(dir, file);
    try {
      if (statSync(path).isFile()) return path;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * Why a container's hostname (ContainerInfo.hostname, chosen by the
 * framework) cannot be set, or undefined. It becomes a program argument run
 * as root and a line of the container's /etc/hosts, so a leading `-`,
 * whitespace, control characters and `/` are refused, as is a name longer
 * than the kernel's 64 bytes.
 */
export function hostnameError(hostname: string): string | undefined {
  if (
    hostname === "" ||
    hostname.startsWith("-") ||
    Buffer.byteLength(hostname, "utf8") > 64 ||
    /[\s/\p{Cc}]/u.test(hostname)
  ) {
    return `Invalid hostname '${JSON.stringify(hostname).slice(1, -1)}' in ContainerInfo: it must be 1-64 bytes, not start with '-', and hold no whitespace, control characters or '/'`;
  }
  return undefined;
}

/** A parsed network configuration (only what is checked here). */
type NetworkConfig = Record<string, unknown> & { name: string; type: string };

/** Parses a configuration file's text, or says why it is not one. */
export function parseNetworkConfig(text: string): NetworkConfig | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return `JSON parse failed: ${(e as Error).message}`;
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return "JSON parse failed: not an object";
  }
  const config = json as Record<string, unknown>;
  if (typeof config.name !== "string") {
    return "Protobuf parse failed: missing required field 'name'";
  }
  if (typeof config.type !== "string") {
    return "Protobuf parse failed: missing required field 'type'";
  }
  const ipam = config.ipam;
  if (ipam !== undefined && (typeof ipam !== "object" || ipam === null)) {
    return "Protobuf parse failed: 'ipam' is not an object";
  }
  return config as NetworkConfig;
}

/**
 * The networks of `configDir` (name -> file), as Mesos loads them: files
 * that cannot be read or parsed, a second file for a network, and networks
 * whose plugin or IPAM plugin is missing are logged and skipped.
 */
export function loadNetworkConfigs(
  configDir: string,
  pluginsDir: string,
  logger: Logger,
): Map<string, string> {
  let entries: string[];
  try {
    entries = readdirSync(configDir).sort();
  } catch (e) {
    throw new Error(
      `Unable to list the CNI network configuration directory '${configDir}': ${(e as Error).message}`,
    );
  }
  const configs = new Map<string, string>();
  for (const entry of entries) {
    const path = join(configDir, entry);
    try {
      if (statSync(path).isDirectory()) continue;
    } catch {
      continue;
    }
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      logger.error(
        `Failed to read CNI network configuration file '${path}': ${(e as Error).message}`,
      );
      continue;
    }
    const config = parseNetworkConfig(text);
    if (typeof config === "string") {
      logger.error(`Failed to parse CNI network configuration file '${path}': ${config}`);
      continue;
    }
    if (configs.has(config.name)) {
      logger.error(
        `Multiple network configuration for a CNI network is not allowed. Skipping configuration file '${path} since network ${config.name} already exists`,
      );
      continue;
    }
    if (which(config.type, pluginsDir) === undefined) {
      logger.error(
        `Skipping network '${config.name}' , from configuration file '${path}', since we failed to find CNI plugin '${config.type}' used by this network.`,
      );
      continue;
    }
    const ipamType = (config.ipam as { type?: unknown } | undefined)?.type;
    if (typeof ipamType === "string" && which(ipamType, pluginsDir) === undefined) {
      logger.error(
        `Skipping network '${config.name}' , from configuration file '${path}', since we failed to find IPAM plugin '${ipamType}' used by this network.`,
      );
      continue;
    }
    configs.set(config.name, path);
  }
  return configs;
}

/** What a program printed and how it ended. */
interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `file` with `args`, `input` on its stdin. */
function execute(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<Exit> {
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      env: options.env ?? { PATH: process.env.PATH ?? HOST_PATH },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.once("error", (e) => resolve({ code: null, stdout, stderr: e.message }));
    child.once("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input ?? "");
  });
}

/** The addresses of a plugin's answer (CNI 0.2.0 `ip4`/`ip6` or 0.3+ `ips`), without prefix. */
export function pluginAddresses(result: unknown): { ip4: string[]; ip6: string[] } {
  const out = { ip4: [] as string[], ip6: [] as string[] };
  if (typeof result !== "object" || result === null) return out;
  const r = result as {
    ip4?: { ip?: unknown };
    ip6?: { ip?: unknown };
    ips?: { version?: unknown; address?: unknown }[];
  };
  const bare = (cidr: string) => cidr.split("/")[0] ?? cidr;
  if (typeof r.ip4?.ip === "string") out.ip4.push(bare(r.ip4.ip));
  if (typeof r.ip6?.ip === "string") out.ip6.push(bare(r.ip6.ip));
  if (Array.isArray(r.ips)) {
    for (const ip of r.ips) {
      if (typeof ip?.address !== "string") continue;
      const address = bare(ip.address);
      const v6 = ip.version === "6" || (ip.version === undefined && address.includes(":"));
      (v6 ? out.ip6 : out.ip4).push(address);
    }
  }
  return out;
}

/** What a plugin's answer says about DNS (its `dns` object), if anything. */
export function pluginDns(result: unknown): DnsSettings | undefined {
  const dns = (result as { dns?: unknown } | undefined)?.dns;
  return typeof dns === "object" && dns !== null ? dnsSettings(dns) : undefined;
}

/** resolv.conf text for `dns`, in Mesos' order (domain, search, options, nameservers). */
export function formatResolverConfig(dns: {
  domain?: string | undefined;
  search: readonly string[];
  options: readonly string[];
  nameservers: readonly string[];
}): string {
  let out = dns.domain === undefined ? "" : `domain ${dns.domain}\n`;
  if (dns.search.length > 0) out += `search ${dns.search.join(" ")}\n`;
  if (dns.options.length > 0) out += `options ${dns.options.join(" ")}\n`;
  for (const server of dns.nameservers) out += `nameserver ${server}\n`;
  return out;
}

/** Sums /proc/net/dev counters of `ifNames` into ResourceStatistics' net_* fields. */
export function interfaceStatistics(
  procNetDev: string,
  ifNames: ReadonlySet<string>,
): ResourceStatistics {
  const stats = {
    timestamp: 0,
    net_rx_packets: 0,
    net_rx_bytes: 0,
    net_rx_errors: 0,
    net_rx_dropped: 0,
    net_tx_packets: 0,
    net_tx_bytes: 0,
    net_tx_errors: 0,
    net_tx_dropped: 0,
  };
  for (const line of procNetDev.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0 || !ifNames.has(line.slice(0, colon).trim())) continue;
    // rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets errs drop ...
    const n = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    stats.net_rx_bytes += n[0] ?? 0;
    stats.net_rx_packets += n[1] ?? 0;
    stats.net_rx_errors += n[2] ?? 0;
    stats.net_rx_dropped += n[3] ?? 0;
    stats.net_tx_bytes += n[8] ?? 0;
    stats.net_tx_packets += n[9] ?? 0;
    stats.net_tx_errors += n[10] ?? 0;
    stats.net_tx_dropped += n[11] ?? 0;
  }
  return stats;
}

/** DNS settings as `--default_container_dns` and plugins give them. */
export interface DnsSettings {
  domain?: string | undefined;
  search: string[];
  options: string[];
  nameservers: string[];
}

/** The CNI part of `--default_container_dns`: a default and per-network settings. */
export interface DefaultCniDns {
  fallback?: DnsSettings | undefined;
  byNetwork: Map<string, DnsSettings>;
}

/** A ContainerDNSInfo `dns` object as DnsSettings (unknown shapes give empty lists). */
function dnsSettings(value: unknown): DnsSettings {
  const d = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  const strings = (v: unknown) =>
    Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  return {
    ...(typeof d.domain === "string" ? { domain: d.domain } : {}),
    search: strings(d.search),
    options: strings(d.options),
    nameservers: strings(d.nameservers),
  };
}

/**
 * Checks `--default_container_dns` (a ContainerDNSInfo as JSON) with Mesos'
 * rules and messages and returns its CNI part; the Docker part is only
 * checked.
 */
export function parseDefaultContainerDns(
  value: unknown,
): { ok: true; dns: DefaultCniDns } | { ok: false; error: string } {
  const dns: DefaultCniDns = { byNetwork: new Map() };
  if (value === undefined) return { ok: true, dns };
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, error: "Expected a ContainerDNSInfo JSON object" };
  }
  const info = value as { mesos?: unknown; docker?: unknown };
  const list = (v: unknown) =>
    (Array.isArray(v) ? v : []).filter(
      (x): x is Record<string, unknown> => typeof x === "object" && x !== null,
    );
  const unknownMode = "UNKNOWN network mode configured in `--default_container_dns`";
  const hostMode =
    "Configuring DNS for HOST network with `--default_container_dns` is not yet supported";
  for (const entry of list(info.mesos)) {
    const mode = entry.network_mode ?? "UNKNOWN";
    if (mode === "HOST") return { ok: false, error: hostMode };
    if (mode !== "CNI") return { ok: false, error: unknownMode };
    const name = entry.network_name;
    if (typeof name !== "string") {
      if (dns.fallback !== undefined) {
        return {
          ok: false,
          error:
            "Multiple DNS configuration without network name for CNI network in `--default_container_dns` is not allowed",
        };
      }
      dns.fallback = dnsSettings(entry.dns);
    } else {
      if (dns.byNetwork.has(name)) {
        return {
          ok: false,
          error: `Multiple DNS configuration with the same network name '${name}' for CNI network in \`--default_container_dns\` is not allowed`,
        };
      }
      dns.byNetwork.set(name, dnsSettings(entry.dns));
    }
  }
  let bridge = false;
  let userDefault = false;
  const userNames = new Set<string>();
  for (const entry of list(info.docker)) {
    const mode = entry.network_mode ?? "UNKNOWN";
    if (mode === "HOST") return { ok: false, error: hostMode };
    if (mode === "BRIDGE") {
      if (bridge) {
        return {
          ok: false,
          error:
            "Multiple DNS configuration for Docker default bridge network in `--default_container_dns` is not allowed",
        };
      }
      bridge = true;
    } else if (mode === "USER") {
      const name = entry.network_name;
      if (typeof name !== "string") {
        if (userDefault) {
          return {
            ok: false,
            error:
              "Multiple DNS configuration without network name for user-defined CNM network in `--default_container_dns` is not allowed",
          };
        }
        userDefault = true;
      } else {
        if (userNames.has(name)) {
          return {
            ok: false,
            error: `Multiple DNS configuration with the same network name '${name}' for user-defined CNM network in \`--default_container_dns\` is not allowed`,
          };
        }
        userNames.add(name);
      }
    } else {
      return { ok: false, error: unknownMode };
    }
  }
  return { ok: true, dns };
}

/** One network a container joins. */
interface ContainerNetwork {
  name: string;
  ifName: string;
  /** The NetworkInfo the task gave (reported back with the addresses). */
  networkInfo: NetworkInfo;
  /** The plugin's answer to ADD, once attached. */
  result?: unknown;
}

interface Info {
  networks: ContainerNetwork[];
}

export interface NetworkCniOptions {
  pluginsDir: string;
  configDir: string;
  rootDir: string;
  /** Network name -> configuration file (loadNetworkConfigs). */
  configs: Map<string, string>;
  /** Report the interfaces' statistics (`--network_cni_metrics`). */
  metrics: boolean;
  /** `--default_container_dns` for CNI networks. */
  defaultDns?: DefaultCniDns | undefined;
  logger: Logger;
}

export class NetworkCniIsolator extends BaseIsolator {
  readonly name = "network/cni";
  private readonly infos = new Map<string, Info>();
  /** Leftovers of the previous agent run were looked for. */
  private swept = false;

  /** `o` undefined: neither CNI flag was given, so no network is known (as Mesos). */
  constructor(private readonly o: NetworkCniOptions | undefined) {
    super();
  }

  /** The addresses the container got (TaskStatus.container_status.network_infos). */
  networkInfos(containerId: string): NetworkInfo[] | undefined {
    let info = this.infos.get(containerId);
    // A nested container without networks of its own shares its root's.
    if (info === undefined) info = this.infos.get(containerId.split(NESTED_SEPARATOR)[0] ?? "");
    if (info === undefined) return undefined;
    const out: NetworkInfo[] = [];
    for (const n of info.networks) {
      if (n.result === undefined) continue;
      const { ip4, ip6 } = pluginAddresses(n.result);
      const addresses = [
        ...ip4.slice(0, 1).map((ip_address) => ({ protocol: "IPv4" as const, ip_address })),
        ...ip6.slice(0, 1).map((ip_address) => ({ protocol: "IPv6" as const, ip_address })),
      ];
      out.push({ ...n.networkInfo, ip_addresses: addresses });
    }
    return out;
  }

  private log(line: string): void {
    this.o?.logger.info(line);
  }

  /** The namespace file of a container (also its nested containers' to join). */
  private nsPath(containerId: string): string {
    return join(this.containerDir(containerId), "ns");
  }

  /** The container's UTS namespace file (its hostname). */
  private utsPath(containerId: string): string {
    return join(this.containerDir(containerId), "uts");
  }

  private containerDir(containerId: string): string {
    return join(this.o?.rootDir ?? "", containerDirName(containerId));
  }

  override async prepare(config: ContainerConfig): Promise<LaunchPreparation | undefined> {
    const id = config.containerId;
    if (this.infos.has(id)) throw new Error("Container has already been prepared");
    const container = config.executor.container;
    const named = (container?.network_infos ?? []).filter(
      (n) => n.name !== undefined && n.name !== "",
    );
    const root = id.split(NESTED_SEPARATOR)[0] ?? id;
    const hasImage = container?.mesos?.image !== undefined;
    if (root === id) await this.sweepLeftovers(new Set(this.infos.keys()));
    if (named.length === 0) {
      // A nested container without networks joins its root container's (as Mesos).
      if (root !== id && this.infos.has(root)) {
        return {
          netNamespaceToEnter: this.nsPath(root),
          utsNamespaceToEnter: this.utsPath(root),
          environment: { LIBPROCESS_IP: "0.0.0.0" },
          mounts: this.etcMounts(root, hasImage),
        };
      }
      // On the host's network, a container with an image sees the host's files (as Mesos).
      if (hasImage) {
        const mounts = ["hosts", "hostname", "resolv.conf"]
          .filter((file) => existsSync(`/etc/${file}`))
          .map((file) => ({
            source: `/etc/${file}`,
            target: `/etc/${file}`,
            readOnly: true,
            inImage: true,
          }));
        return mounts.length === 0 ? undefined : { mounts };
      }
      return undefined;
    }
    if (container?.type !== undefined && container.type !== "MESOS") {
      throw new Error("Can only prepare CNI networks for a MESOS container");
    }
    const networks: ContainerNetwork[] = [];
    const configs = new Map<string, Record<string, unknown>>();
    for (const networkInfo of named) {
      const name = networkInfo.name as string;
      configs.set(name, await this.networkConfig(name));
      if (networks.some((n) => n.name === name)) {
        throw new Error(`Attempted to join CNI network '${name}' multiple times`);
      }
      networks.push({ name, ifName: `eth${networks.length}`, networkInfo });
    }
    const info: Info = { networks };
    this.infos.set(id, info);
    // From here on cleanup detaches what was attached (the containerizer calls it on failure).
    const dir = this.containerDir(id);
    await mkdir(dir, { recursive: true });
    const ns = this.nsPath(id);
    await writeFile(ns, "");
    const made = await execute("unshare", [`--net=${ns}`, "true"]);
    if (made.code !== 0) {
      throw new Error(`Failed to create a network namespace at '${ns}': ${made.stderr.trim()}`);
    }
    const lo = await execute("nsenter", [`--net=${ns}`, "ip", "link", "set", "lo", "up"]);
    if (lo.code !== 0) {
      throw new Error(`Failed to bring up the loopback interface: ${lo.stderr.trim()}`);
    }
    // The hostname lives in a UTS namespace of its own, kept like the network's.
    const hostname = container?.hostname ?? id.split(NESTED_SEPARATOR).pop() ?? id;
    const badName = hostnameError(hostname);
    if (badName !== undefined) throw new Error(badName);
    const uts = this.utsPath(id);
    await writeFile(uts, "");
    // `--`: a name is never an option of hostname(1) (`-F <file>` would have root read a file).
    const renamed = await execute("unshare", [`--uts=${uts}`, "hostname", "--", hostname]);
    if (renamed.code !== 0) {
      throw new Error(`Failed to set the hostname '${hostname}': ${renamed.stderr.trim()}`);
    }
    const failures: string[] = [];
    for (const network of networks) {
      const failure = await this.attach(id, network, configs.get(network.name) ?? {}, ns).catch(
        (e: unknown) => (e as Error).message,
      );
      if (failure !== undefined) failures.push(failure);
    }
    if (failures.length > 0) throw new Error(failures.join("; "));
    return {
      netNamespaceToEnter: ns,
      utsNamespaceToEnter: uts,
      // As Mesos: the executor binds to every address of its namespace, not the agent's IP.
      environment: { LIBPROCESS_IP: "0.0.0.0" },
      mounts: await this.etcFiles(id, hostname, info, config),
    };
  }

  /**
   * The container's /etc/hosts (its IP under its hostname) and /etc/hostname,
   * bind-mounted over the host's in its mount namespace, as Mesos does for a
   * container without an image (the host's /etc/resolv.conf is kept).
   */
  private async etcFiles(
    id: string,
    hostname: string,
    info: Info,
    config: ContainerConfig,
  ): Promise<LaunchPreparation["mounts"]> {
    const dir = this.containerDir(id);
    const first = info.networks.map((n) => pluginAddresses(n.result).ip4[0]).find((ip) => ip);
    const hosts = `127.0.0.1 localhost\n${first === undefined ? "" : `${first} ${hostname}\n`}`;
    await writeFile(join(dir, "hosts"), hosts);
    await writeFile(join(dir, "hostname"), hostname);
    // The networks' DNS answers, merged in order (lists add up, the last domain wins);
    // without nameservers the host's resolv.conf stays, as in Mesos.
    const dns = {
      domain: undefined as string | undefined,
      search: [] as string[],
      options: [] as string[],
      nameservers: [] as string[],
    };
    // As Mesos: a network's plugin answer first, else --default_container_dns for it, else its default.
    const defaults = this.o?.defaultDns;
    for (const n of info.networks) {
      let answer: DnsSettings | undefined = pluginDns(n.result);
      if (answer === undefined || answer.nameservers.length === 0) {
        answer = defaults?.byNetwork.get(n.name) ?? defaults?.fallback;
      }
      if (answer === undefined) continue;
      dns.domain = answer.domain ?? dns.domain;
      dns.search.push(...answer.search);
      dns.options.push(...answer.options);
      dns.nameservers.push(...answer.nameservers);
    }
    if (dns.nameservers.length > 0) {
      this.log(`DNS nameservers for container ${id} are: ${dns.nameservers.join(", ")}`);
      await writeFile(join(dir, "resolv.conf"), formatResolverConfig(dns));
    } else {
      this.log(`Unable to find DNS nameservers for container ${id}, using host '/etc/resolv.conf'`);
    }
    return this.etcMounts(id, config.executor.container?.mesos?.image !== undefined);
  }

  /**
   * Binds of a container's hosts, hostname and resolv.conf over /etc's: the
   * host's (where the host has them), or, for a container with an image, in
   * the image (the host's resolv.conf when the container has none of its own).
   */
  private etcMounts(id: string, inImage: boolean): NonNullable<LaunchPreparation["mounts"]> {
    const dir = this.containerDir(id);
    const mounts: NonNullable<LaunchPreparation["mounts"]> = [];
    for (const file of ["hosts", "hostname", "resolv.conf"]) {
      const own = join(dir, file);
      if (inImage) {
        const source = existsSync(own) ? own : `/etc/${file}`;
        if (existsSync(source)) {
          mounts.push({ source, target: `/etc/${file}`, readOnly: true, inImage: true });
        }
      } else if (existsSync(`/etc/${file}`) && existsSync(own)) {
        mounts.push({ source: own, target: `/etc/${file}`, readOnly: true });
      }
    }
    return mounts;
  }

  /**
   * A network's configuration, read again on every launch (Mesos re-reads
   * its cache and reloads the directory on a miss, so networks added or
   * fixed after start-up are found).
   */
  private async networkConfig(name: string): Promise<Record<string, unknown>> {
    const o = this.o;
    if (o === undefined) throw new Error(`Unknown CNI network '${name}'`);
    const read = async (path: string): Promise<Record<string, unknown> | string> => {
      let text: string;
      try {
        text = await readFile(path, "utf8");
      } catch (e) {
        return `Failed to read CNI network configuration file: '${path}': ${(e as Error).message}`;
      }
      const parsed = parseNetworkConfig(text);
      if (typeof parsed === "string") {
        return `Failed to parse CNI network configuration file: '${path}': ${parsed}`;
      }
      if (parsed.name !== name) {
        return `The current CNI configuration network('${parsed.name}') does not match the network name: '${name}'`;
      }
      return parsed;
    };
    const cached = o.configs.get(name);
    if (cached !== undefined) {
      const config = await read(cached);
      if (typeof config !== "string") return config;
      o.logger.warn(
        `Removing the network '${name}' from cache due to failure to validate the configuration: ${config}`,
      );
      o.configs.delete(name);
    }
    const reloaded = loadNetworkConfigs(o.configDir, o.pluginsDir, o.logger);
    o.configs.clear();
    for (const [k, v] of reloaded) o.configs.set(k, v);
    const path = o.configs.get(name);
    if (path === undefined) throw new Error(`Unknown CNI network '${name}'`);
    const config = await read(path);
    if (typeof config === "string") throw new Error(config);
    return config;
  }

  /** The plugin's environment (PATH too: plugins run iptables and friends). */
  private pluginEnv(command: "ADD" | "DEL", id: string, ifName: string, ns: string | undefined) {
    const env: NodeJS.ProcessEnv = {
      CNI_COMMAND: command,
      CNI_CONTAINERID: id,
      CNI_PATH: this.o?.pluginsDir ?? "",
      CNI_IFNAME: ifName,
      PATH: process.env.PATH ?? HOST_PATH,
    };
    if (ns !== undefined) env.CNI_NETNS = ns;
    return env;
  }

  /** Runs ADD for one network and keeps its configuration and answer on disk. */
  private async attach(
    id: string,
    network: ContainerNetwork,
    config: Record<string, unknown>,
    ns: string,
  ): Promise<void> {
    const o = this.o as NetworkCniOptions;
    const args = config.args ?? {};
    if (typeof args !== "object" || args === null || Array.isArray(args)) {
      throw new Error(
        `Invalid 'args' found in CNI network configuration file '${o.configs.get(network.name)}': not an object`,
      );
    }
    if ("org.apache.mesos" in args) {
      throw new Error(
        "'org.apache.mesos' in 'args' should not be set in CNI network configuration file. It is reserved by Mesos",
      );
    }
    const withMesos = {
      ...config,
      args: { ...args, "org.apache.mesos": { network_info: network.networkInfo } },
    };
    const plugin = which(String(config.type), o.pluginsDir);
    if (plugin === undefined) {
      throw new Error(
        `Unable to find the plugin ${String(config.type)} required to attach ${id} to network '${network.name}'`,
      );
    }
    const networkDir = join(this.containerDir(id), network.name);
    await mkdir(join(networkDir, network.ifName), { recursive: true });
    const text = JSON.stringify(withMesos);
    await writeFile(join(networkDir, "network.conf"), text);
    o.logger.info(
      `Invoking CNI plugin '${plugin}' to attach container ${id} to network '${network.name}'`,
    );
    const r = await execute(plugin, [], {
      env: this.pluginEnv("ADD", id, network.ifName, ns),
      input: text,
    });
    if (r.code !== 0) {
      throw new Error(
        `The CNI plugin '${plugin}' failed to attach container ${id} to CNI network '${network.name}': stdout='${r.stdout.trim()}', stderr='${r.stderr.trim()}'`,
      );
    }
    let result: unknown;
    try {
      result = JSON.parse(r.stdout);
    } catch (e) {
      throw new Error(
        `Failed to parse the output of the CNI plugin '${plugin}': ${(e as Error).message}`,
      );
    }
    network.result = result;
    const { ip4, ip6 } = pluginAddresses(result);
    for (const ip of ip4) {
      o.logger.info(
        `Got assigned IPv4 address '${ip}' from CNI network '${network.name}' for container ${id}`,
      );
    }
    for (const ip of ip6) {
      o.logger.info(
        `Got assigned IPv6 address '${ip}' from CNI network '${network.name}' for container ${id}`,
      );
    }
    await writeFile(join(networkDir, network.ifName, "network.info"), r.stdout);
  }

  /**
   * The container's interfaces' counters (`net_rx_*`, `net_tx_*`, summed
   * over its networks' interfaces), read from /proc/net/dev inside its
   * namespace, as Mesos reports them with `--network_cni_metrics`.
   */
  override async usage(containerId: string): Promise<ResourceStatistics> {
    const info = this.infos.get(containerId);
    if (this.o?.metrics !== true || info === undefined || info.networks.length === 0) {
      return { timestamp: 0 };
    }
    const r = await execute("nsenter", [
      `--net=${this.nsPath(containerId)}`,
      "cat",
      "/proc/net/dev",
    ]);
    if (r.code !== 0) return { timestamp: 0 };
    return interfaceStatistics(r.stdout, new Set(info.networks.map((n) => n.ifName)));
  }

  override async cleanup(containerId: string): Promise<void> {
    const info = this.infos.get(containerId);
    this.infos.delete(containerId);
    if (this.o === undefined) return;
    const dir = this.containerDir(containerId);
    if (info === undefined && !existsSync(dir)) return;
    await this.detachAll(containerId);
  }

  /**
   * Runs DEL for every network the container's directory records (what
   * ADD was given: the checkpointed configuration), then releases the
   * namespace and removes the directory.
   */
  private async detachAll(containerId: string): Promise<void> {
    const o = this.o as NetworkCniOptions;
    const dir = this.containerDir(containerId);
    const ns = this.nsPath(containerId);
    const uts = this.utsPath(containerId);
    // After a reboot the namespace is gone: DEL then runs without CNI_NETNS (as Mesos).
    const mountPoints = new Set(
      (await readFile("/proc/self/mounts", "utf8").catch(() => ""))
        .split("\n")
        .map((line) => line.split(" ")[1]),
    );
    const mounted = mountPoints.has(ns);
    const failures: string[] = [];
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const networkDir = join(dir, entry.name);
      const conf = join(networkDir, "network.conf");
      const text = await readFile(conf, "utf8").catch(() => undefined);
      const ifNames = (await readdir(networkDir, { withFileTypes: true }).catch(() => []))
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
      if (text === undefined) {
        o.logger.warn(
          `Skip detach since network config file for container ${containerId} on network '${entry.name}' does not exist`,
        );
        await rm(networkDir, { recursive: true, force: true });
        continue;
      }
      let type: unknown;
      try {
        type = (JSON.parse(text) as { type?: unknown }).type;
      } catch {
        type = undefined;
      }
      const plugin = typeof type === "string" ? which(type, o.pluginsDir) : undefined;
      let ok = true;
      for (const ifName of ifNames) {
        if (plugin === undefined) {
          failures.push(
            `Unable to find the plugin ${String(type)} required to detach ${containerId} from network '${entry.name}'`,
          );
          ok = false;
          continue;
        }
        const r = await execute(plugin, [], {
          env: this.pluginEnv("DEL", containerId, ifName, mounted ? ns : undefined),
          input: text,
        });
        if (r.code !== 0) {
          failures.push(
            `The CNI plugin '${plugin}' failed to detach container ${containerId} from network '${entry.name}': stdout='${r.stdout.trim()}', stderr='${r.stderr.trim()}'`,
          );
          ok = false;
          continue;
        }
        o.logger.info(`Detached container ${containerId} from network '${entry.name}'`);
      }
      if (ok) await rm(networkDir, { recursive: true, force: true });
    }
    if (failures.length > 0) throw new Error(failures.join("; "));
    for (const handle of [ns, uts]) {
      if (!mountPoints.has(handle)) continue;
      const r = await execute("umount", ["--lazy", handle]);
      if (r.code !== 0) {
        throw new Error(`Failed to unmount the namespace handle '${handle}': ${r.stderr.trim()}`);
      }
    }
    await rm(dir, { recursive: true, force: true });
  }

  override async recover(containers: ReadonlyMap<string, number>): Promise<void> {
    if (this.o === undefined) return;
    for (const id of containers.keys()) {
      const info = await this.readInfo(id);
      if (info !== undefined) this.infos.set(id, info);
    }
    if ([...containers.keys()].some((id) => !id.includes(NESTED_SEPARATOR))) {
      await this.sweepLeftovers(new Set(containers.keys()));
    }
  }

  /** A live container's networks from its directory (undefined: it has none). */
  private async readInfo(id: string): Promise<Info | undefined> {
    const dir = this.containerDir(id);
    if (!existsSync(dir)) return undefined;
    const networks: ContainerNetwork[] = [];
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (!entry.isDirectory()) continue;
      const conf = await readFile(join(dir, entry.name, "network.conf"), "utf8").catch(() => "");
      let networkInfo: NetworkInfo = { name: entry.name };
      try {
        const given = (
          JSON.parse(conf) as { args?: Record<string, { network_info?: NetworkInfo }> }
        ).args?.["org.apache.mesos"]?.network_info;
        if (given !== undefined) networkInfo = given;
      } catch {
        // keep the name only
      }
      for (const ifName of await readdir(join(dir, entry.name)).catch(() => [] as string[])) {
        const answer = await readFile(join(dir, entry.name, ifName, "network.info"), "utf8").catch(
          () => undefined,
        );
        if (answer === undefined) continue;
        let result: unknown;
        try {
          result = JSON.parse(answer);
        } catch {
          result = undefined;
        }
        networks.push({ name: entry.name, ifName, networkInfo, result });
      }
    }
    networks.sort((a, b) => a.ifName.localeCompare(b.ifName));
    return { networks };
  }

  /**
   * Detaches the containers that ended while the agent was down (their
   * directories are left under the root). Runs with the executors'
   * recovery or, when there was nothing to recover, before the first launch.
   */
  private async sweepLeftovers(alive: ReadonlySet<string>): Promise<void> {
    if (this.swept || this.o === undefined) return;
    this.swept = true;
    const rootOf = (dirName: string) => dirName.split(".")[0] ?? dirName;
    const aliveRoots = new Set([...alive].map((id) => rootOf(containerDirName(id))));
    for (const entry of await readdir(this.o.rootDir).catch(() => [] as string[])) {
      // A nested container's directory (`parent.child`) stays while its root lives; a
      // container being prepared meanwhile (in `infos` from before its directory) stays too.
      const root = rootOf(entry);
      const preparing = [...this.infos.keys()].some((id) => rootOf(containerDirName(id)) === root);
      if (aliveRoots.has(root) || preparing) continue;
      const id = entry.split(".").join(NESTED_SEPARATOR);
      this.o.logger.info(`Removing unknown orphaned container ${id}`);
      await this.detachAll(id).catch((e: unknown) =>
        this.o?.logger.error(
          `Failed to cleanup unknown orphaned container ${id}: ${(e as Error).message}`,
        ),
      );
    }
  }
}

/** Why the isolator cannot run with these flags (Mesos' checks), or its options. */
export function networkCniOptions(
  flags: NetworkCniFlags,
  root: boolean,
  logger: Logger,
): { ok: true; options: NetworkCniOptions | undefined } | { ok: false; error: string } {
  const plugins = flags.network_cni_plugins_dir;
  const configDir = flags.network_cni_config_dir;
  // As Mesos: without both flags the isolator loads, and every network is unknown.
  if (plugins === undefined && configDir === undefined) return { ok: true, options: undefined };
  if (!root) return { ok: false, error: "The 'network/cni' isolator requires root permissions" };
  if (!existsSync("/proc/self/ns/net") || !existsSync("/proc/self/ns/uts")) {
    return {
      ok: false,
      error: "The 'network/cni' isolator requires network, mount and UTS namespace support",
    };
  }
  if (plugins === undefined || plugins === "") {
    return { ok: false, error: "Missing required '--network_cni_plugins_dir' flag" };
  }
  if (configDir === undefined || configDir === "") {
    return { ok: false, error: "Missing required '--network_cni_config_dir' flag" };
  }
  if (!existsSync(configDir)) {
    return {
      ok: false,
      error: `The CNI network configuration directory '${configDir}' does not exist`,
    };
  }
  let configs: Map<string, string>;
  try {
    configs = loadNetworkConfigs(configDir, plugins, logger);
  } catch (e) {
    return { ok: false, error: `Unable to load CNI config: ${(e as Error).message}` };
  }
  const dns = parseDefaultContainerDns(flags.default_container_dns);
  if (!dns.ok) return dns;
  const rootDir = cniRootDir(flags);
  try {
    mkdirSync(rootDir, { recursive: true });
  } catch (e) {
    return {
      ok: false,
      error: `Failed to create CNI network information root directory at '${rootDir}': ${(e as Error).message}`,
    };
  }
  return {
    ok: true,
    options: {
      pluginsDir: plugins,
      configDir,
      rootDir,
      configs,
      logger,
      metrics: flags.network_cni_metrics ?? true,
      defaultDns: dns.dns,
    },
  };
}

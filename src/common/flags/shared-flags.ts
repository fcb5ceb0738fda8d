/**
 * Flags the master and the agent both take: identity and binding (the
 * libprocess-level ones), HTTP authentication, modules. Wording differs
 * slightly by role, and the default port is 5050 for the master, 5051 for
 * the agent.
 *
 * Binding precedence for `--ip`, `--advertise_ip`, `--advertise_port`:
 * command line, then `MESOS_<NAME>`, then the libprocess variable
 * (`LIBPROCESS_IP`, `LIBPROCESS_ADVERTISE_IP`, `LIBPROCESS_ADVERTISE_PORT`),
 * which Mesos' daemons leave in place when the flag is unset. `--port` has
 * no such fallback: Mesos' daemons set `LIBPROCESS_PORT` from `--port`
 * (default 5050 / 5051), so the variable never moves them.
 */
import { parseFirewallRules } from "../process/firewall.js";
import type { FlagOrigin } from "./load.js";
import { flag, type JsonValue } from "./spec.js";

export type DaemonRole = "master" | "agent";

/** The Mesos release whose flags, endpoints and wire format mesos-ts follows (`--version`). */
export const MESOS_COMPATIBLE_VERSION = "1.12.0";

function isObject(v: JsonValue): v is { [key: string]: JsonValue } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Checks that a JSON flag holds an object (Mesos parses these into protobuf messages). */
export function expectJsonObject(name: string) {
  return (v: JsonValue): string | undefined =>
    isObject(v) ? undefined : `Failed to load flag '${name}': expected a JSON object`;
}

/**
 * A DomainInfo as Mesos parses it: `fault_domain` is required by the flag,
 * and a fault domain's region and zone, each with a string name, by the
 * message (protobuf required fields). Other keys are ignored, as by Mesos.
 */
function checkDomain(v: JsonValue): string | undefined {
  if (!isObject(v)) return "Failed to load flag 'domain': expected a JSON object";
  const fault = v.fault_domain;
  if (fault === undefined) return "`domain` must define `fault_domain`";
  if (!isObject(fault)) return "Failed to load flag 'domain': 'fault_domain' must be a JSON object";
  const missing: string[] = [];
  for (const part of ["region", "zone"]) {
    const info = fault[part];
    if (info === undefined) missing.push(`fault_domain.${part}`);
    else if (!isObject(info) || (info.name !== undefined && typeof info.name !== "string")) {
      return `Failed to load flag 'domain': 'fault_domain.${part}' must be an object with a string 'name'`;
    } else if (info.name === undefined) missing.push(`fault_domain.${part}.name`);
  }
  return missing.length === 0
    ? undefined
    : `Failed to load flag 'domain': Missing required fields: ${missing.join(", ")}`;
}

/**
 * mesos-ts loads no C++ modules; the agent reads the module entries of the
 * container logger it has built in.
 */
const MODULES_NOTE = {
  master: "",
  agent:
    " mesos-ts loads no C++ modules: the agent reads the parameters of the built-in " +
    "org_apache_mesos_LogrotateContainerLogger (see --container_logger) and ignores the rest.",
} as const;

/** The shared flags, worded for `role`. */
export function sharedFlags(role: DaemonRole) {
  const self = role === "master" ? "master" : "agent";
  return {
    version: flag.bool({ help: "Print the version and exit.", default: false }),
    hostname: flag.string({
      help:
        `Hostname the ${self} reports to others. Unset: looked up from the advertised IP, ` +
        "or the IP itself with --no-hostname_lookup.",
    }),
    hostname_lookup: flag.bool({
      help: "When --hostname is unset, find the hostname by a lookup of the IP. False: use the IP.",
      default: true,
    }),
    ip: flag.string({
      help: "IP address to listen on. Cannot be combined with --ip_discovery_command.",
      envFallback: "LIBPROCESS_IP",
    }),
    // No LIBPROCESS_PORT fallback: Mesos' daemons overwrite that variable with --port.
    port: flag.port({
      help: "Port to listen on.",
      default: role === "master" ? 5050 : 5051,
    }),
    advertise_ip: flag.string({
      help: `IP address others use to reach this ${self} (e.g. behind NAT). Not bound.`,
      envFallback: "LIBPROCESS_ADVERTISE_IP",
    }),
    advertise_port: flag.port({
      help: `Port others use to reach this ${self}, with --advertise_ip. Not bound.`,
      envFallback: "LIBPROCESS_ADVERTISE_PORT",
    }),
    ip_discovery_command: flag.string({
      help:
        "Shell command run once at start; its output, trimmed, must be an IP address, which " +
        `the ${self} then listens on (as with --ip). Cannot be combined with --ip.`,
    }),
    zk_session_timeout: flag.duration({ help: "ZooKeeper session timeout.", default: "10secs" }),
    authenticate_http_readonly: flag.bool({
      help: "Require HTTP authentication on read-only endpoints that support it.",
      default: false,
    }),
    authenticate_http_readwrite: flag.bool({
      help: "Require HTTP authentication on read-write endpoints that support it.",
      default: false,
      ...(role === "master" ? { alias: "authenticate_http" } : {}),
    }),
    http_authenticators: flag.string({
      help:
        "HTTP authenticators for authenticated endpoints, comma-separated and tried in order: " +
        "`basic`, and on the agent `jwt` (executor tokens). Modules (--modules) are not " +
        "supported. Agent default: `basic`, or `basic,jwt` with --authenticate_http_executors.",
      ...(role === "master" ? { default: "basic" } : {}),
    }),
    firewall_rules: flag.json({
      help:
        'Endpoint firewall as JSON (or file://), e.g. {"disabled_endpoints":{"paths":' +
        '["/files/browse"]}}: listed paths answer 403.',
      validate: (v) => {
        const rules = parseFirewallRules(v);
        return rules.ok ? undefined : rules.error;
      },
    }),
    acls: flag.json({
      help:
        "Access control lists as JSON (or file://) for the `local` authorizer; see the ACLs " +
        "message in acls.proto. Ignored with another authorizer.",
      validate: expectJsonObject("acls"),
    }),
    domain: flag.json({
      help:
        `Fault domain of this ${self} as JSON (or file://): ` +
        '{"fault_domain":{"region":{"name":"..."},"zone":{"name":"..."}}}.',
      validate: checkDomain,
    }),
    modules: flag.json({
      help:
        "Module libraries to load, as JSON (or file://). Cannot be combined with --modules_dir." +
        MODULES_NOTE[self],
      notYet: self === "master",
    }),
    modules_dir: flag.string({
      help:
        "Directory of module manifest files, read in name order. Cannot be combined with --modules." +
        MODULES_NOTE[self],
      notYet: self === "master",
    }),
    hooks: flag.string({
      help: `Comma-separated hook modules to install in the ${self}.`,
      notYet: true,
    }),
    memory_profiling: flag.bool({
      help: "Serve /memory-profiler/*. mesos-ts has no jemalloc: they answer as Mesos does without it.",
      default: false,
    }),
  };
}

/** Values the cross-flag checks below read. */
interface SharedValues {
  ip?: string | undefined;
  ip_discovery_command?: string | undefined;
  modules?: JsonValue | undefined;
  modules_dir?: string | undefined;
}

/** Checks across shared flags; `origin` tells a real `--ip` from `LIBPROCESS_IP`. */
export function checkSharedFlags(
  v: SharedValues,
  origin: (name: string) => FlagOrigin | undefined,
): string | undefined {
  const ipGiven = v.ip !== undefined && origin("ip")?.source !== "fallback-env";
  if (ipGiven && v.ip_discovery_command !== undefined) {
    return "Only one of `--ip` or `--ip_discovery_command` should be specified";
  }
  if (v.modules !== undefined && v.modules_dir !== undefined) {
    return "Only one of --modules or --modules_dir should be specified";
  }
  return undefined;
}

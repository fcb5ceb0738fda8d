/**
 * Where a host listens and what address it tells peers, from the Mesos flags
 * (`--ip`, `--port`, `--advertise_ip`, `--advertise_port`) and the libprocess
 * environment (`LIBPROCESS_IP`, `LIBPROCESS_PORT`, `LIBPROCESS_ADVERTISE_IP`,
 * `LIBPROCESS_ADVERTISE_PORT`). A flag, when given, wins over the variable, as
 * the Mesos binaries copy their flags into the environment before libprocess
 * starts. Takes plain values: the flags module does the parsing of the command line.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { hostname, networkInterfaces } from "node:os";
import { err, ok, type Result } from "./result.js";

/** Inputs; any may be absent. `env` is usually `process.env`. */
export interface ListenAddressInput {
  ip?: string | undefined;
  port?: number | string | undefined;
  advertiseIp?: string | undefined;
  advertisePort?: number | string | undefined;
  env?: Readonly<Record<string, string | undefined>>;
}

/** The resolved listener configuration. */
export interface ListenAddress {
  /** IP to bind; `0.0.0.0` when nothing was configured (libprocess binds every interface). */
  bindIp: string;
  /** Port to bind; 0 picks a free port. */
  bindPort: number;
  /** IP to publish instead of the bound one (NAT, containers), if configured. */
  advertiseIp: string | undefined;
  /** Port to publish instead of the bound one, if configured (it is never bound). */
  advertisePort: number | undefined;
}

function pick(
  flag: number | string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  name: string,
): { value: string; source: string } | undefined {
  if (flag !== undefined && flag !== "") return { value: String(flag).trim(), source: name };
  const fromEnv = env[name];
  if (fromEnv !== undefined && fromEnv !== "") return { value: fromEnv.trim(), source: name };
  return undefined;
}

function parseIp(v: { value: string; source: string } | undefined): Result<string | undefined> {
  if (v === undefined) return ok(undefined);
  if (isIP(v.value) === 0) return err(new Error(`${v.source}=${v.value} is not an IP address`));
  return ok(v.value);
}

function parsePort(
  v: { value: string; source: string } | undefined,
  min: number,
): Result<number | undefined> {
  if (v === undefined) return ok(undefined);
  const n = /^[0-9]+$/.test(v.value) ? Number(v.value) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > 65535) {
    return err(new Error(`${v.source}=${v.value} is not a valid port`));
  }
  return ok(n);
}

/** Combines flags and environment into a listener configuration, or a one-line error. */
export function resolveListenAddress(input: ListenAddressInput): Result<ListenAddress> {
  const env = input.env ?? {};
  const ip = parseIp(pick(input.ip, env, "LIBPROCESS_IP"));
  if (!ip.ok) return ip;
  const port = parsePort(pick(input.port, env, "LIBPROCESS_PORT"), 0);
  if (!port.ok) return port;
  const advertiseIp = parseIp(pick(input.advertiseIp, env, "LIBPROCESS_ADVERTISE_IP"));
  if (!advertiseIp.ok) return advertiseIp;
  const advertisePort = parsePort(pick(input.advertisePort, env, "LIBPROCESS_ADVERTISE_PORT"), 1);
  if (!advertisePort.ok) return advertisePort;
  return ok({
    bindIp: ip.value ?? "0.0.0.0",
    bindPort: port.value ?? 0,
    advertiseIp: advertiseIp.value,
    advertisePort: advertisePort.value,
  });
}

/** True for the wildcard addresses, which cannot be handed to peers. */
export function isAnyIp(ip: string): boolean {
  return ip === "0.0.0.0" || ip === "::" || ip === "0:0:0:0:0:0:0:0";
}

/**
 * The IP to publish when bound to every interface: the address the host name
 * resolves to (what libprocess does), else the first external IPv4 interface,
 * else loopback.
 */
export async function lookupHostIp(): Promise<string> {
  try {
    const found = await lookup(hostname(), { family: 4 });
    if (found.address !== "") return found.address;
  } catch {
    // fall through to the interface list
  }
  for (const list of Object.values(networkInterfaces())) {
    for (const nic of list ?? []) {
      if (nic.family === "IPv4" && !nic.internal) return nic.address;
    }
  }
  return "127.0.0.1";
}

/**
 * `cgroups/devices`: each container gets a v1 devices cgroup that refuses
 * every device except a fixed set of harmless ones (the same list Mesos
 * uses: null, zero, full, random, urandom, the terminals, /dev/net/tun,
 * mknod of any device) and the devices the operator names in
 * `--allowed_devices`. Those are stat'ed once, at start-up, for their
 * type and major:minor numbers.
 *
 * cgroup v2 has no devices files (access is decided by eBPF programs
 * attached to the cgroup); that is not implemented, so on v2 this isolator
 * is a start-up error.
 */
import { statSync } from "node:fs";
import {
  type CgroupsHierarchy,
  killCgroup,
  removeCgroup,
  writeControl,
} from "../cgroups/hierarchy.js";
import { BaseIsolator, type ContainerConfig, type LaunchPreparation } from "./isolator.js";
import { containerCgroup } from "./nested-cgroup.js";

/** `a` (every device), `b` (block) or `c` (character). */
export type DeviceType = "a" | "b" | "c";

/** One line of a devices cgroup whitelist, e.g. `c 1:3 rwm`. */
export interface DeviceEntry {
  type: DeviceType;
  /** Undefined: any major number (`*`). */
  major?: number | undefined;
  /** Undefined: any minor number (`*`). */
  minor?: number | undefined;
  read: boolean;
  write: boolean;
  mknod: boolean;
}

/** The devices every container may use (Mesos' default whitelist). */
export const DEFAULT_DEVICE_WHITELIST: readonly string[] = [
  "c *:* m", // create character devices
  "b *:* m", // create block devices
  "c 5:1 rwm", // /dev/console
  "c 4:0 rwm", // /dev/tty0
  "c 4:1 rwm", // /dev/tty1
  "c 136:* rwm", // /dev/pts/*
  "c 5:2 rwm", // /dev/ptmx
  "c 10:200 rwm", // /dev/net/tun
  "c 1:3 rwm", // /dev/null
  "c 1:5 rwm", // /dev/zero
  "c 1:7 rwm", // /dev/full
  "c 5:0 rwm", // /dev/tty
  "c 1:9 rwm", // /dev/urandom
  "c 1:8 rwm", // /dev/random
];

/** The kernel's text for an entry (`a` alone for every device). */
export function formatDeviceEntry(e: DeviceEntry): string {
  const access = `${e.read ? "r" : ""}${e.write ? "w" : ""}${e.mknod ? "m" : ""}`;
  if (e.type === "a") return "a";
  return `${e.type} ${e.major ?? "*"}:${e.minor ?? "*"} ${access}`;
}

/** Parses `c 1:3 rwm` (or `a`); undefined when the text is not an entry. */
export function parseDeviceEntry(text: string): DeviceEntry | undefined {
  const parts = text.trim().split(/\s+/);
  const type = parts[0];
  if (type === "a" && parts.length <= 3) {
    return { type: "a", read: true, write: true, mknod: true };
  }
  if ((type !== "b" && type !== "c") || parts.length !== 3) return undefined;
  const numbers = /^(\*|\d+):(\*|\d+)$/.exec(parts[1] as string);
  const access = parts[2] as string;
  if (numbers === null || !/^[rwm]{1,3}$/.test(access)) return undefined;
  const number = (x: string) => (x === "*" ? undefined : Number(x));
  return {
    type,
    major: number(numbers[1] as string),
    minor: number(numbers[2] as string),
    read: access.includes("r"),
    write: access.includes("w"),
    mknod: access.includes("m"),
  };
}

/** A device named in `--allowed_devices`. */
export interface AllowedDevice {
  path: string;
  read: boolean;
  write: boolean;
  mknod: boolean;
}

type Result<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * Checks the shape of `--allowed_devices` (a DeviceWhitelist:
 * `{"allowed_devices":[{"device":{"path":...},"access":{"read":...}}]}`)
 * and returns its devices.
 */
export function parseAllowedDevices(json: unknown): Result<AllowedDevice[]> {
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  const bad = (why: string): Result<AllowedDevice[]> => ({
    ok: false,
    error: `Invalid --allowed_devices: ${why}`,
  });
  if (!isObject(json)) return bad("expected a JSON object with an 'allowed_devices' array");
  const list = json.allowed_devices ?? [];
  if (!Array.isArray(list)) return bad("'allowed_devices' must be an array");
  const out: AllowedDevice[] = [];
  for (const [i, item] of list.entries()) {
    if (!isObject(item) || !isObject(item.device) || !isObject(item.access)) {
      return bad(`entry ${i} needs a 'device' object and an 'access' object`);
    }
    const path = item.device.path;
    if (typeof path !== "string" || path === "") {
      return bad(`entry ${i} has no device path`);
    }
    const flags: Record<"read" | "write" | "mknod", boolean> = {
      read: false,
      write: false,
      mknod: false,
    };
    for (const key of ["read", "write", "mknod"] as const) {
      const v = item.access[key];
      if (v !== undefined && typeof v !== "boolean") {
        return bad(`'access.${key}' of '${path}' must be true or false`);
      }
      flags[key] = v === true;
    }
    if (!flags.read && !flags.write && !flags.mknod) {
      return bad(`device '${path}' is given no access (read, write or mknod)`);
    }
    out.push({ path, ...flags });
  }
  return { ok: true, value: out };
}

/** What the isolator needs to know about a device file. */
export interface DeviceStat {
  kind: "block" | "character" | "other";
  major: number;
  minor: number;
}

/** Stats a device file (Linux's dev_t encoding of major/minor). */
export function statDevice(path: string): DeviceStat {
  const s = statSync(path, { bigint: true });
  const rdev = s.rdev;
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  const kind = s.isBlockDevice() ? "block" : s.isCharacterDevice() ? "character" : "other";
  return { kind, major, minor };
}

/**
 * The whitelist for every container: the defaults, then the devices of
 * `--allowed_devices` (undefined: none), or a one-line error naming the
 * bad device.
 */
export function buildDeviceWhitelist(
  allowedDevices: unknown,
  stat: (path: string) => DeviceStat = statDevice,
): Result<DeviceEntry[]> {
  const entries = DEFAULT_DEVICE_WHITELIST.map((t) => parseDeviceEntry(t) as DeviceEntry);
  if (allowedDevices === undefined) return { ok: true, value: entries };
  const parsed = parseAllowedDevices(allowedDevices);
  if (!parsed.ok) return parsed;
  for (const d of parsed.value) {
    let s: DeviceStat;
    try {
      s = stat(d.path);
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      return { ok: false, error: `Cannot allow device '${d.path}': ${why}` };
    }
    if (s.kind === "other") {
      return { ok: false, error: `Cannot allow '${d.path}': not a block or character device` };
    }
    entries.push({
      type: s.kind === "block" ? "b" : "c",
      major: s.major,
      minor: s.minor,
      read: d.read,
      write: d.write,
      mknod: d.mknod,
    });
  }
  return { ok: true, value: entries };
}

export class CgroupsDevicesIsolator extends BaseIsolator {
  readonly name = "cgroups/devices";

  constructor(
    private readonly cgroups: CgroupsHierarchy,
    private readonly whitelist: readonly DeviceEntry[],
  ) {
    super();
  }

  override async prepare(config: ContainerConfig): Promise<LaunchPreparation> {
    const { path, created } = await containerCgroup(this.cgroups, "devices", config);
    // A nested container in its parent's cgroup has the parent's list already.
    if (!created) return { cgroupProcs: [`${path}/cgroup.procs`] };
    // A new devices cgroup starts with its parent's list; denying everything
    // first leaves exactly the entries written next (one per write).
    await writeControl(path, "devices.deny", "a");
    for (const entry of this.whitelist) {
      const text = formatDeviceEntry(entry);
      try {
        await writeControl(path, "devices.allow", text);
      } catch (e) {
        throw new Error(`Failed to allow device '${text}': ${(e as Error).message}`);
      }
    }
    return { cgroupProcs: [`${path}/cgroup.procs`] };
  }

  override async cleanup(containerId: string): Promise<void> {
    const path = this.cgroups.path("devices", containerId);
    await killCgroup(path, this.cgroups.version);
    await removeCgroup(path);
  }
}

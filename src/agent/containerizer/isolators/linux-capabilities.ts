/**
 * `linux/capabilities`: a container's processes run with the Linux
 * capabilities it was given instead of all of root's.
 *
 * The sets come from the container's `LinuxInfo` (`effective_capabilities`,
 * or the deprecated `capability_info`, and `bounding_capabilities`), else
 * from the agent's `--effective_capabilities` / `--bounding_capabilities`.
 * A requested bounding set must lie within the agent's bounding set, and
 * the effective set within the bounding set (the agent's, else the
 * effective set itself); otherwise the launch fails with Mesos' message.
 *
 * The launch applies them with util-linux `setpriv` just before it execs
 * the executor (or a nested container's command): the bounding set is
 * limited to the bounding capabilities, the inheritable set to the same,
 * and the effective capabilities are raised as ambient ones, so they
 * survive the exec of the executor and of the task (also when the task runs
 * as another user). As in Mesos, a process running as root ends up with the
 * whole bounding set after exec (the kernel grants root what the bounding
 * and inheritable sets allow).
 *
 * A container with an image gets the same sets through libcap's `capsh`
 * instead: setpriv would have to run before the chroot (the image has no
 * setpriv), and whatever lets the chroot and the user switch happen would
 * then stay in the task's sets. capsh does the chroot, the user switch and
 * the sets in one process, in Mesos' launcher's order, and then execs the
 * image's /bin/sh. Without capsh (package libcap2-bin) such a launch fails
 * with a message that says so.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import type {
  CapabilityInfo,
  CapabilityInfo_Capability,
} from "../../../common/protocol/generated/mesos-v1.js";
import { BaseIsolator, type ContainerConfig, type LaunchPreparation } from "./isolator.js";

/** The capabilities in kernel order (bit n of CapEff is the n-th). */
export const CAPABILITY_NAMES: readonly Exclude<CapabilityInfo_Capability, "UNKNOWN">[] = [
  "CHOWN",
  "DAC_OVERRIDE",
  "DAC_READ_SEARCH",
  "FOWNER",
  "FSETID",
  "KILL",
  "SETGID",
  "SETUID",
  "SETPCAP",
  "LINUX_IMMUTABLE",
  "NET_BIND_SERVICE",
  "NET_BROADCAST",
  "NET_ADMIN",
  "NET_RAW",
  "IPC_LOCK",
  "IPC_OWNER",
  "SYS_MODULE",
  "SYS_RAWIO",
  "SYS_CHROOT",
  "SYS_PTRACE",
  "SYS_PACCT",
  "SYS_ADMIN",
  "SYS_BOOT",
  "SYS_NICE",
  "SYS_RESOURCE",
  "SYS_TIME",
  "SYS_TTY_CONFIG",
  "MKNOD",
  "LEASE",
  "AUDIT_WRITE",
  "AUDIT_CONTROL",
  "SETFCAP",
  "MAC_OVERRIDE",
  "MAC_ADMIN",
  "SYSLOG",
  "WAKE_ALARM",
  "BLOCK_SUSPEND",
  "AUDIT_READ",
  "PERFMON",
  "BPF",
  "CHECKPOINT_RESTORE",
];

/** A set of capabilities, in kernel order without duplicates. */
export type CapabilitySet = readonly string[];

/**
 * A CapabilityInfo (as a flag's JSON or from a LinuxInfo) as a set, or an
 * error for names that are not capabilities.
 */
export function capabilitySet(info: unknown): CapabilitySet | { error: string } {
  if (typeof info !== "object" || info === null || Array.isArray(info)) {
    return { error: 'expected a JSON object like {"capabilities":["NET_RAW"]}' };
  }
  const list = (info as { capabilities?: unknown }).capabilities ?? [];
  if (!Array.isArray(list)) return { error: "'capabilities' must be an array of names" };
  const wanted = new Set<string>();
  for (const name of list) {
    if (typeof name !== "string" || !(CAPABILITY_NAMES as readonly string[]).includes(name)) {
      return { error: `Unknown capability '${String(name)}'` };
    }
    wanted.add(name);
  }
  return CAPABILITY_NAMES.filter((n) => wanted.has(n));
}

/** Mesos' rendering of a set in its messages: `{ CHOWN, NET_RAW }`. */
export function formatCapabilities(set: CapabilitySet): string {
  return `{ ${set.join(", ")} }`;
}

/** The kernel's bit mask of a set, as /proc/<pid>/status shows it (16 hex digits). */
export function capabilityMask(set: CapabilitySet): string {
  let mask = 0n;
  for (const name of set) mask |= 1n << BigInt(CAPABILITY_NAMES.indexOf(name as never));
  return mask.toString(16).padStart(16, "0");
}

const within = (inner: CapabilitySet, outer: CapabilitySet) =>
  inner.every((c) => outer.includes(c));

/** What the launch gives a container: its bounding set and, maybe, effective set. */
export interface ContainerCapabilities {
  bounding: CapabilitySet;
  effective?: CapabilitySet | undefined;
}

/** The agent's flags as sets. */
export interface CapabilityFlags {
  effective?: CapabilitySet | undefined;
  bounding?: CapabilitySet | undefined;
}

/**
 * Checks the agent's flags (as the isolator's creation does in Mesos): the
 * effective set must lie within the bounding set.
 */
export function checkCapabilityFlags(
  effective: unknown,
  bounding: unknown,
): { ok: true; flags: CapabilityFlags } | { ok: false; error: string } {
  const flags: CapabilityFlags = {};
  for (const [key, value] of [
    ["effective", effective],
    ["bounding", bounding],
  ] as const) {
    if (value === undefined) continue;
    const set = capabilitySet(value);
    if ("error" in set) return { ok: false, error: `--${key}_capabilities: ${set.error}` };
    flags[key] = set;
  }
  if (
    flags.effective !== undefined &&
    flags.bounding !== undefined &&
    !within(flags.effective, flags.bounding)
  ) {
    return {
      ok: false,
      error: "Allowed capabilities are not a subset of the bounding capabilites",
    };
  }
  return { ok: true, flags };
}

/**
 * The capabilities a container runs with, undefined for "unchanged"; throws
 * Mesos' message for a request the agent does not allow.
 */
export function containerCapabilities(
  config: Pick<ContainerConfig, "executor">,
  flags: CapabilityFlags,
): ContainerCapabilities | undefined {
  const linux = config.executor.container?.linux_info;
  const set = (info: CapabilityInfo): CapabilitySet => {
    const s = capabilitySet(info);
    if ("error" in s) throw new Error(s.error);
    return s;
  };
  if (linux?.capability_info !== undefined && linux.effective_capabilities !== undefined) {
    throw new Error("Only one of 'capability_info' or 'effective_capabilities' is allowed");
  }
  const requestedEffective = linux?.effective_capabilities ?? linux?.capability_info;
  let effective = requestedEffective === undefined ? flags.effective : set(requestedEffective);
  let bounding =
    linux?.bounding_capabilities === undefined ? undefined : set(linux.bounding_capabilities);
  if (bounding !== undefined && flags.bounding !== undefined && !within(bounding, flags.bounding)) {
    throw new Error(
      `Bounding capabilities '${formatCapabilities(bounding)}', but only '${formatCapabilities(flags.bounding)}' are allowed`,
    );
  }
  bounding ??= flags.bounding ?? effective;
  if (effective !== undefined && bounding !== undefined && !within(effective, bounding)) {
    throw new Error(
      `Requested capabilities '${formatCapabilities(effective)}', but only '${formatCapabilities(bounding)}' are allowed`,
    );
  }
  if (bounding === undefined) return undefined;
  effective = effective === undefined ? undefined : [...effective];
  return { bounding, effective };
}

/** The capabilities of a `CapPrm:`-style hex mask. */
export function capabilitiesOfMask(hex: string): CapabilitySet {
  const mask = BigInt(`0x${hex}`);
  return CAPABILITY_NAMES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

/** The agent's own permitted capabilities (what it can hand out), if readable. */
function agentCapabilities(): CapabilitySet | undefined {
  try {
    const m = /^CapPrm:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
    return m === null ? undefined : capabilitiesOfMask(m[1] as string);
  } catch {
    return undefined;
  }
}

export class LinuxCapabilitiesIsolator extends BaseIsolator {
  readonly name = "linux/capabilities";
  /** What capsh lacks of the options the launch uses, asked once. */
  private capshChecked: Promise<string[]> | undefined;

  /**
   * @param held what the agent holds; undefined: read from /proc/self/status.
   * @param capsh capsh's path (containers with an image need it); null: none.
   */
  constructor(
    private readonly flags: CapabilityFlags,
    private readonly held: CapabilitySet | undefined = agentCapabilities(),
    private readonly capsh: string | null = CAPSH ?? null,
  ) {
    super();
  }

  override async prepare(config: ContainerConfig): Promise<LaunchPreparation | undefined> {
    const capabilities = containerCapabilities(config, this.flags);
    if (capabilities === undefined) return undefined;
    if (config.executor.container?.mesos?.image !== undefined) {
      if (this.capsh === null) {
        throw new Error(
          "Capabilities for containers with an image need capsh (libcap2-bin) on the agent: setpriv cannot apply them inside the image",
        );
      }
      this.capshChecked ??= capshMissingOptions(this.capsh);
      const missing = await this.capshChecked;
      if (missing.length > 0) {
        throw new Error(
          `Capabilities for containers with an image need a newer capsh (libcap2-bin): '${this.capsh}' lacks ${missing.join(", ")}`,
        );
      }
    }
    const held = this.held;
    if (held === undefined) return { capabilities };
    // setpriv would fail in the launch, where the task only learns "Executor terminated".
    const missing = (capabilities.effective ?? []).filter((c) => !held.includes(c));
    if (missing.length > 0) {
      throw new Error(
        `The agent does not hold the capabilities '${formatCapabilities(missing)}' it is asked to grant`,
      );
    }
    // What the agent lacks is out of every process's reach anyway; asking
    // for it in the inheritable set would only make setpriv fail.
    return {
      capabilities: {
        ...capabilities,
        bounding: capabilities.bounding.filter((c) => held.includes(c)),
      },
    };
  }
}

/** libcap's capsh, which applies the sets of a container with an image. */
export const CAPSH = ["/usr/sbin/capsh", "/sbin/capsh", "/usr/bin/capsh", "/bin/capsh"].find((p) =>
  existsSync(p),
);

/** The capsh options the launch uses that older libcap versions lack. */
const NEWER_CAPSH_OPTIONS = ["--shell", "--addamb", "--no-new-privs"];

/**
 * Which of NEWER_CAPSH_OPTIONS `capsh --help` does not list: an older
 * capsh would stop the launch with "unknown arg" where the task only
 * learns that its executor terminated.
 */
async function capshMissingOptions(capsh: string): Promise<string[]> {
  const help = await new Promise<string>((resolve) => {
    execFile(capsh, ["--help"], { timeout: 10_000 }, (_error, stdout, stderr) =>
      resolve(`${stdout}${stderr}`),
    );
  });
  return NEWER_CAPSH_OPTIONS.filter((o) => !help.includes(o));
}

/** The kernel's highest capability number (/proc/sys/kernel/cap_last_cap). */
function lastCapability(): number {
  try {
    const n = Number.parseInt(readFileSync("/proc/sys/kernel/cap_last_cap", "utf8"), 10);
    if (Number.isInteger(n) && n >= 0) return n;
  } catch {
    // Not Linux, or no /proc: the capabilities this build knows.
  }
  return CAPABILITY_NAMES.length - 1;
}

/**
 * capsh options that enter `rootfs` and give the process there what
 * setpriv gives it outside images: chroot (while all privileges are
 * still held), the inheritable set and the bounding set, the user switch
 * (keeping the permitted set when effective capabilities follow), the
 * permitted and effective sets and the ambient set, and no_new_privs. They
 * are followed by `--shell=/bin/sh --` and the image shell's arguments.
 *
 * Capabilities are given by number: libcap versions differ in the names
 * they know, the kernel does not. The bounding set is cut down by dropping
 * every capability the kernel has (up to `lastCap`) outside it.
 */
export function capshArguments(o: {
  rootfs: string;
  user?: { uid: number; gid: number } | undefined;
  capabilities?: ContainerCapabilities | undefined;
  noNewPrivs?: boolean | undefined;
  lastCap?: number;
  /** Supplementary groups of the switched user (none when empty or unset). */
  groups?: readonly number[] | undefined;
}): string[] {
  const numbers = (set: CapabilitySet) =>
    set.map((c) => CAPABILITY_NAMES.indexOf(c as never)).filter((n) => n >= 0);
  const out = [`--chroot=${o.rootfs}`];
  const caps = o.capabilities;
  if (caps !== undefined) {
    const bounding = numbers(caps.bounding);
    out.push(`--inh=${bounding.join(",")}`);
    const last = o.lastCap ?? lastCapability();
    const drop: number[] = [];
    for (let n = 0; n <= last; n++) if (!bounding.includes(n)) drop.push(n);
    if (drop.length > 0) out.push(`--drop=${drop.join(",")}`);
  }
  const effective = caps?.effective === undefined ? undefined : numbers(caps.effective);
  if (o.user !== undefined) {
    if (effective !== undefined) out.push("--keep=1");
    out.push(
      `--groups=${(o.groups ?? []).join(",")}`,
      `--gid=${o.user.gid}`,
      `--uid=${o.user.uid}`,
    );
  }
  if (caps !== undefined && effective !== undefined) {
    const bounding = numbers(caps.bounding);
    // "=" clears the three sets; then the inheritable set, then permitted and effective.
    let text = bounding.length > 0 ? `${bounding.join(",")}=i` : "=";
    if (effective.length > 0) text += ` ${effective.join(",")}+pe`;
    out.push(`--caps=${text}`);
    if (effective.length > 0) out.push(`--addamb=${effective.join(",")}`);
  }
  if (o.noNewPrivs === true) out.push("--no-new-privs");
  out.push("--shell=/bin/sh", "--");
  return out;
}

/**
 * The command that starts an isolated executor. The launcher helper runs a
 * tiny `/bin/sh` script instead of the executor; the script writes its own
 * pid into every cgroup the isolators prepared, and only then execs (in
 * order, each replacing the previous program):
 *
 * 1. `nsenter` into the parent's IPC and pid namespaces (a nested
 *    container that shares them, `namespaces/ipc`, `namespaces/pid`);
 * 2. `unshare` for new mount (and IPC, and pid) namespaces, forking so that
 *    the executor is pid 1 of its pid namespace with a fresh /proc;
 * 3. a second script, inside the new mount namespace, that makes the
 *    volumes' bind mounts and the container's /dev/shm;
 * 4. `prlimit` with the container's rlimits (set on a shell that execs the
 *    rest, so a failure can be reported in Mesos' words);
 * 5. `setpriv` (util-linux) to become the task's user (the steps above need
 *    root), set no_new_privs and the capability sets, or, for a container
 *    image, `chroot` into its root filesystem (as the user) and a change
 *    into the sandbox mounted there (`--sandbox_directory`, by default
 *    /mnt/mesos/sandbox); a container image with capabilities uses `capsh`
 *    (libcap) for all of that instead (see capshArguments);
 * 6. a /bin/sh (as the task's user, inside the image for one) that applies
 *    the container's environment, read from an inherited descriptor, and
 * 7. the executor.
 *
 * Every step runs inside the cgroups, so there is no moment in which the
 * executor runs unconstrained. The steps up to 5 run with a fixed minimal
 * environment, never the container's (see shim-environment.ts): the
 * launcher helper starts the returned command that way when it carries
 * `environmentFd`. Without isolation needs the executor's own
 * command is returned unchanged (the plain POSIX launch stays as fast as
 * before).
 */
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { ExecutorCommand } from "./executor-command.js";
import type { LaunchPreparation } from "./isolators/isolator.js";
import { CAPSH, capshArguments } from "./isolators/linux-capabilities.js";
import { applyEnvironment, ENVIRONMENT_FD, isShellName, shellQuote } from "./shim-environment.js";

export { shellQuote };

/**
 * Where the sandbox is inside a container image's root filesystem when
 * nothing else is said: the default of the agent's `--sandbox_directory`.
 */
export const IMAGE_SANDBOX = "/mnt/mesos/sandbox";

/** Makes a bind mount from or into a sandbox from the files it opens (see that file). */
const SANDBOX_MOUNT_MAIN = fileURLToPath(new URL("./sandbox-mount-main.js", import.meta.url));

/** The exit status of the shim when it could not set up the container. */
export const SHIM_SETUP_FAILURE_STATUS = 125;

/** Merges what every isolator asked of the launch. */
export function mergePreparations(
  list: readonly (LaunchPreparation | undefined)[],
): LaunchPreparation {
  type Optional =
    | "rootfs"
    | "chroot"
    | "rootfsEnv"
    | "rootfsWorkDir"
    | "ipcNamespace"
    | "launchFailure"
    | "pidNamespaceToEnter"
    | "netNamespaceToEnter"
    | "utsNamespaceToEnter"
    | "shm"
    | "capabilities";
  const merged: Required<Omit<LaunchPreparation, Optional>> & Pick<LaunchPreparation, Optional> = {
    executorArguments: [],
    cgroupProcs: [],
    pidNamespace: false,
    mountNamespace: false,
    mountProc: false,
    mounts: [],
    rlimits: [],
    noNewPrivs: false,
    environment: {},
    supplementaryGroups: [],
  };
  for (const p of list) {
    if (p === undefined) continue;
    for (const f of p.cgroupProcs ?? [])
      if (!merged.cgroupProcs.includes(f)) merged.cgroupProcs.push(f);
    merged.pidNamespace ||= p.pidNamespace ?? false;
    merged.mountNamespace ||= (p.mountNamespace ?? false) || (p.mounts ?? []).length > 0;
    merged.mounts.push(...(p.mounts ?? []));
    merged.rlimits.push(...(p.rlimits ?? []));
    merged.executorArguments.push(...(p.executorArguments ?? []));
    if (p.ipcNamespace !== undefined) merged.ipcNamespace = p.ipcNamespace;
    merged.launchFailure ??= p.launchFailure;
    if (p.pidNamespaceToEnter !== undefined) merged.pidNamespaceToEnter = p.pidNamespaceToEnter;
    if (p.netNamespaceToEnter !== undefined) merged.netNamespaceToEnter = p.netNamespaceToEnter;
    if (p.utsNamespaceToEnter !== undefined) merged.utsNamespaceToEnter = p.utsNamespaceToEnter;
    if (p.mountProc === true) {
      merged.mountProc = true;
      merged.mountNamespace = true;
    }
    if (p.shm !== undefined) {
      merged.shm = p.shm;
      merged.mountNamespace = true;
    }
    if (p.capabilities !== undefined) merged.capabilities = p.capabilities;
    merged.noNewPrivs ||= p.noNewPrivs ?? false;
    Object.assign(merged.environment, p.environment);
    for (const g of p.supplementaryGroups ?? []) {
      if (!merged.supplementaryGroups.includes(g)) merged.supplementaryGroups.push(g);
    }
    if (p.rootfs !== undefined) {
      merged.rootfs = p.rootfs;
      merged.mountNamespace = true;
      if (p.chroot !== undefined) merged.chroot = p.chroot;
      if (p.rootfsEnv !== undefined) merged.rootfsEnv = p.rootfsEnv;
      if (p.rootfsWorkDir !== undefined) merged.rootfsWorkDir = p.rootfsWorkDir;
    }
  }
  // An executor that runs its task in the image itself (the command
  // executor) keeps the privileges that needs, as in Mesos: the task's
  // command carries the capabilities (images/image-launch.ts).
  if (merged.chroot === false) delete merged.capabilities;
  return merged;
}

/**
 * Writes a just-spawned shim's pid into its cgroups from the agent's side.
 * The shim enters them itself before it execs anything, but the launcher
 * answers the spawn before the shim has run: without this, a container
 * reported as running could for a moment not yet be in its cgroups (seen by
 * GET_CONTAINERS readers on a slow machine). Joining twice is harmless; a
 * process that already ended is no error.
 */
export async function enterCgroups(pid: number, p: LaunchPreparation): Promise<void> {
  for (const file of p.cgroupProcs ?? []) {
    await writeFile(file, String(pid)).catch(() => undefined);
  }
}

/**
 * `setpriv` options for no_new_privs and the capability sets. As Mesos'
 * launcher does, the effective capabilities are raised in every set
 * (ambient ones survive exec, also into another user), the bounding set is
 * limited, and the inheritable set is clipped to the bounding set so that
 * file capabilities cannot add more.
 */
export function privilegeArguments(p: LaunchPreparation): string[] {
  const out: string[] = [];
  if (p.noNewPrivs === true) out.push("--no-new-privs");
  const caps = p.capabilities;
  if (caps !== undefined) {
    const list = (set: readonly string[]) =>
      ["-all", ...set.map((c) => `+${c.toLowerCase()}`)].join(",");
    out.push(`--inh-caps=${list(caps.bounding)}`);
    if (caps.effective !== undefined) out.push(`--ambient-caps=${list(caps.effective)}`);
    out.push(`--bounding-set=${list(caps.bounding)}`);
  }
  return out;
}

/** True when the launch needs the shim at all. */
export function needsShim(p: LaunchPreparation): boolean {
  return (
    (p.cgroupProcs ?? []).length > 0 ||
    p.pidNamespace === true ||
    p.mountNamespace === true ||
    (p.rlimits ?? []).length > 0 ||
    p.rootfs !== undefined ||
    p.ipcNamespace !== undefined ||
    p.pidNamespaceToEnter !== undefined ||
    p.netNamespaceToEnter !== undefined ||
    p.utsNamespaceToEnter !== undefined ||
    p.launchFailure !== undefined ||
    p.shm !== undefined ||
    p.capabilities !== undefined ||
    p.noNewPrivs === true ||
    (p.supplementaryGroups ?? []).length > 0
  );
}

/**
 * The program and argv that start `command` as `p` asks, as `user` when
 * given (the shim itself must then be started as root).
 */
export function shimCommand(
  command: ExecutorCommand,
  p: LaunchPreparation,
  user: { uid: number; gid: number } | undefined,
): ExecutorCommand {
  if (!needsShim(p) && user === undefined) return command;
  const fail = (what: string) =>
    `{ echo ${shellQuote(`mesos-containerizer: ${what}`)} >&2; exit ${SHIM_SETUP_FAILURE_STATUS}; }`;
  if (p.launchFailure !== undefined) {
    const script = `echo ${shellQuote(p.launchFailure)} >&2; exit 1`;
    // Root's shell: not started with the container's environment either.
    return {
      file: "/bin/sh",
      args: ["mesos-containerizer", "-c", script],
      environmentFd: ENVIRONMENT_FD,
    };
  }
  const tail: string[] = [];
  const ipc = p.ipcNamespace;
  // Joining the parent's IPC and pid namespaces comes first: the steps after
  // it stay inside (nsenter forks for the pid namespace and waits).
  const namespaces: string[] = [];
  if (typeof ipc === "object") namespaces.push(`--ipc=${ipc.enter}`);
  if (p.pidNamespaceToEnter !== undefined) namespaces.push(`--pid=${p.pidNamespaceToEnter}`);
  if (p.netNamespaceToEnter !== undefined) namespaces.push(`--net=${p.netNamespaceToEnter}`);
  if (p.utsNamespaceToEnter !== undefined) namespaces.push(`--uts=${p.utsNamespaceToEnter}`);
  if (namespaces.length > 0) tail.push("nsenter", ...namespaces, "--");
  if (p.mountNamespace === true || p.pidNamespace === true || ipc === "new") {
    tail.push("unshare", "--mount", "--propagation", "private");
    if (ipc === "new") tail.push("--ipc");
    if (p.pidNamespace === true) tail.push("--pid", "--fork", "--kill-child", "--mount-proc");
    tail.push("--");
    const mounts = (p.mounts ?? []).map((m) => {
      const source = shellQuote(m.source);
      const target = shellQuote(m.target);
      if (m.sandboxPath !== undefined || m.targetSandbox !== undefined) {
        // In a sandbox the task's user may change: mounted from the files opened, read-only
        // included. Node runs as root here: not with the container's environment (NODE_OPTIONS),
        // nor an `env` its PATH picks.
        const run = [process.execPath, SANDBOX_MOUNT_MAIN, JSON.stringify(m)].map(shellQuote);
        return `/usr/bin/env -i ${run.join(" ")} || ${fail(`cannot mount ${m.source} at ${m.target}`)}`;
      }
      const bind = `mount --bind ${source} ${target} || ${fail(`cannot mount ${m.source} at ${m.target}`)}`;
      return m.readOnly
        ? `${bind}; mount -o remount,bind,ro ${target} || ${fail(`cannot make ${m.target} read-only`)}`
        : bind;
    });
    if (p.mountProc === true && p.pidNamespace !== true) {
      // unshare --mount-proc does this for a new pid namespace.
      mounts.push(
        `mount -t proc -o nosuid,nodev,noexec proc /proc || ${fail("cannot mount /proc")}`,
      );
    }
    if (p.rootfs !== undefined) {
      const proc = shellQuote(`${p.rootfs}/proc`);
      const dev = shellQuote(`${p.rootfs}/dev`);
      mounts.push(
        `mount -t proc proc ${proc} || ${fail("cannot mount /proc in the image")}`,
        `mount --rbind /dev ${dev} || ${fail("cannot mount /dev in the image")}`,
      );
    }
    if (p.shm !== undefined) {
      // After the image's /dev: its /dev/shm is the one the container sees.
      const target = shellQuote(`${p.rootfs ?? ""}/dev/shm`);
      mounts.push(
        "bind" in p.shm
          ? `mount --bind ${shellQuote(p.shm.bind)} ${target} || ${fail(`cannot mount ${p.shm.bind} at /dev/shm`)}`
          : `mount -t tmpfs -o mode=1777,nosuid,nodev,strictatime tmpfs ${target} || ${fail("cannot mount a tmpfs at /dev/shm")}`,
      );
    }
    if (mounts.length > 0) {
      tail.push("/bin/sh", "-c", `${mounts.join("; ")}; exec "$@"`, "mesos-container-mounts");
    }
  }
  const rlimits = p.rlimits ?? [];
  if (rlimits.length > 0) {
    // One prlimit per limit on this shell, which then execs the rest: a
    // limit that cannot be set ends the launch with Mesos' launcher message
    // (`Failed to set RLMT_CORE limit: Operation not permitted`).
    const steps = rlimits.map((option) => {
      const type = `RLMT_${(/^--(\w+)=/.exec(option)?.[1] ?? "").toUpperCase()}`;
      const failed = shellQuote(`Failed to set ${type} limit: `);
      return `e=$(prlimit --pid $$ ${shellQuote(option)} 2>&1) || { echo ${failed}"\${e##*: }" >&2; exit 1; }`;
    });
    tail.push("/bin/sh", "-c", `${steps.join("; ")}; exec "$@"`, "mesos-container-rlimits");
  }
  const privileges = privilegeArguments(p);
  // The volume gids of --volume_gid_range (isolators/volume-gid.ts).
  const groups = p.supplementaryGroups ?? [];
  if (p.rootfs !== undefined && p.chroot !== false) {
    // The image's Env applies inside only, after the container's environment
    // (as the user, after the chroot: the steps above are root's).
    // An image's Env name that is not a shell name would be shell syntax here: left out.
    const exports = Object.entries(p.rootfsEnv ?? {})
      .map(([k, v]) =>
        isShellName(k)
          ? `export ${k}=${shellQuote(v)}; `
          : `echo ${shellQuote(`mesos-containerizer: the image's environment variable ${JSON.stringify(k)} is not a shell variable name; left out`)} >&2; `,
      )
      .join("");
    const inside = [
      "-c",
      `${applyEnvironment(fail("cannot read the container's environment"))}; ${exports}cd ${shellQuote(p.rootfsWorkDir ?? IMAGE_SANDBOX)} && exec "$@"`,
      "mesos-container",
    ];
    if (p.capabilities !== undefined) {
      // setpriv before chroot would leave chroot's privileges in the sets: capsh does both.
      if (CAPSH === undefined) {
        throw new Error("Capabilities for containers with an image need capsh (libcap2-bin)");
      }
      const capsh = capshArguments({
        rootfs: p.rootfs,
        user,
        capabilities: p.capabilities,
        noNewPrivs: p.noNewPrivs,
        groups,
      });
      tail.push(CAPSH, ...capsh, ...inside);
    } else {
      // no_new_privs does not hinder chroot.
      if (privileges.length > 0) tail.push("setpriv", ...privileges, "--");
      tail.push("chroot");
      if (user !== undefined) tail.push(`--userspec=${user.uid}:${user.gid}`);
      if (user !== undefined && groups.length > 0) tail.push(`--groups=${groups.join(",")}`);
      tail.push(p.rootfs, "/bin/sh", ...inside);
    }
  } else if (user !== undefined || privileges.length > 0) {
    // One setpriv: the user switch needs capabilities the new sets may drop.
    const switchUser =
      user === undefined
        ? []
        : [
            `--reuid=${user.uid}`,
            `--regid=${user.gid}`,
            groups.length > 0 ? `--groups=${groups.join(",")}` : "--clear-groups",
          ];
    tail.push("setpriv", ...switchUser, ...privileges, "--");
  }
  if (p.rootfs === undefined || p.chroot === false) {
    // The last step, as the task's user: the container's environment, then the executor
    // (looked up through the container's PATH, as it always was).
    const apply = applyEnvironment(fail("cannot read the container's environment"));
    tail.push("/bin/sh", "-c", `${apply}; exec "$@"`, "mesos-container-environment");
  }
  tail.push(command.file, ...command.args.slice(1));
  const enter = (p.cgroupProcs ?? [])
    .map((f) => `echo $$ > ${shellQuote(f)} || ${fail(`cannot enter cgroup ${f}`)}`)
    .join("; ");
  const script = enter === "" ? 'exec "$@"' : `${enter}; exec "$@"`;
  return {
    file: "/bin/sh",
    args: ["mesos-containerizer", "-c", script, "mesos-containerizer", ...tail],
    environmentFd: ENVIRONMENT_FD,
  };
}

/**
 * The command that starts an isolated executor. The launcher helper runs a
 * tiny `/bin/sh` script instead of the executor; the script writes its own
 * pid into every cgroup the isolators prepared, and only then execs (in
 * order, each replacing the previous program):
 *
 * 1. `unshare` for new mount (and pid) namespaces, forking so that the
 *    executor is pid 1 of its pid namespace with a fresh /proc;
 * 2. a second script, inside the new mount namespace, that makes the
 *    volumes' bind mounts;
 * 3. `prlimit` with the container's rlimits;
 * 4. `setpriv` to become the task's user (the steps above need root), or,
 *    for a container image, `chroot` into its root filesystem (as the
 *    user) and a change into the sandbox mounted at /mnt/mesos/sandbox;
 * 5. the executor.
 *
 * Every step runs inside the cgroups, so there is no moment in which the
 * executor runs unconstrained. Without isolation needs the executor's own
 * command is returned unchanged (the plain POSIX launch stays as fast as
 * before).
 */
import { writeFile } from "node:fs/promises";
import type { ExecutorCommand } from "./executor-command.js";
import type { LaunchPreparation } from "./isolators/isolator.js";

/** Where the sandbox is inside a container image's root filesystem (Mesos' default). */
export const IMAGE_SANDBOX = "/mnt/mesos/sandbox";

/** The exit status of the shim when it could not set up the container. */
export const SHIM_SETUP_FAILURE_STATUS = 125;

/** Single-quotes a word for /bin/sh. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Merges what every isolator asked of the launch. */
export function mergePreparations(
  list: readonly (LaunchPreparation | undefined)[],
): LaunchPreparation {
  const merged: Required<Omit<LaunchPreparation, "rootfs" | "chroot" | "rootfsEnv">> &
    Pick<LaunchPreparation, "rootfs" | "chroot" | "rootfsEnv"> = {
    executorArguments: [],
    cgroupProcs: [],
    pidNamespace: false,
    mountNamespace: false,
    mounts: [],
    rlimits: [],
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
    if (p.rootfs !== undefined) {
      merged.rootfs = p.rootfs;
      merged.mountNamespace = true;
      if (p.chroot !== undefined) merged.chroot = p.chroot;
      if (p.rootfsEnv !== undefined) merged.rootfsEnv = p.rootfsEnv;
    }
  }
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

/** True when the launch needs the shim at all. */
export function needsShim(p: LaunchPreparation): boolean {
  return (
    (p.cgroupProcs ?? []).length > 0 ||
    p.pidNamespace === true ||
    p.mountNamespace === true ||
    (p.rlimits ?? []).length > 0 ||
    p.rootfs !== undefined
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
  const tail: string[] = [];
  if (p.mountNamespace === true || p.pidNamespace === true) {
    tail.push("unshare", "--mount", "--propagation", "private");
    if (p.pidNamespace === true) tail.push("--pid", "--fork", "--kill-child", "--mount-proc");
    tail.push("--");
    const mounts = (p.mounts ?? []).map((m) => {
      const source = shellQuote(m.source);
      const target = shellQuote(m.target);
      const bind = `mount --bind ${source} ${target} || ${fail(`cannot mount ${m.source} at ${m.target}`)}`;
      return m.readOnly
        ? `${bind}; mount -o remount,bind,ro ${target} || ${fail(`cannot make ${m.target} read-only`)}`
        : bind;
    });
    if (p.rootfs !== undefined) {
      const proc = shellQuote(`${p.rootfs}/proc`);
      const dev = shellQuote(`${p.rootfs}/dev`);
      mounts.push(
        `mount -t proc proc ${proc} || ${fail("cannot mount /proc in the image")}`,
        `mount --rbind /dev ${dev} || ${fail("cannot mount /dev in the image")}`,
      );
    }
    if (mounts.length > 0) {
      tail.push("/bin/sh", "-c", `${mounts.join("; ")}; exec "$@"`, "mesos-container-mounts");
    }
  }
  if ((p.rlimits ?? []).length > 0) tail.push("prlimit", ...(p.rlimits ?? []), "--");
  if (p.rootfs !== undefined && p.chroot !== false) {
    tail.push("chroot");
    if (user !== undefined) tail.push(`--userspec=${user.uid}:${user.gid}`);
    // The image's Env applies inside only: the steps above need the host's PATH.
    const exports = Object.entries(p.rootfsEnv ?? {})
      .map(([k, v]) => `export ${k}=${shellQuote(v)}; `)
      .join("");
    tail.push(
      p.rootfs,
      "/bin/sh",
      "-c",
      `${exports}cd ${IMAGE_SANDBOX} && exec "$@"`,
      "mesos-container",
    );
  } else if (user !== undefined) {
    tail.push("setpriv", `--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", "--");
  }
  tail.push(command.file, ...command.args.slice(1));
  const enter = (p.cgroupProcs ?? [])
    .map((f) => `echo $$ > ${shellQuote(f)} || ${fail(`cannot enter cgroup ${f}`)}`)
    .join("; ");
  const script = enter === "" ? 'exec "$@"' : `${enter}; exec "$@"`;
  return {
    file: "/bin/sh",
    args: ["mesos-containerizer", "-c", script, "mesos-containerizer", ...tail],
  };
}

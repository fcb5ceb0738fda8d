/**
 * DEBUG containers nested in a task's container: the container sessions
 * (LAUNCH_NESTED_CONTAINER_SESSION) whose parent is itself a nested
 * container, `<executor>.<task>.<child>` (or deeper, below a nested
 * container at any level), as the default executor launches
 * one for each COMMAND check of a task. As Mesos' DEBUG class, such a
 * container gets no isolation of its own: it joins its parent's mount, IPC
 * and pid namespaces (so it sees the parent's image root filesystem, its
 * volumes and its /dev/shm), works in the parent's working directory, gets
 * the parent's environment below its command's own variables, and counts
 * against the parent's cgroups. Its command's URIs are fetched into its own
 * sandbox (`<parent sandbox>/containers/<id>`) first, as Mesos fetches for
 * every container it launches.
 */
import { readlink } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { CommandInfo } from "../../common/protocol/generated/mesos-v1.js";
import type { ExecutorCommand } from "./executor-command.js";
import { SHIM_SETUP_FAILURE_STATUS, shellQuote } from "./launch-shim.js";
import {
  SESSION_STDIN_DEADLINE_SECONDS,
  STDIN_DEADLINE_EXPIRED,
} from "./session-stdin-deadline.js";
import { applyEnvironment, ENVIRONMENT_FD } from "./shim-environment.js";

/** What a DEBUG child inherits from the container it runs in. */
export interface ParentLaunch {
  /** The environment the parent's command sees (inside its image, if it has one). */
  readonly env: Readonly<Record<string, string>>;
  /** The parent's working directory (inside its image, if it has one). */
  readonly workDir: string;
  /** The parent's image root filesystem on the host, when it has one. */
  readonly rootfs?: string | undefined;
  /** The user the parent runs as, when the agent switches users. */
  readonly user?: string | undefined;
}

/**
 * A checkpointed ParentLaunch (JSON), or undefined when `text` is not one
 * (cut short, or not the shape written): its DEBUG children are refused then.
 */
export function parseParentLaunch(text: string): ParentLaunch | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const env = o.env;
  if (typeof env !== "object" || env === null || Array.isArray(env)) return undefined;
  if (!Object.values(env).every((x) => typeof x === "string")) return undefined;
  if (typeof o.workDir !== "string" || !o.workDir.startsWith("/")) return undefined;
  if (o.rootfs !== undefined && (typeof o.rootfs !== "string" || !o.rootfs.startsWith("/"))) {
    return undefined;
  }
  if (o.user !== undefined && typeof o.user !== "string") return undefined;
  return {
    env: env as Record<string, string>,
    workDir: o.workDir,
    ...(o.rootfs === undefined ? {} : { rootfs: o.rootfs }),
    ...(o.user === undefined ? {} : { user: o.user }),
  };
}

/** The PATH host programs are found with (nsenter, chroot, setpriv). */
const HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * A DEBUG child's environment: the parent's, below the command's plain
 * variables (its SECRET ones are not resolved for DEBUG containers); the
 * parent's MESOS_SANDBOX stays.
 */
export function debugEnvironment(
  parent: ParentLaunch,
  command: CommandInfo | undefined,
): Record<string, string> {
  const env: Record<string, string> = { ...parent.env };
  for (const v of command?.environment?.variables ?? []) {
    if (v.type === "SECRET") continue;
    env[v.name] = v.value ?? "";
  }
  if (parent.env.MESOS_SANDBOX !== undefined) env.MESOS_SANDBOX = parent.env.MESOS_SANDBOX;
  return env;
}

/**
 * `nsenter` options for the namespaces of `pid` that differ from the
 * agent's: mount, IPC, and the pid namespace its children are created in
 * (the parent's own with `namespaces/pid`). Empty when the parent shares
 * the agent's (or is gone, then the child runs where it is and fails there).
 */
export async function namespacesToEnter(pid: number): Promise<string[]> {
  const pairs: [string, string, string][] = [
    ["mnt", "mnt", "--mount"],
    ["ipc", "ipc", "--ipc"],
    ["pid_for_children", "pid", "--pid"],
  ];
  const out: string[] = [];
  for (const [theirs, ours, option] of pairs) {
    const path = `/proc/${pid}/ns/${theirs}`;
    try {
      const [a, b] = await Promise.all([readlink(path), readlink(`/proc/self/ns/${ours}`)]);
      if (a !== b) out.push(`${option}=${path}`);
    } catch {
      // No such namespace file (old kernel) or the parent is gone.
    }
  }
  return out;
}

/**
 * The deadline of a session's stdin, in seconds: {@link SESSION_STDIN_DEADLINE_SECONDS}.
 * Tests only: `MESOS_TS_TESTING_SESSION_STDIN_DEADLINE=<seconds>` in the
 * agent's environment shortens it.
 */
export function sessionStdinDeadline(): number {
  const testing = Number(process.env.MESOS_TS_TESTING_SESSION_STDIN_DEADLINE ?? "");
  return Number.isFinite(testing) && testing > 0 ? testing : SESSION_STDIN_DEADLINE_SECONDS;
}

/**
 * The shell step that starts the watcher of the deadline of a session's
 * stdin `fifo` (session-stdin-deadline.ts) in the background. Nothing of
 * the container's goes to it (environment, descriptors): a recovering agent
 * finds a container's processes by their variables.
 */
function startStdinWatcher(fifo: string, seconds: number): string {
  const watch = [process.execPath, STDIN_DEADLINE_MAIN, fifo, String(seconds)].map(shellQuote);
  return `/usr/bin/env -i ${watch.join(" ")} >/dev/null 3>&- 4<&- & ${WATCHER_VARIABLE}=$!`;
}

/**
 * The shell steps that open `fifo` as stdin once {@link startStdinWatcher}
 * runs, ending the watcher; the shell exits with `status` when it could
 * not open it or the deadline passed.
 */
function openStdin(fifo: string, seconds: number, status: number): string[] {
  const fail = (what: string) =>
    `{ echo ${shellQuote(`mesos-containerizer: ${what}`)} >&2; exit ${status}; }`;
  const w = `$${WATCHER_VARIABLE}`;
  return [
    `exec 0<${shellQuote(fifo)} || ${fail("cannot open the session's stdin")}`,
    `kill ${w} 2>/dev/null; wait ${w} 2>/dev/null`,
    // Its stderr is the agent's pipe, likely without a reader by now: the
    // message must not end the shell with SIGPIPE before its exit status.
    `[ $? -ne ${STDIN_DEADLINE_EXPIRED} ] || { trap '' PIPE; ${fail(`nobody opened the session's stdin within ${seconds} seconds (its agent is gone)`)}; }`,
    `unset ${WATCHER_VARIABLE}`,
  ];
}

/**
 * A /bin/sh script that reads its stdin from a session's `fifo`, waiting
 * for a writer until the deadline ({@link sessionStdinDeadline}; then exit
 * status `status`), and execs `"$@"`. For sessions that are not DEBUG
 * containers (nested-containers.ts).
 */
export function sessionStdinScript(fifo: string, status: number): string {
  const seconds = sessionStdinDeadline();
  return [startStdinWatcher(fifo, seconds), ...openStdin(fifo, seconds, status), 'exec "$@"'].join(
    "; ",
  );
}

/** The session's stdin watcher (session-stdin-deadline-main.ts). */
const STDIN_DEADLINE_MAIN = fileURLToPath(
  new URL("./session-stdin-deadline-main.js", import.meta.url),
);

/** The pid of that watcher, in the first shell (not exported). */
const WATCHER_VARIABLE = "mesos_stdin_watcher_";

/** Hands the part of the working directory still to enter from root's shell to the user's. */
const REST_VARIABLE = "MESOS_DEBUG_WORKDIR_REST";

/**
 * Shell (run as root) that walks the working directory given as `$1` down
 * from `/` for as long as nobody but root can change the next step: the
 * directory it is in is root's and writable by no one else, or writable by
 * others but sticky with the step itself root's (as /tmp). Leaves the
 * directory so reached in `$d` and what is left, relative, in `$r`; shifts
 * `$1` off.
 */
const ENTER_TRUSTED = [
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
  "p=$1; shift; d=; r=${p#/}; r=${r%/}",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
  'while [ -n "$r" ]; do c=${r%%/*}; case $r in */*) n=${r#*/} ;; *) n= ;; esac',
  'if [ -z "$c" ]; then r=$n; continue; fi',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
  's=$(stat -L -c "%u %a" -- "${d:-/}") || break; [ "${s%% *}" = 0 ] || break; m=0${s#* }',
  // 18 = 022: written by group or others; 512 = 01000: sticky.
  "if [ $(($m & 18)) -ne 0 ]; then",
  '{ [ $(($m & 512)) -ne 0 ] && [ "$(stat -c %u -- "$d/$c")" = 0 ]; } || break',
  "fi",
  '[ -d "$d/$c" ] || break; d=$d/$c; r=$n',
  "done",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
  "d=${d:-/}",
].join("\n");

/**
 * {@link ENTER_TRUSTED} inside an image: walks the working directory given
 * as `$2` (a path inside the image) down from the image's root filesystem
 * on the host, `$1`, with the same rule, but the image is the framework's:
 * no link in it is followed (even root's: it could point at
 * /proc/<pid>/root, out of the image), nor `..` (above `$1`). Leaves the
 * host directory reached in `$d`, the rest in `$r`; shifts both off.
 */
const ENTER_TRUSTED_IN_IMAGE = [
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
  "d=$1; p=$2; shift 2; r=${p#/}; r=${r%/}",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
  'while [ -n "$r" ]; do c=${r%%/*}; case $r in */*) n=${r#*/} ;; *) n= ;; esac',
  'if [ -z "$c" ] || [ "$c" = . ]; then r=$n; continue; fi',
  '[ "$c" != .. ] || break',
  // $d was reached without a link: stat it as it is.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
  's=$(stat -c "%u %a" -- "$d") || break; [ "${s%% *}" = 0 ] || break; m=0${s#* }',
  '[ ! -L "$d/$c" ] || break',
  "if [ $(($m & 18)) -ne 0 ]; then",
  '{ [ $(($m & 512)) -ne 0 ] && [ "$(stat -c %u -- "$d/$c")" = 0 ]; } || break',
  "fi",
  '[ -d "$d/$c" ] || break; d=$d/$c; r=$n',
  "done",
].join("\n");

/**
 * The program, argv and environment that run `command` as a DEBUG child of
 * a parent described by `parent`, entering `namespaces` (see
 * {@link namespacesToEnter}) after joining `cgroupProcs`. Inside an image
 * the command runs chrooted into its root filesystem (as `user`), else as
 * `user` on the parent's filesystem; both from the parent's working
 * directory (entered as root as far as only root can change the way to it
 * and, in an image, no link lies on it; the rest after the switch to `user`).
 */
export function debugCommand(o: {
  command: ExecutorCommand;
  parent: ParentLaunch;
  env: Record<string, string>;
  namespaces: readonly string[];
  cgroupProcs: readonly string[];
  user: { uid: number; gid: number } | undefined;
  /**
   * A named pipe to read stdin from (a session's), opened by root on the
   * host before anything is entered: the agent's handle on it
   * (`/proc/<agent>/fd/<n>`), never its name in the user's sandbox.
   */
  stdin?: string;
  /** How long to wait for a writer of `stdin` (default {@link sessionStdinDeadline}). */
  stdinDeadlineSeconds?: number;
}): { file: string; args: string[]; env: Record<string, string>; environmentFd: number } {
  const fail = (what: string) =>
    `{ echo ${shellQuote(`mesos-containerizer: ${what}`)} >&2; exit ${SHIM_SETUP_FAILURE_STATUS}; }`;
  // The steps before the user switch (and the chroot) run as root: the launcher helper starts
  // them with a fixed environment, and `env` reaches the last step only (shim-environment.ts).
  const apply = applyEnvironment(fail("cannot read the container's environment"));
  const tail: string[] = [];
  if (o.namespaces.length > 0) tail.push("nsenter", ...o.namespaces, "--");
  const cd = `cd ${shellQuote(o.parent.workDir)} || ${fail(`cannot enter ${o.parent.workDir}`)}`;
  const rootfs = o.parent.rootfs;
  if (rootfs !== undefined) {
    // As Mesos' launcher: into the image's root, to the working directory,
    // and only then to the user, who may be able to work there but not to
    // reach it. The image's own programs (its /bin/sh) never run as root
    // for a user's command, so the host's shell walks to the directory as
    // root (as far as only root can change the way and no link of the
    // image's lies on it, see ENTER_TRUSTED_IN_IMAGE), and util-linux's
    // nsenter (host's) changes the root keeping that directory, drops the
    // supplementary groups (as setpriv --clear-groups on the host) and
    // switches to the user; the image's shell enters the rest as the user.
    const nsenter = ["nsenter", `--root=${rootfs}`];
    if (o.user !== undefined) {
      nsenter.push(`--setuid=${o.user.uid}`, `--setgid=${o.user.gid}`);
    }
    // Without a PATH of its own the command gets the host's default inside.
    const path = o.env.PATH ?? HOST_PATH;
    tail.push(
      "/bin/sh",
      "-c",
      `${ENTER_TRUSTED_IN_IMAGE}; cd -P -- "$d" || ${fail(`cannot enter ${o.parent.workDir}`)}; ` +
        `${REST_VARIABLE}=$r; export ${REST_VARIABLE}; exec "$@"`,
      "mesos-debug-container",
      rootfs,
      o.parent.workDir,
      ...nsenter,
      "--",
      "/bin/sh",
      "-c",
      `r=$${REST_VARIABLE}; unset ${REST_VARIABLE}; ` +
        `[ -z "$r" ] || cd -P -- "$r" || ${fail(`cannot enter ${o.parent.workDir}`)}; ` +
        `${apply}; export PATH=${shellQuote(path)}; exec "$@"`,
      "mesos-debug-container",
    );
  } else if (o.user === undefined) {
    tail.push("/bin/sh", "-c", `${apply}; ${cd}; exec "$@"`, "mesos-debug-container");
  } else {
    // As Mesos' launcher, the working directory is entered before the user
    // switch: the user may not be able to reach it by its full path (a
    // private --work_dir), only work in it. But only as far as root alone
    // can change the way (see ENTER_TRUSTED): the rest of the path lies in
    // the user's sandbox, where the user could put links that root would
    // follow, so the user enters it after the switch.
    tail.push(
      "/bin/sh",
      "-c",
      `${ENTER_TRUSTED}; cd -- "$d" || ${fail(`cannot enter ${o.parent.workDir}`)}; ` +
        `${REST_VARIABLE}=$r; export ${REST_VARIABLE}; exec "$@"`,
      "mesos-debug-container",
      o.parent.workDir,
      "setpriv",
      `--reuid=${o.user.uid}`,
      `--regid=${o.user.gid}`,
      "--clear-groups",
      "--",
      "/bin/sh",
      "-c",
      `r=$${REST_VARIABLE}; unset ${REST_VARIABLE}; ` +
        `[ -z "$r" ] || cd -P -- "$r" || ${fail(`cannot enter ${o.parent.workDir}`)}; ${apply}; exec "$@"`,
      "mesos-debug-container",
    );
  }
  tail.push(o.command.file, ...o.command.args.slice(1));
  const steps: string[] = [];
  const stdin = o.stdin;
  const seconds = o.stdinDeadlineSeconds ?? sessionStdinDeadline();
  // Started before the cgroups are joined: a Node process does not count
  // against the task's memory.
  if (stdin !== undefined) steps.push(startStdinWatcher(stdin, seconds));
  steps.push(
    ...o.cgroupProcs.map(
      (f) => `echo $$ > ${shellQuote(f)} || ${fail(`cannot enter cgroup ${f}`)}`,
    ),
  );
  if (stdin !== undefined) steps.push(...openStdin(stdin, seconds, SHIM_SETUP_FAILURE_STATUS));
  const script = [...steps, 'exec "$@"'].join("; ");
  return {
    file: "/bin/sh",
    args: ["mesos-containerizer", "-c", script, "mesos-containerizer", ...tail],
    env: o.env,
    environmentFd: ENVIRONMENT_FD,
  };
}

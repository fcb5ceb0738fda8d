/**
 * How a container started through the launch shim (launch-shim.ts) gets its
 * environment. The shim's steps run as root (cgroups, nsenter, unshare,
 * mounts, prlimit, setpriv, chroot, capsh), so none of them may see the
 * container's variables: a task chooses them (CommandInfo.environment, a
 * nested container's command), and a PATH of its choice would pick the
 * programs root runs, an LD_PRELOAD would load its code into them. As in
 * Mesos' launcher, the environment applies at the last step only.
 *
 * The launcher helper therefore starts the shim with {@link ROOT_STEP_ENVIRONMENT}
 * and writes the container's variables, as a shell script of `export`s, to
 * a socket the shim inherits as {@link ENVIRONMENT_FD}. The last step (a
 * /bin/sh after the user switch and, for an image, after the chroot) reads
 * that descriptor to its end, closes it, applies the variables and execs
 * the executor. Why a descriptor:
 * - not the command line: every user on the host reads argv (`ps`), and the
 *   variables hold secrets;
 * - not a file: the values would be on disk, and a file must be made
 *   readable by the task's user and removed, with a window in between;
 * - the last step reads the inherited descriptor itself: after the user
 *   switch it could not open /dev/fd/N (the socket is root's), and inside
 *   an image nothing but the image's /bin/sh can be assumed.
 * Single-quoted values keep every byte (newlines, quotes, `$`, unicode,
 * `=`). A name a shell cannot export (not `[A-Za-z_][A-Za-z0-9_]*`) is not
 * set; the container's stderr says so.
 *
 * The root steps do carry the variables a restarted agent finds a
 * container's processes by ({@link FINDING_VARIABLES}): the processes that
 * wait for the container (nsenter, unshare) live as long as it, and one
 * still in a root step when the agent died must be found too. Nothing but
 * the agent reads them.
 */
import { CONTAINER_ID_VARIABLE, CONTAINER_TOKEN_VARIABLE } from "./proc.js";

/** The only environment of the shim's root steps. */
export const ROOT_STEP_ENVIRONMENT: Readonly<Record<string, string>> = {
  PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
};

/** The container's variables the root steps carry as well (see proc.ts). */
export const FINDING_VARIABLES: readonly string[] = [
  "MESOS_DIRECTORY",
  CONTAINER_ID_VARIABLE,
  CONTAINER_TOKEN_VARIABLE,
];

/** What the shim is started with for a container whose environment is `env`. */
export function rootStepEnvironment(env: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = { ...ROOT_STEP_ENVIRONMENT };
  for (const name of FINDING_VARIABLES) {
    const value = env[name];
    if (value !== undefined && Object.hasOwn(env, name)) out[name] = value;
  }
  return out;
}

/** The descriptor the container's environment arrives on (3 is the ready pipe). */
export const ENVIRONMENT_FD = 4;

/** The script's last line: a launch whose environment was cut short does not run. */
const END_LINE = "#mesos-containerizer-environment-end";

const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Whether `name` is a variable name /bin/sh can export (anything else could be shell syntax). */
export function isShellName(name: string): boolean {
  return SHELL_NAME.test(name);
}

/** Single-quotes a word for /bin/sh. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The script the launcher helper writes on {@link ENVIRONMENT_FD}. */
export function environmentScript(env: Readonly<Record<string, string>>): string {
  const lines: string[] = [];
  // The last step starts with the root steps' PATH: it is not the container's.
  for (const name of Object.keys(ROOT_STEP_ENVIRONMENT)) {
    if (!Object.hasOwn(env, name)) lines.push(`unset ${name}`);
  }
  for (const [name, value] of Object.entries(env)) {
    if (isShellName(name) && !value.includes("\0")) {
      lines.push(`export ${name}=${shellQuote(value)}`);
    } else {
      const why = `mesos-containerizer: environment variable ${JSON.stringify(name)} cannot be set in an isolated container (not a shell variable name, or a NUL byte in its value)`;
      lines.push(`echo ${shellQuote(why)} >&2`);
    }
  }
  lines.push(END_LINE, "");
  return lines.join("\n");
}

/**
 * The /bin/sh commands of the last step that read the script from
 * {@link ENVIRONMENT_FD}, close it and apply it; `fail` runs when it did
 * not arrive whole. Its own variables are not exported.
 */
export function applyEnvironment(fail: string): string {
  const fd = ENVIRONMENT_FD;
  return [
    "mesos_env_script_=",
    "mesos_env_last_=",
    `while IFS= read -r mesos_env_line_; do mesos_env_script_="$mesos_env_script_$mesos_env_line_\n"; mesos_env_last_=$mesos_env_line_; done <&${fd}`,
    `exec ${fd}<&-`,
    `[ "$mesos_env_last_" = ${shellQuote(END_LINE)} ] || ${fail}`,
    'eval "$mesos_env_script_"',
  ].join("; ");
}

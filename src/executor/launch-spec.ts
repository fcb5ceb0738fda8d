/**
 * Turns a task's CommandInfo into what to exec: program, argv and
 * environment. Pure, so the rules are unit-tested without processes.
 *
 * - `shell` (default true): `/bin/sh -c <value>`, `arguments` ignored.
 * - `shell: false`: `value` is the program (found on PATH), `arguments` is
 *   the whole argv including argv[0], as with execvp.
 * - Environment, later entries winning: the executor's own environment,
 *   then the agent-provided task environment (`--task_environment`), then
 *   `CommandInfo.environment`, then `MESOS_ALLOCATION_ROLE` from the task's
 *   resources. SECRET variables are skipped: the agent resolved them into
 *   the executor's environment (the default executor passes them on to the
 *   agent with each nested container).
 */
import type { CommandInfo, Environment, EnvironmentVariable, TaskInfo } from "./protocol.js";

/** A ready-to-spawn command. */
export interface LaunchSpec {
  /** Program to exec (absolute, or looked up on the task's PATH). */
  file: string;
  /** Arguments after argv[0]. */
  args: string[];
  argv0: string;
  env: Record<string, string>;
  /** Variables from the task that replaced a different inherited value (for logs). */
  overwritten: string[];
  /** Working directory; default: the executor's. */
  cwd?: string;
  /**
   * Files the task's stdout and stderr are appended to (created if
   * missing); default: the executor's own stdout and stderr.
   */
  stdoutPath?: string;
  stderrPath?: string;
  /** Give the task /dev/null as stdin instead of the executor's (a hosted executor's stdin is its host's). */
  ignoreStdin?: boolean;
}

/** Inputs besides the command itself. */
export interface LaunchContext {
  /** The executor's own environment. */
  baseEnv: Readonly<Record<string, string | undefined>>;
  /** Extra variables the agent passed with `--task_environment` (its SECRETs are skipped). */
  taskEnvironment?: Environment;
  /** Role of the task's resources, exported as `MESOS_ALLOCATION_ROLE`. */
  allocationRole?: string;
}

/** The POSIX shell used for `shell: true` commands. */
export const SHELL = "/bin/sh";

function hasNul(s: string): boolean {
  return s.includes("\0");
}

/** Role from `TaskInfo.resources[0].allocation_info.role`, as the Mesos command executor takes it. */
export function allocationRoleOf(task: TaskInfo): string | undefined {
  return task.resources?.[0]?.allocation_info?.role;
}

type MergeResult = { error: string } | undefined;

function mergeVariables(
  env: Record<string, string>,
  overwritten: string[],
  variables: readonly EnvironmentVariable[] | undefined,
  origin: string,
): MergeResult {
  for (const v of variables ?? []) {
    if (typeof v?.name !== "string" || v.name === "" || v.name.includes("=") || hasNul(v.name)) {
      return { error: `${origin} has an environment variable with an invalid name` };
    }
    const type = v.type ?? "VALUE";
    // The agent resolves secrets (its environment_secret isolator) and puts the
    // values in the executor's environment, and so in `baseEnv`; as Mesos'
    // command executor, the unresolved entries are skipped here.
    if (type === "SECRET") continue;
    if (type !== "VALUE") {
      return { error: `environment variable '${v.name}' has unsupported type '${String(type)}'` };
    }
    const value = v.value ?? "";
    if (typeof value !== "string" || hasNul(value)) {
      return { error: `environment variable '${v.name}' has an invalid value` };
    }
    const previous = env[v.name];
    if (previous !== undefined && previous !== value) overwritten.push(v.name);
    env[v.name] = value;
  }
  return undefined;
}

/** Builds the launch spec, or explains in one line why the command cannot run. */
export function buildLaunchSpec(
  command: CommandInfo,
  context: LaunchContext,
): LaunchSpec | { error: string } {
  const shell = command.shell ?? true;
  const value = command.value;
  if (typeof value !== "string" || value === "") {
    return { error: shell ? "shell command is not specified" : "executable is not specified" };
  }
  if (hasNul(value)) return { error: "command contains a NUL character" };

  let file: string;
  let argv0: string;
  let args: string[];
  if (shell) {
    file = SHELL;
    argv0 = "sh";
    args = ["-c", value];
  } else {
    const argv = command.arguments ?? [];
    if (!Array.isArray(argv) || argv.some((a) => typeof a !== "string" || hasNul(a))) {
      return { error: "command arguments must be strings without NUL characters" };
    }
    file = value;
    argv0 = argv[0] ?? value;
    args = argv.slice(1);
  }

  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(context.baseEnv)) {
    if (v !== undefined) env[k] = v;
  }
  const overwritten: string[] = [];
  const fromAgent = mergeVariables(
    env,
    overwritten,
    context.taskEnvironment?.variables,
    "the task environment",
  );
  if (fromAgent !== undefined) return fromAgent;
  const fromTask = mergeVariables(env, overwritten, command.environment?.variables, "the command");
  if (fromTask !== undefined) return fromTask;
  if (context.allocationRole !== undefined) env.MESOS_ALLOCATION_ROLE = context.allocationRole;

  return { file, args, argv0, env, overwritten };
}

/**
 * `mesos`: the operator CLI. Built-in commands live one per file in
 * `./mesos/`; anything else runs a `mesos-<command>` plugin from the
 * launcher's directory or PATH, as Mesos' own `mesos` did. Errors are one
 * line on stderr; exit codes are 0 (done), 1 (failed), 2 (bad usage).
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { Command, CommanderError, Option } from "commander";
import { packageRoot } from "../common/flags/install-paths.js";
import { MESOS_COMPATIBLE_VERSION } from "../common/flags/shared-flags.js";
import { systemClock } from "../common/time/clock.js";
import { agentListCommand } from "./mesos/agent-list.js";
import { catCommand } from "./mesos/cat.js";
import { completeCommand, completionCommand } from "./mesos/completion.js";
import { configCommand } from "./mesos/config.js";
import { eventsCommand } from "./mesos/events.js";
import { findCommand } from "./mesos/find.js";
import { frameworkListCommand } from "./mesos/framework-list.js";
import { headCommand } from "./mesos/head.js";
import { frameworkInspectCommand, taskInspectCommand } from "./mesos/inspect.js";
import { lsCommand } from "./mesos/ls.js";
import { psCommand } from "./mesos/ps.js";
import { resolveCommand } from "./mesos/resolve.js";
import { stateCommand } from "./mesos/state.js";
import { CliError, EXIT_FAILURE, EXIT_USAGE } from "./mesos/support/cli-error.js";
import { CommandContext, type GlobalFlags } from "./mesos/support/context.js";
import type { CliIo } from "./mesos/support/io.js";
import { findPlugin, listPlugins, pluginDirs, runPlugin } from "./mesos/support/plugins.js";
import { OUTPUT_FORMATS } from "./mesos/support/profile.js";
import { tailCommand } from "./mesos/tail.js";
import { taskAttachCommand } from "./mesos/task-attach.js";
import { taskExecCommand } from "./mesos/task-exec.js";
import { taskListCommand } from "./mesos/task-list.js";

/** Global options that take a value (the pre-scan for plugins must skip their values). */
const VALUE_OPTIONS = new Set(["--master", "-o", "--output", "--profile", "--timeout"]);

function ownVersion(): string {
  try {
    const parsed = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as {
      version?: unknown;
    };
    return typeof parsed.version === "string" ? parsed.version : "unknown";
  } catch {
    return "unknown";
  }
}

/** Builds the command tree. */
export function buildProgram(ctx: CommandContext): Command {
  const program = new Command("mesos");
  program
    .description("Operate a Mesos cluster: agents, frameworks, tasks, sandboxes, events.")
    .usage("[options] <command> [arguments]")
    .version(
      `mesos-ts ${ownVersion()} (Mesos ${MESOS_COMPATIBLE_VERSION} compatible)`,
      "-V, --version",
      "print the version",
    )
    .option("--master <address>", "the master: host:port (also MESOS_MASTER, or the profile)")
    .addOption(new Option("-o, --output <format>", "output format").choices([...OUTPUT_FORMATS]))
    .option("--profile <name>", "the profile of ~/.mesos.json to use (also MESOS_CLI_PROFILE)")
    .option(
      "--timeout <duration>",
      "how long to wait for an answer, e.g. 5secs (default 10secs; 5secs for a leader in mesos resolve)",
    )
    .helpOption("-h, --help", "show help")
    .helpCommand(false)
    .configureHelp({ showGlobalOptions: true })
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => ctx.io.out(text),
      writeErr: (text) => ctx.io.err(text),
      outputError: (text, write) => write(`mesos: ${text.replace(/^error: /, "").trimEnd()}\n`),
    })
    .hook("preAction", (_program, action) => {
      ctx.setGlobals(action.optsWithGlobals<GlobalFlags>());
    });

  // Subcommands created below inherit exitOverride and the output configuration.
  const group = (name: string, description: string) =>
    program.command(name).description(description).helpCommand(false);
  group("agent", "inspect the agents").addCommand(agentListCommand(ctx));
  group("framework", "inspect the frameworks")
    .addCommand(frameworkListCommand(ctx))
    .addCommand(frameworkInspectCommand(ctx));
  group("task", "inspect the tasks")
    .addCommand(taskListCommand(ctx))
    .addCommand(taskInspectCommand(ctx))
    .addCommand(taskExecCommand(ctx))
    .addCommand(taskAttachCommand(ctx));
  for (const command of [
    psCommand(ctx),
    stateCommand(ctx),
    resolveCommand(ctx),
    lsCommand(ctx),
    catCommand(ctx),
    headCommand(ctx),
    tailCommand(ctx),
    findCommand(ctx),
    eventsCommand(ctx),
    configCommand(ctx, () => program),
    completionCommand(ctx, () => program),
  ]) {
    program.addCommand(command);
  }
  program.addCommand(
    completeCommand(ctx, () => program),
    { hidden: true },
  );
  inheritSettings(program);
  program.addHelpText("after", () => pluginHelp(ctx, program));
  return program;
}

/** `addCommand` does not copy settings to commands built elsewhere: do it for the whole tree. */
function inheritSettings(parent: Command): void {
  for (const child of parent.commands) {
    child.copyInheritedSettings(parent);
    inheritSettings(child);
  }
}

function builtinNames(program: Command): Set<string> {
  return new Set(program.commands.flatMap((c) => [c.name(), ...c.aliases()]));
}

function pluginHelp(ctx: CommandContext, program: Command): string {
  let dirs: string[];
  try {
    dirs = ctx.pluginDirs();
  } catch {
    // A broken config file is reported by the command that reads it; help still shows PATH's plugins.
    dirs = pluginDirs(ctx.io.env.PATH, ctx.io.launcherDir);
  }
  const plugins = listPlugins(dirs, builtinNames(program));
  const lines = [
    "",
    "Tables show short ids (the first 8 hex digits of each UUID); -o wide shows them in full.",
    "Task ids may be given in part: a prefix, a short id, or any unique piece.",
    "'mesos help <command>' or 'mesos <command> --help' explains a command.",
  ];
  if (plugins.length > 0) {
    lines.push(
      "",
      `Plugins (mesos-<name> in the config's plugins directories or on PATH): ${plugins.join(", ")}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

interface Scan {
  /** Arguments before the command word (global options). */
  readonly before: string[];
  readonly command: string | undefined;
  readonly after: string[];
  /** `--master` given before the command, for plugins. */
  readonly master: string | undefined;
}

/** Finds the command word, skipping global options and their values. */
export function scanArgs(argv: readonly string[]): Scan {
  let master: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") break;
    if (VALUE_OPTIONS.has(arg)) {
      if (arg === "--master") master = argv[i + 1];
      i++;
      continue;
    }
    if (arg.startsWith("--master=")) master = arg.slice("--master=".length);
    if (arg.startsWith("-")) continue;
    return { before: argv.slice(0, i), command: arg, after: argv.slice(i + 1), master };
  }
  return { before: [...argv], command: undefined, after: [], master };
}

/** Runs `mesos` with `argv` (without node and script); resolves with the exit code. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const ctx = new CommandContext(io);
  const program = buildProgram(ctx);
  const builtins = builtinNames(program);
  const scan = scanArgs(argv);
  let args = argv;

  if (scan.command === undefined) {
    const asksSomething = argv.some((a) => ["-h", "--help", "-V", "--version"].includes(a));
    if (!asksSomething) {
      // outputHelp, unlike helpInformation, includes the after-text (the plugins found).
      program.outputHelp({ error: true });
      return EXIT_USAGE;
    }
  } else if (scan.command === "help") {
    const topic = scan.after.filter((a) => !a.startsWith("-"));
    if (topic.length === 0) {
      program.outputHelp();
      return 0;
    }
    const first = topic[0] as string;
    if (!builtins.has(first)) return runPluginOr(ctx, first, ["--help"], scan.master);
    args = [...scan.before, ...topic, "--help"];
  } else if (!builtins.has(scan.command)) {
    return runPluginOr(ctx, scan.command, scan.after, scan.master);
  }

  try {
    await program.parseAsync(args, { from: "user" });
    return ctx.exitCode;
  } catch (e) {
    return reportError(io, e);
  }
}

async function runPluginOr(
  ctx: CommandContext,
  name: string,
  args: string[],
  master: string | undefined,
): Promise<number> {
  let dirs: string[];
  try {
    dirs = ctx.pluginDirs();
  } catch (e) {
    return reportError(ctx.io, e);
  }
  const path = findPlugin(name, dirs);
  if (path === undefined) {
    ctx.io.err(
      `mesos: '${name}' is not a mesos command, and no mesos-${name} plugin is on PATH or in the config's plugins (see 'mesos help')\n`,
    );
    return EXIT_USAGE;
  }
  if (name === "slave") {
    // As Mesos' `mesos` did; `mesos agent` is the CLI's agent group here, so the daemon is `mesos-agent`.
    ctx.warn("'mesos slave' is deprecated in favour of 'mesos-agent'");
  }
  const env: Record<string, string | undefined> = { ...ctx.io.env, PATH: dirs.join(":") };
  if (master !== undefined) env.MESOS_MASTER = master;
  return runPlugin(path, args, env);
}

function reportError(io: CliIo, e: unknown): number {
  if (e instanceof CommanderError) {
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return 0;
    // Commander already printed its message (or the help, for a group without its subcommand).
    return EXIT_USAGE;
  }
  if (e instanceof CliError) {
    io.err(`mesos: ${e.message}\n`);
    return e.exitCode;
  }
  const message = e instanceof Error ? e.message : String(e);
  io.err(`mesos: internal error: ${message}\n`);
  if (io.env.MESOS_CLI_DEBUG !== undefined && e instanceof Error && e.stack !== undefined) {
    io.err(`${e.stack}\n`);
  }
  return EXIT_FAILURE;
}

/** The real process: stdout/stderr, environment, home, wall clock. */
function processIo(): CliIo {
  // `mesos cat ... | head` closes our stdout early: that is a normal end, not a crash.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
  const script = process.argv[1];
  return {
    out: (text) => {
      process.stdout.write(text);
    },
    err: (text) => {
      process.stderr.write(text);
    },
    env: process.env,
    homeDir: homedir(),
    clock: systemClock,
    launcherDir: script === undefined ? undefined : dirname(script),
  };
}

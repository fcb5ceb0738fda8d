/**
 * `mesos completion bash|zsh`: a shell completion script generated from
 * the command tree itself, so it never lists a command that does not
 * exist. Task arguments complete from the cluster (`mesos __complete`),
 * plugin names from `mesos-*` executables (config plugins directories, PATH).
 */
import { Command, Help } from "commander";
import { usageError } from "./support/cli-error.js";
import { allTasks } from "./support/cluster-views.js";
import type { CommandContext } from "./support/context.js";
import { listPlugins } from "./support/plugins.js";

/** Commands whose first argument is a task id. */
const TASK_COMMANDS = ["ls", "cat", "head", "tail", "find"];
/** Commands whose first argument is an agent. */
const AGENT_COMMANDS = ["state"];

interface Node {
  /** Command path without the program name, e.g. "agent list". */
  readonly path: string;
  readonly subcommands: string[];
  readonly options: string[];
}

function visibleCommands(cmd: Command): Command[] {
  return new Help().visibleCommands(cmd).filter((c) => c.name() !== "help");
}

function walk(cmd: Command, prefix: string, out: Node[], valueOptions: Set<string>): void {
  // Every command takes -h/--help; the inherited help option may also be listed in `options`.
  const flags = new Set(["-h", "--help"]);
  for (const option of cmd.options) {
    for (const flag of [option.short, option.long]) {
      if (flag === undefined) continue;
      flags.add(flag);
      if (option.required || option.optional) valueOptions.add(flag);
    }
  }
  const options = [...flags];
  const subs = visibleCommands(cmd);
  out.push({ path: prefix, subcommands: subs.map((c) => c.name()), options });
  for (const sub of subs)
    walk(sub, prefix === "" ? sub.name() : `${prefix} ${sub.name()}`, out, valueOptions);
}

/** The bash completion script for `program`. */
export function bashCompletion(program: Command): string {
  const nodes: Node[] = [];
  const valueOptions = new Set<string>();
  walk(program, "", nodes, valueOptions);
  const root = nodes[0] as Node;
  const globals = root.options.join(" ");
  const top = [...root.subcommands, "help"].join(" ");
  const q = (words: readonly string[]) => words.join(" ");
  const optionCases = nodes
    .filter((n) => n.path !== "")
    .map((n) => `    "${n.path}") echo "${q([...new Set([...n.options, ...root.options])])}" ;;`)
    .join("\n");
  const subCases = nodes
    .filter((n) => n.path !== "" && n.subcommands.length > 0)
    .map((n) => `    "${n.path}") COMPREPLY=($(compgen -W "${q(n.subcommands)}" -- "$cur")) ;;`)
    .join("\n");
  return `# bash completion for mesos (mesos-ts)
# Load it now:        source <(mesos completion bash)
# Or for every shell: mesos completion bash > ~/.local/share/bash-completion/completions/mesos

__mesos_options() {
  case "$1" in
${optionCases}
    *) echo "${globals}" ;;
  esac
}

_mesos() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local -a cmds=()
  local i w skip=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if ((skip)); then skip=0; continue; fi
    case "$w" in
      ${[...valueOptions].sort().join("|")}) skip=1; continue ;;
      -*) continue ;;
    esac
    cmds+=("$w")
  done
  case "$prev" in
    -o|--output) COMPREPLY=($(compgen -W "table wide json" -- "$cur")); return ;;
    --type) COMPREPLY=($(compgen -W "SUBSCRIBED TASK_ADDED TASK_UPDATED AGENT_ADDED AGENT_REMOVED FRAMEWORK_ADDED FRAMEWORK_UPDATED FRAMEWORK_REMOVED HEARTBEAT" -- "$cur")); return ;;
    ${[...valueOptions]
      .filter((o) => o !== "-o" && o !== "--output" && o !== "--type")
      .sort()
      .join("|")}) return ;;
  esac
  local path="\${cmds[*]}"
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(__mesos_options "$path")" -- "$cur"))
    return
  fi
  if ((\${#cmds[@]} == 0)); then
    COMPREPLY=($(compgen -W "${top} $(mesos __complete plugins 2>/dev/null)" -- "$cur"))
    return
  fi
  case "$path" in
    help) COMPREPLY=($(compgen -W "${root.subcommands.join(" ")}" -- "$cur")); return ;;
${subCases}
    ${TASK_COMMANDS.join("|")}) COMPREPLY=($(compgen -W "$(mesos __complete tasks 2>/dev/null)" -- "$cur")) ;;
    ${AGENT_COMMANDS.join("|")}) COMPREPLY=($(compgen -W "$(mesos __complete agents 2>/dev/null)" -- "$cur")) ;;
    ${TASK_COMMANDS.filter((c) => c !== "ls" && c !== "find")
      .map((c) => `${c}\\ *`)
      .join("|")}) ((\${#cmds[@]} == 2)) && COMPREPLY=($(compgen -W "stdout stderr" -- "$cur")) ;;
  esac
}

complete -F _mesos mesos
`;
}

export function completionCommand(ctx: CommandContext, program: () => Command): Command {
  return new Command("completion")
    .description("print a shell completion script (bash, or zsh through bashcompinit)")
    .argument("<shell>", "bash or zsh")
    .addHelpText("after", "\nExample: source <(mesos completion bash)")
    .action((shell: string) => {
      const script = bashCompletion(program());
      if (shell === "bash") {
        ctx.io.out(script);
      } else if (shell === "zsh") {
        ctx.io.out(`autoload -U +X bashcompinit && bashcompinit\n${script}`);
      } else {
        throw usageError(`no completion for '${shell}' (supported: bash, zsh)`);
      }
    });
}

/** `mesos __complete tasks|agents|plugins`: words for the completion script; quiet on any failure. */
export function completeCommand(ctx: CommandContext, programOf?: () => Command): Command {
  return new Command("__complete")
    .argument("<what>", "tasks, agents or plugins")
    .action(async (what: string) => {
      try {
        if (what === "plugins") {
          const program = programOf?.();
          const builtins = new Set(program?.commands.map((c) => c.name()) ?? []);
          ctx.io.out(
            listPlugins(ctx.pluginDirs(), builtins)
              .map((n) => `${n}\n`)
              .join(""),
          );
          return;
        }
        const state = await ctx.masterState();
        const ids =
          what === "tasks"
            ? allTasks(state).map((t) => t.id)
            : what === "agents"
              ? state.agents.flatMap((a) => [a.id, a.hostname])
              : [];
        ctx.io.out([...new Set(ids)].map((id) => `${id}\n`).join(""));
      } catch {
        // Completion must never print errors into the operator's command line.
      }
    });
}

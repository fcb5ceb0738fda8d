/**
 * `mesos config`: show and edit the CLI profile (`~/.mesos.json`, or the
 * file in `MESOS_CLI_CONFIG`). Settings: master, timeout, output. Which
 * value wins: `--master` > `MESOS_MASTER` > profile > default.
 */
import { Command } from "commander";
import { CliError, usageError } from "./support/cli-error.js";
import type { CommandContext } from "./support/context.js";
import { findPlugin, listPlugins } from "./support/plugins.js";
import {
  type ConfigFile,
  checkSetting,
  configPath,
  DEFAULT_PROFILE,
  isProfileKey,
  loadConfigFile,
  PROFILE_KEYS,
  type ProfileKey,
  saveConfigFile,
} from "./support/profile.js";
import { renderTable } from "./support/table.js";

function checkedKey(key: string): ProfileKey {
  if (!isProfileKey(key)) {
    throw usageError(`unknown setting '${key}' (settings: ${PROFILE_KEYS.join(", ")})`);
  }
  return key;
}

/** The file, its path, and the profile the command acts on. */
function openConfig(ctx: CommandContext): { path: string; config: ConfigFile; profile: string } {
  const path = configPath(ctx.io.env, ctx.io.homeDir);
  const settings = ctx.settings({ allowMissingProfile: true });
  return { path, config: loadConfigFile(path), profile: settings.profile };
}

function showCommand(ctx: CommandContext): Command {
  return new Command("show")
    .description("show the settings in effect and where each comes from")
    .action(() => {
      const settings = ctx.settings({ allowMissingProfile: true });
      const { config } = openConfig(ctx);
      const known = config.profiles[settings.profile] !== undefined;
      const timeoutSecs = settings.timeoutMs.value / 1000;
      // From a Mesos CLI TOML file: shown so an operator sees what it gives (never the secrets).
      const plugins = config.plugins ?? [];
      const principals = {
        master: config.masterCredential?.principal,
        agent: config.agentCredential?.principal,
      };
      if (ctx.json) {
        ctx.printJson({
          config_file: settings.configPath,
          profile: settings.profile,
          profiles: Object.keys(config.profiles),
          master: { value: settings.master.value, source: settings.master.source },
          timeout: { value: `${timeoutSecs}secs`, source: settings.timeoutMs.source },
          output: { value: settings.output.value, source: settings.output.source },
          plugins,
          principals,
        });
        return;
      }
      ctx.print(`config file: ${settings.configPath}`);
      ctx.print(
        `profile:     ${settings.profile} (${settings.profileSource}${known ? "" : ", not in the file"})`,
      );
      ctx.print("");
      ctx.print(
        renderTable(
          ["SETTING", "VALUE", "FROM"],
          [
            ["master", settings.master.value, settings.master.source],
            ["timeout", `${timeoutSecs}secs`, settings.timeoutMs.source],
            ["output", settings.output.value, settings.output.source],
          ],
        ),
      );
      const extra: string[] = [];
      if (plugins.length > 0) extra.push(`plugins:     ${plugins.join(", ")}`);
      for (const role of ["master", "agent"] as const) {
        const principal = principals[role];
        if (principal !== undefined)
          extra.push(`${role} principal: ${principal} (with its secret)`);
      }
      if (extra.length > 0) ctx.print(`\n${extra.join("\n")}`);
    });
}

function getCommand(ctx: CommandContext): Command {
  return new Command("get")
    .description("print one setting of the profile")
    .argument("<key>", `one of ${PROFILE_KEYS.join(", ")}`)
    .action((key: string) => {
      const k = checkedKey(key);
      const { config, profile, path } = openConfig(ctx);
      const value = config.profiles[profile]?.[k];
      if (value === undefined)
        throw new CliError(`'${k}' is not set in profile '${profile}' of ${path}`);
      ctx.print(value);
    });
}

function setCommand(ctx: CommandContext): Command {
  return new Command("set")
    .description("set one setting of the profile (creating the file or profile if needed)")
    .argument("<key>", `one of ${PROFILE_KEYS.join(", ")}`)
    .argument("<value>", "the new value, e.g. 10.0.0.5:5050, 20secs, json")
    .action((key: string, value: string) => {
      const k = checkedKey(key);
      const problem = checkSetting(k, value);
      if (problem !== undefined) throw usageError(problem);
      const { config, profile, path } = openConfig(ctx);
      config.profiles[profile] = { ...config.profiles[profile], [k]: value };
      save(path, config);
    });
}

function unsetCommand(ctx: CommandContext): Command {
  return new Command("unset")
    .description("remove one setting from the profile")
    .argument("<key>", `one of ${PROFILE_KEYS.join(", ")}`)
    .action((key: string) => {
      const k = checkedKey(key);
      const { config, profile, path } = openConfig(ctx);
      const values = config.profiles[profile];
      if (values === undefined || values[k] === undefined) return;
      delete values[k];
      save(path, config);
    });
}

function useCommand(ctx: CommandContext): Command {
  return new Command("use")
    .description("make a profile the current one (created empty if new)")
    .argument("<profile>", "profile name")
    .action((name: string) => {
      if (name.trim() === "") throw usageError("the profile name is empty");
      const { config, path } = openConfig(ctx);
      config.profiles[name] ??= {};
      config.current = name;
      save(path, config);
    });
}

function save(path: string, config: ConfigFile): void {
  try {
    saveConfigFile(path, config);
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot write the CLI config ${path}: ${(e as Error).message}`);
  }
}

/** `mesos config plugins`: what `mesos <command>` can run, built in or found on PATH. */
function pluginsCommand(ctx: CommandContext, programOf: () => Command): Command {
  return new Command("plugins")
    .description(
      "list the commands: built-in ones and mesos-<name> plugins (config plugins directories, PATH)",
    )
    .action(() => {
      const program = programOf();
      // `__complete` is the completion script's helper, not a command for people.
      const builtins = program.commands.filter((c) => !c.name().startsWith("__"));
      const names = new Set(program.commands.flatMap((c) => [c.name(), ...c.aliases()]));
      const dirs = ctx.pluginDirs();
      const plugins = listPlugins(dirs, names).map((name) => ({
        name,
        path: findPlugin(name, dirs) ?? "",
      }));
      if (ctx.json) {
        ctx.printJson([
          ...builtins.map((c) => ({ name: c.name(), description: c.description(), builtin: true })),
          ...plugins.map((p) => ({ name: p.name, path: p.path, builtin: false })),
        ]);
        return;
      }
      ctx.print(
        renderTable(
          ["NAME", "DESCRIPTION"],
          [
            ...builtins.map((c) => [c.name(), c.description()]),
            ...plugins.map((p) => [p.name, `plugin: ${p.path}`]),
          ],
        ).trimEnd(),
      );
    });
}

export function configCommand(ctx: CommandContext, programOf?: () => Command): Command {
  return new Command("config")
    .description("show or change the CLI settings (master address, timeout, output format)")
    .addHelpText(
      "after",
      `\nThe profile lives in ~/.mesos.json (or the file MESOS_CLI_CONFIG names; the Mesos CLI's\n` +
        "~/.mesos/config.toml is read, not written, when there is no ~/.mesos.json); --profile or\n" +
        `MESOS_CLI_PROFILE picks one, otherwise its "current" profile, otherwise '${DEFAULT_PROFILE}'.\n` +
        "Precedence: --master > MESOS_MASTER > profile > 127.0.0.1:5050.",
    )
    .addCommand(showCommand(ctx), { isDefault: true })
    .addCommand(getCommand(ctx))
    .addCommand(setCommand(ctx))
    .addCommand(unsetCommand(ctx))
    .addCommand(useCommand(ctx))
    .addCommand(pluginsCommand(ctx, programOf ?? (() => new Command())));
}

/**
 * The CLI configuration file (`~/.mesos.json`, or the file named by
 * `MESOS_CLI_CONFIG`) and how settings are chosen:
 * command-line flag > environment (`MESOS_MASTER`) > profile > default.
 *
 * File format (all keys optional):
 *
 *   { "current": "prod",
 *     "profiles": { "prod": { "master": "10.0.0.5:5050", "timeout": "20secs", "output": "wide" } } }
 *
 * A flat `{ "master": ... }` file is read as the profile `default`. A
 * top-level `"plugins": ["/dir"]` names plugin directories for every profile.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Duration } from "../../../common/flags/duration.js";
import { CliError, usageError } from "./cli-error.js";
import { type BasicCredential, readMesosToml } from "./mesos-toml.js";

/** Output formats every command understands. */
export const OUTPUT_FORMATS = ["table", "wide", "json"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Keys a profile may hold. */
export const PROFILE_KEYS = ["master", "timeout", "output"] as const;
export type ProfileKey = (typeof PROFILE_KEYS)[number];

export type Profile = Partial<Record<ProfileKey, string>>;

export interface ConfigFile {
  current?: string;
  profiles: Record<string, Profile>;
  /** Directories searched for `mesos-<name>` plugins (`plugins`, in either file format). */
  plugins?: string[];
  /** From a Mesos CLI TOML file only: HTTP basic credentials for the master and for agents. */
  masterCredential?: BasicCredential;
  agentCredential?: BasicCredential;
}

export const DEFAULT_PROFILE = "default";
export const DEFAULT_MASTER = "127.0.0.1:5050";
export const DEFAULT_TIMEOUT = "10secs";

/**
 * Where the configuration file lives: `MESOS_CLI_CONFIG`, else `~/.mesos.json`,
 * else the Mesos CLI's `~/.mesos/config.toml` when only that one exists.
 */
export function configPath(
  env: Readonly<Record<string, string | undefined>>,
  home: string,
): string {
  const named = env.MESOS_CLI_CONFIG;
  if (named !== undefined && named !== "") return named;
  const own = join(home, ".mesos.json");
  const mesos = join(home, ".mesos", "config.toml");
  return !existsSync(own) && existsSync(mesos) ? mesos : own;
}

/** True for a Mesos CLI TOML file, which we read but do not rewrite. */
export function isMesosToml(path: string): boolean {
  return path.endsWith(".toml");
}

/** Reads the configuration file; a missing file is an empty configuration. */
export function loadConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as { code?: unknown }).code === "ENOENT") return { profiles: {} };
    throw new CliError(`cannot read the CLI config ${path}: ${(e as Error).message}`);
  }
  return parseConfigFile(text, path);
}

/** Parses configuration file text (exported for tests). */
export function parseConfigFile(text: string, path: string): ConfigFile {
  if (text.trim() === "") return { profiles: {} };
  if (isMesosToml(path)) {
    const toml = readMesosToml(text, path);
    return {
      profiles: toml.master === undefined ? {} : { [DEFAULT_PROFILE]: { master: toml.master } },
      plugins: toml.plugins,
      masterCredential: toml.masterCredential,
      agentCredential: toml.agentCredential,
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new CliError(`the CLI config ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(value)) throw new CliError(`the CLI config ${path} must hold a JSON object`);
  const config: ConfigFile = { profiles: {} };
  if (value.current !== undefined) {
    if (typeof value.current !== "string") {
      throw new CliError(`the CLI config ${path}: "current" must be a profile name`);
    }
    config.current = value.current;
  }
  if (value.profiles !== undefined) {
    if (!isObject(value.profiles)) {
      throw new CliError(`the CLI config ${path}: "profiles" must be an object`);
    }
    for (const [name, profile] of Object.entries(value.profiles)) {
      config.profiles[name] = readProfile(profile, `${path}: profile '${name}'`);
    }
  }
  if (value.plugins !== undefined) config.plugins = pluginDirsOf(value.plugins, path);
  const flat = PROFILE_KEYS.filter((k) => value[k] !== undefined);
  if (flat.length > 0) {
    if (value.profiles !== undefined) {
      throw new CliError(
        `the CLI config ${path} mixes top-level settings with "profiles"; move them into a profile`,
      );
    }
    config.profiles[DEFAULT_PROFILE] = readProfile(value, path);
  }
  return config;
}

/** `"plugins": ["/dir", ...]` (for every profile): each must exist, as in the TOML file. */
function pluginDirsOf(value: unknown, path: string): string[] {
  if (!Array.isArray(value) || !value.every((d) => typeof d === "string" && d !== "")) {
    throw new CliError(`the CLI config ${path}: "plugins" must be a list of directories`);
  }
  for (const dir of value as string[]) {
    if (!existsSync(dir)) {
      throw new CliError(`the CLI config ${path}: plugin directory ${dir} does not exist`);
    }
  }
  return value as string[];
}

function readProfile(value: unknown, where: string): Profile {
  if (!isObject(value)) throw new CliError(`${where} must be an object`);
  const profile: Profile = {};
  for (const key of PROFILE_KEYS) {
    const v = value[key];
    if (v === undefined) continue;
    if (typeof v !== "string") throw new CliError(`${where}: "${key}" must be a string`);
    const problem = checkSetting(key, v);
    if (problem !== undefined) throw new CliError(`${where}: ${problem}`);
    profile[key] = v;
  }
  return profile;
}

/** Writes the configuration file atomically, readable by its owner only. */
export function saveConfigFile(path: string, config: ConfigFile): void {
  if (isMesosToml(path)) {
    throw new CliError(
      `${path} is the Mesos CLI's TOML config, which mesos config does not rewrite; ` +
        "edit it by hand, or point MESOS_CLI_CONFIG at a .json file",
    );
  }
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const body: Record<string, unknown> = {};
  if (config.current !== undefined) body.current = config.current;
  body.profiles = config.profiles;
  if (config.plugins !== undefined) body.plugins = config.plugins;
  writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/** Why `value` is not acceptable for `key`, or undefined when it is. */
export function checkSetting(key: ProfileKey, value: string): string | undefined {
  switch (key) {
    case "master":
      return value.trim() === "" ? "master must not be empty" : undefined;
    case "timeout": {
      const parsed = Duration.parse(value);
      if (!parsed.ok) return `timeout: '${value}' is not a duration (e.g. 500ms, 10secs, 2mins)`;
      return parsed.value.toMs() <= 0 ? "timeout must be positive" : undefined;
    }
    case "output":
      return (OUTPUT_FORMATS as readonly string[]).includes(value)
        ? undefined
        : `output must be one of ${OUTPUT_FORMATS.join(", ")}`;
  }
}

export function isProfileKey(key: string): key is ProfileKey {
  return (PROFILE_KEYS as readonly string[]).includes(key);
}

/** Where a setting came from, for `mesos config show`. */
export type SettingSource = "flag" | "environment" | "profile" | "default";

export interface Setting<T> {
  readonly value: T;
  readonly source: SettingSource;
}

export interface Settings {
  readonly profile: string;
  readonly profileSource: SettingSource;
  readonly configPath: string;
  readonly master: Setting<string>;
  readonly timeoutMs: Setting<number>;
  readonly output: Setting<OutputFormat>;
}

export interface SettingInputs {
  readonly flags: { master?: string; output?: string; timeout?: string; profile?: string };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly config: ConfigFile;
  readonly configPath: string;
  /** `mesos config` may name a profile the file does not hold yet. */
  readonly allowMissingProfile?: boolean;
}

/** Chooses every setting: flag > environment > profile > default. */
export function resolveSettings(inputs: SettingInputs): Settings {
  const { flags, env, config } = inputs;
  let profile = DEFAULT_PROFILE;
  let profileSource: SettingSource = "default";
  if (nonEmpty(flags.profile)) {
    profile = flags.profile;
    profileSource = "flag";
  } else if (nonEmpty(env.MESOS_CLI_PROFILE)) {
    profile = env.MESOS_CLI_PROFILE;
    profileSource = "environment";
  } else if (nonEmpty(config.current)) {
    profile = config.current;
    profileSource = "profile";
  }
  const values = config.profiles[profile];
  if (values === undefined && profileSource !== "default" && inputs.allowMissingProfile !== true) {
    const known = Object.keys(config.profiles);
    throw new CliError(
      `no profile '${profile}' in ${inputs.configPath}` +
        (known.length > 0 ? ` (known: ${known.join(", ")})` : ""),
    );
  }
  const fromProfile: Profile = values ?? {};

  const pick = (key: ProfileKey, flag: string | undefined, envValue: string | undefined) => {
    if (nonEmpty(flag)) return { value: flag, source: "flag" as const };
    if (nonEmpty(envValue)) return { value: envValue, source: "environment" as const };
    const p = fromProfile[key];
    if (nonEmpty(p)) return { value: p, source: "profile" as const };
    return undefined;
  };

  const master = pick("master", flags.master, env.MESOS_MASTER) ?? {
    value: DEFAULT_MASTER,
    source: "default" as const,
  };

  const timeoutRaw = pick("timeout", flags.timeout, undefined) ?? {
    value: DEFAULT_TIMEOUT,
    source: "default" as const,
  };
  const timeoutProblem = checkSetting("timeout", timeoutRaw.value);
  if (timeoutProblem !== undefined) throw usageError(`--${timeoutProblem}`);
  const timeoutMs = { value: Duration.of(timeoutRaw.value).toMs(), source: timeoutRaw.source };

  const outputRaw = pick("output", flags.output, undefined) ?? {
    value: "table",
    source: "default" as const,
  };
  if (checkSetting("output", outputRaw.value) !== undefined) {
    throw usageError(
      `unknown output format '${outputRaw.value}' (use one of ${OUTPUT_FORMATS.join(", ")})`,
    );
  }
  const output = { value: outputRaw.value as OutputFormat, source: outputRaw.source };

  return { profile, profileSource, configPath: inputs.configPath, master, timeoutMs, output };
}

function nonEmpty(value: string | undefined): value is string {
  return value !== undefined && value !== "";
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

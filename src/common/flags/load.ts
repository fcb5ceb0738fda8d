/**
 * Loading flags the way Mesos (stout) does: `--name=value`, `--name` and
 * `--no-name` for booleans, `--` ends flags, `MESOS_<NAME>` from the
 * environment for any known flag (the command line wins), `file://` values
 * read from files, deprecated aliases with a warning, then required flags and
 * validators. Errors are one line naming the flag, in stout's wording.
 */
import { readFileSync } from "node:fs";
import { oneLine } from "../errors/one-line.js";
import type { Parsed } from "./duration.js";
import { type AnyFlagSpec, type FlagSpecs, type FlagValues, flag, trimFileText } from "./spec.js";

/** Where a loaded value came from, for `/flags`, logs and debugging. */
export interface FlagOrigin {
  /**
   * `cmdline`: given as `--name...`; `env`: from `MESOS_<NAME>`; `fallback-env`:
   * from the declaration's `envFallback` variable (e.g. `LIBPROCESS_IP`);
   * `default`: the declared default; `unset`: optional and not given.
   */
  readonly source: "cmdline" | "env" | "fallback-env" | "default" | "unset";
  /** The name it was loaded under (the alias when loaded by alias). */
  readonly name: string;
  /** The environment variable, for `env` and `fallback-env`. */
  readonly variable?: string;
  /** The file the value was read from, for `file://` values. */
  readonly file?: string;
}

/** A program's flags: its table plus checks that involve several flags. */
export interface FlagSchema<S extends FlagSpecs> {
  readonly flags: S;
  /** Checks across flags, after each flag loaded and validated; returns an error line or undefined. */
  readonly validate?: CrossCheck<FlagValues<S>>;
}

/** A check across flags; `origin` says where each value came from. */
export type CrossCheck<V> = (
  values: V,
  origin: (name: string) => FlagOrigin | undefined,
) => string | undefined;

/** Declares a program's flags; adds `--help`, which every Mesos program takes. */
export function defineFlags<S extends FlagSpecs>(
  flags: S,
  validate?: CrossCheck<FlagValues<S & typeof helpFlag>>,
): FlagSchema<S & typeof helpFlag> {
  if ("help" in flags) throw new Error("'help' is built in; do not declare it");
  for (const name of Object.keys(flags)) {
    if (name.startsWith("no-")) throw new Error(`flag '${name}' uses the reserved 'no-' prefix`);
  }
  const all = { ...helpFlag, ...flags };
  return validate === undefined ? { flags: all } : { flags: all, validate };
}

const helpFlag = {
  help: flag.bool({ help: "Print this help message and exit.", default: false }),
};

export interface LoadOptions {
  /** Arguments after the program name. */
  readonly argv: readonly string[];
  /** The environment (usually `process.env`); absent = none. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Prefix of environment flags; Mesos programs use `MESOS_`. */
  readonly envPrefix?: string;
  /** Reads a file for `file://` values; defaults to reading from disk. */
  readonly readFile?: (path: string) => string;
  /** Ignore unknown command-line flags instead of failing. */
  readonly allowUnknown?: boolean;
}

/** Flags after a successful load. */
export class LoadedFlags<S extends FlagSpecs> {
  constructor(
    readonly schema: FlagSchema<S>,
    /** The typed values. */
    readonly values: FlagValues<S>,
    private readonly origins: ReadonlyMap<string, FlagOrigin>,
    /** Deprecation and similar warnings, to log once logging is up. */
    readonly warnings: readonly string[],
    /** Arguments that were not flags (ignored by Mesos programs), and all after `--`. */
    readonly positional: readonly string[],
  ) {}

  /** Where a flag's value came from. */
  origin(name: keyof S & string): FlagOrigin {
    const o = this.origins.get(name);
    if (o === undefined) throw new Error(`unknown flag '${name}'`);
    return o;
  }

  /**
   * Every flag that has a value, printed back as text and keyed by the name
   * it was loaded under, sorted by name: the body of `/flags`. A value taken
   * from a fallback variable (`LIBPROCESS_IP`) is left out: for Mesos that
   * flag is unset, and libprocess reads the variable itself.
   */
  toStrings(): Record<string, string> {
    const pairs: [string, string][] = [];
    const values: Record<string, unknown> = this.values;
    for (const [name, spec] of Object.entries(this.schema.flags)) {
      const value = values[name];
      if (value === undefined || this.origins.get(name)?.source === "fallback-env") continue;
      pairs.push([this.origins.get(name)?.name ?? name, spec.stringify(value)]);
    }
    pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(pairs);
  }

  /**
   * `--name="value"` pairs, as Mesos logs them at start-up ("Flags at
   * startup: ..."), on one line: control characters in a value (a newline
   * in --attributes) are escaped.
   */
  toCommandLine(): string {
    return Object.entries(this.toStrings())
      .map(([k, v]) => `--${k}="${oneLine(v)}"`)
      .join(" ");
  }
}

export type LoadResult<S extends FlagSpecs> =
  | { ok: true; flags: LoadedFlags<S> }
  | {
      ok: false;
      /** One line, naming the flag. */
      error: string;
    };

interface RawFlag {
  /** As written, lower-cased, without `--` (may start with `no-`). */
  readonly name: string;
  readonly value: string | undefined;
  readonly variable?: string;
}

interface CommandLine {
  readonly flags: RawFlag[];
  readonly positional: string[];
}

/** Splits arguments into flags and the rest, as stout does. */
export function splitCommandLine(argv: readonly string[]): CommandLine {
  const flags: RawFlag[] = [];
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i] ?? "";
    const arg = raw.trim();
    if (arg === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--")) {
      positional.push(raw);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = (eq === -1 ? arg.slice(2) : arg.slice(2, eq)).toLowerCase();
    const value = eq === -1 ? undefined : arg.slice(eq + 1);
    flags.push({ name, value });
  }
  return { flags, positional };
}

/**
 * True when the arguments ask for `--help`, whether or not the rest loads:
 * programs print usage even next to a bad flag, as Mesos' do.
 */
export function wantsHelp(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
  envPrefix = "MESOS_",
): boolean {
  return wantsBoolean("help", argv, env, envPrefix);
}

/**
 * True when boolean flag `name` is switched on by the command line (or, when
 * the command line does not mention it, by the environment), looked at
 * before and apart from loading the other flags.
 */
export function wantsBoolean(
  name: string,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
  envPrefix = "MESOS_",
): boolean {
  const on = (v: string | undefined) => v === undefined || ["", "true", "1"].includes(v);
  let answer: boolean | undefined;
  for (const f of splitCommandLine(argv).flags) {
    if (f.name === name) answer = on(f.value);
    else if (f.name === `no-${name}` && f.value === undefined) answer = false;
  }
  if (answer !== undefined) return answer;
  const fromEnv = env[`${envPrefix}${name.toUpperCase()}`] ?? env[`${envPrefix}${name}`];
  return fromEnv !== undefined && on(fromEnv);
}

function defaultReadFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(describeFsError(err));
  }
}

function describeFsError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case "ENOENT":
      return "No such file or directory";
    case "EACCES":
      return "Permission denied";
    case "EISDIR":
      return "Is a directory";
    default:
      return err.message;
  }
}

/** Loads `schema` from the command line and environment. Never throws for bad input. */
export function loadFlags<S extends FlagSpecs>(
  schema: FlagSchema<S>,
  options: LoadOptions,
): LoadResult<S> {
  const specs: Record<string, AnyFlagSpec> = schema.flags;
  const env = options.env ?? {};
  const prefix = options.envPrefix ?? "MESOS_";
  const readFile = options.readFile ?? defaultReadFile;
  const warnings: string[] = [];
  const ctx = { readFile, warn: (m: string) => warnings.push(m) };

  const byName = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) {
    byName.set(name, name);
    if (spec.alias !== undefined) byName.set(spec.alias, name);
  }
  const resolve = (raw: string) => {
    const negated = raw.startsWith("no-");
    const flagName = negated ? raw.slice(3) : raw;
    return { negated, flagName, key: byName.get(flagName) };
  };

  const values: Record<string, unknown> = {};
  const origins = new Map<string, FlagOrigin>();

  const loadOne = (raw: RawFlag, source: "cmdline" | "env"): string | undefined => {
    const { negated, flagName, key } = resolve(raw.name);
    const spec = key === undefined ? undefined : specs[key];
    if (key === undefined || spec === undefined) {
      if (source === "cmdline" && options.allowUnknown) return undefined;
      return `Failed to load unknown flag '${flagName}'${negated ? ` via '${raw.name}'` : ""}`;
    }
    const previous = origins.get(key);
    if (previous !== undefined) {
      return `Flag '${flagName}' is already loaded via name '${previous.name}'`;
    }
    let text: string;
    if (spec.kind !== "bool") {
      if (negated) return `Failed to load non-boolean flag '${flagName}' via '${raw.name}'`;
      if (raw.value === undefined)
        return `Failed to load non-boolean flag '${flagName}': Missing value`;
      text = raw.value;
    } else if (raw.value === undefined || raw.value === "") {
      text = negated ? "false" : "true";
    } else if (!negated) {
      text = raw.value;
    } else {
      return `Failed to load boolean flag '${flagName}' via '${raw.name}' with value '${raw.value}'`;
    }
    const parsed = fetchAndParse(spec, text, ctx);
    if (!parsed.ok) {
      return `Failed to load flag '${flagName}': Failed to load value '${text}': ${parsed.error}`;
    }
    values[key] = parsed.value;
    origins.set(key, {
      source,
      name: flagName,
      ...(raw.variable !== undefined ? { variable: raw.variable } : {}),
      ...(parsed.file !== undefined ? { file: parsed.file } : {}),
    });
    if (flagName !== key) warnings.push(`Loaded deprecated flag '${flagName}'`);
    // Accepted so that Mesos command lines keep working, but the user hears it does nothing yet.
    if (spec.notYet) warnings.push(`Flag '--${key}' has no effect yet in mesos-ts`);
    return undefined;
  };

  const commandLine = splitCommandLine(options.argv);
  for (const raw of commandLine.flags) {
    const error = loadOne(raw, "cmdline");
    if (error !== undefined) return { ok: false, error };
  }

  // Environment flags: known names only, and never over a flag the command line set.
  const fromEnv: RawFlag[] = [];
  for (const [variable, value] of Object.entries(env)) {
    if (value === undefined || !variable.startsWith(prefix)) continue;
    const name = variable.slice(prefix.length).toLowerCase();
    const { key } = resolve(name);
    if (key === undefined || origins.get(key)?.source === "cmdline") continue;
    fromEnv.push({ name, value, variable });
  }
  fromEnv.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const raw of fromEnv) {
    const error = loadOne(raw, "env");
    if (error !== undefined) return { ok: false, error };
  }

  const names = Object.keys(specs).sort();
  for (const name of names) {
    const spec = specs[name];
    if (spec === undefined || origins.has(name)) continue;
    const variable = spec.envFallback;
    const fallback = variable === undefined ? undefined : env[variable];
    if (variable !== undefined && fallback !== undefined) {
      const parsed = fetchAndParse(spec, fallback, ctx);
      if (!parsed.ok) {
        return {
          ok: false,
          error: `Failed to load flag '${name}' from ${variable}: Failed to load value '${fallback}': ${parsed.error}`,
        };
      }
      values[name] = parsed.value;
      origins.set(name, { source: "fallback-env", name, variable });
    } else if (spec.defaultValue !== undefined) {
      values[name] = spec.defaultValue();
      origins.set(name, { source: "default", name });
    } else {
      values[name] = undefined;
      origins.set(name, { source: "unset", name });
    }
  }

  for (const name of names) {
    const spec = specs[name];
    if (spec === undefined) continue;
    const origin = origins.get(name);
    if (spec.required && (origin === undefined || origin.source === "unset")) {
      return { ok: false, error: `Flag '${name}' is required, but it was not provided` };
    }
    const value = values[name];
    if (value !== undefined && spec.validate !== undefined) {
      const error = spec.validate(value);
      if (error !== undefined) return { ok: false, error };
    }
  }

  const typed = values as FlagValues<S>;
  if (schema.validate !== undefined) {
    const error = schema.validate(typed, (name) => origins.get(name));
    if (error !== undefined) return { ok: false, error };
  }
  return {
    ok: true,
    flags: new LoadedFlags(schema, typed, origins, warnings, commandLine.positional),
  };
}

function fetchAndParse(
  spec: AnyFlagSpec,
  text: string,
  ctx: { readFile(path: string): string; warn(m: string): void },
): Parsed<unknown> & { file?: string } {
  if (spec.fetch === "content" && text.startsWith("file://")) {
    const path = text.slice("file://".length);
    let content: string;
    try {
      content = trimFileText(ctx.readFile(path));
    } catch (e) {
      return { ok: false, error: `Error reading file '${path}': ${(e as Error).message}` };
    }
    const parsed = spec.parse(content, ctx);
    return parsed.ok ? { ...parsed, file: path } : parsed;
  }
  const parsed = spec.parse(text, ctx);
  if (parsed.ok && spec.fetch === "self" && text.startsWith("file://")) {
    return { ...parsed, file: text.slice("file://".length) };
  }
  return parsed;
}

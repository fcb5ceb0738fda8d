/**
 * The pure parts of the logrotate container logger: finding Mesos'
 * `org_apache_mesos_LogrotateContainerLogger` module in the `--modules`
 * manifests, reading its parameters (same keys and defaults as Mesos), the
 * per-container overrides taken from the container's command environment
 * (`CONTAINER_LOGGER_MAX_STDOUT_SIZE`, ...), and the `logrotate`
 * configuration the logger process writes beside each log file.
 */

import { Bytes } from "../../../common/flags/bytes.js";
import type { JsonValue } from "../../../common/flags/spec.js";
import type { Environment } from "../../../common/protocol/generated/mesos-v1.js";

/** The module name Mesos users give to `--container_logger`. */
export const LOGROTATE_MODULE_NAME = "org_apache_mesos_LogrotateContainerLogger";

/** The size of one read from the container's pipe; also the smallest allowed log size. */
export const LOGGER_BUFFER_SIZE = 4096;

/** Suffixes of the files `logrotate` is given beside a log file (Mesos' names). */
export const CONF_SUFFIX = ".logrotate.conf";
export const STATE_SUFFIX = ".logrotate.state";

/** How one stream (stdout or stderr) is kept. */
export interface StreamSettings {
  /** Bytes a log file may hold before it is rotated. */
  readonly maxSize: number;
  /** Lines put into the `logrotate` configuration (e.g. `rotate 9`). */
  readonly options?: string | undefined;
}

/** What the module's parameters say. */
export interface LogrotateParameters {
  readonly stdout: StreamSettings;
  readonly stderr: StreamSettings;
  /** Prefix of the container environment variables that override the sizes and options. */
  readonly environmentVariablePrefix: string;
  /** The `logrotate` command (run through a shell, as in Mesos). */
  readonly logrotatePath: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

const DEFAULT_MAX_SIZE = 10 * 1024 * 1024;

/** Parameters Mesos accepts that mesos-ts takes but has no use for. */
const IGNORED_PARAMETERS = new Set(["launcher_dir", "libprocess_num_worker_threads"]);

function isObject(v: JsonValue | undefined): v is { [key: string]: JsonValue } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The parameters of module `name` in Mesos `Modules` manifests (the
 * `--modules` value, or each file of `--modules_dir`). `undefined` value:
 * the module is not listed. The library `file` is not looked at: mesos-ts
 * has the module built in.
 */
export function findModuleParameters(
  manifests: readonly JsonValue[],
  name: string,
): Result<Record<string, string> | undefined> {
  let found: Record<string, string> | undefined;
  for (const manifest of manifests) {
    if (!isObject(manifest)) return { ok: false, error: "a module manifest must be a JSON object" };
    const libraries = manifest.libraries ?? [];
    if (!Array.isArray(libraries)) return { ok: false, error: "'libraries' must be an array" };
    for (const library of libraries) {
      if (!isObject(library)) return { ok: false, error: "a library must be a JSON object" };
      const modules = library.modules ?? [];
      if (!Array.isArray(modules)) return { ok: false, error: "'modules' must be an array" };
      for (const module of modules) {
        // Mesos also accepts a module given by its name alone.
        const moduleName = typeof module === "string" ? module : isObject(module) ? module.name : 0;
        if (typeof moduleName !== "string") {
          return { ok: false, error: "a module must be a name or an object with a 'name'" };
        }
        if (moduleName !== name) continue;
        if (found !== undefined) {
          return { ok: false, error: `module '${name}' is listed more than once` };
        }
        const params = isObject(module) ? (module.parameters ?? []) : [];
        const read = readParameters(params);
        if (!read.ok) return read;
        found = read.value;
      }
    }
  }
  return { ok: true, value: found };
}

function readParameters(params: JsonValue): Result<Record<string, string>> {
  if (!Array.isArray(params)) return { ok: false, error: "'parameters' must be an array" };
  const out: Record<string, string> = {};
  for (const p of params) {
    if (!isObject(p) || typeof p.key !== "string") {
      return { ok: false, error: "a parameter must be an object with a string 'key'" };
    }
    const value = p.value ?? "";
    if (typeof value !== "string") {
      return { ok: false, error: `parameter '${p.key}' must have a string 'value'` };
    }
    out[p.key] = value;
  }
  return { ok: true, value: out };
}

/** A size parameter: stout's byte syntax (`10MB`), at least one read buffer (4 KB). */
export function parseLogSize(key: string, text: string): Result<number> {
  const parsed = Bytes.parse(text.trim());
  if (!parsed.ok) return { ok: false, error: `Failed to load '${key}': ${parsed.error}` };
  if (parsed.value.bytes < LOGGER_BUFFER_SIZE) {
    return {
      ok: false,
      error: `Expected --${key} of at least ${LOGGER_BUFFER_SIZE} bytes (got '${text}')`,
    };
  }
  return { ok: true, value: parsed.value.bytes };
}

/** The module's parameters, with Mesos' defaults; unknown keys are errors, as in Mesos. */
export function parseLogrotateParameters(
  params: Readonly<Record<string, string>>,
): Result<LogrotateParameters> {
  let stdoutSize = DEFAULT_MAX_SIZE;
  let stderrSize = DEFAULT_MAX_SIZE;
  let stdoutOptions: string | undefined;
  let stderrOptions: string | undefined;
  let prefix = "CONTAINER_LOGGER_";
  let logrotatePath = "logrotate";
  for (const [key, value] of Object.entries(params)) {
    switch (key) {
      case "max_stdout_size":
      case "max_stderr_size": {
        const size = parseLogSize(key, value);
        if (!size.ok) return size;
        if (key === "max_stdout_size") stdoutSize = size.value;
        else stderrSize = size.value;
        break;
      }
      case "logrotate_stdout_options":
        stdoutOptions = value;
        break;
      case "logrotate_stderr_options":
        stderrOptions = value;
        break;
      case "environment_variable_prefix":
        prefix = value;
        break;
      case "logrotate_path":
        if (value.trim() === "") return { ok: false, error: "'logrotate_path' must not be empty" };
        logrotatePath = value;
        break;
      default:
        if (key === "libprocess_num_worker_threads" && !/^[1-9][0-9]*$/.test(value.trim())) {
          return { ok: false, error: "Expected --libprocess_num_worker_threads of at least 1" };
        }
        if (!IGNORED_PARAMETERS.has(key)) {
          return { ok: false, error: `Failed to load unknown parameter '${key}'` };
        }
    }
  }
  return {
    ok: true,
    value: {
      stdout: { maxSize: stdoutSize, options: stdoutOptions },
      stderr: { maxSize: stderrSize, options: stderrOptions },
      environmentVariablePrefix: prefix,
      logrotatePath,
    },
  };
}

/**
 * The settings of one container: the module's, overridden by variables of
 * its command environment named `<prefix>MAX_STDOUT_SIZE`,
 * `<prefix>LOGROTATE_STDOUT_OPTIONS`, `<prefix>MAX_STDERR_SIZE`,
 * `<prefix>LOGROTATE_STDERR_OPTIONS`. Any other variable with the prefix is
 * an error (the container does not start), as in Mesos.
 */
export function containerSettings(
  base: LogrotateParameters,
  environments: readonly (Environment | undefined)[],
): Result<{ stdout: StreamSettings; stderr: StreamSettings }> {
  let stdout = base.stdout;
  let stderr = base.stderr;
  const prefix = base.environmentVariablePrefix;
  for (const environment of environments) {
    for (const variable of environment?.variables ?? []) {
      if (!variable.name.startsWith(prefix)) continue;
      const key = variable.name.slice(prefix.length).toLowerCase();
      const value = variable.value ?? "";
      const fail = (error: string): Result<never> => ({
        ok: false,
        error: `Failed to load container logger settings: ${error}`,
      });
      switch (key) {
        case "max_stdout_size":
        case "max_stderr_size": {
          const size = parseLogSize(key, value);
          if (!size.ok) return fail(size.error);
          if (key === "max_stdout_size") stdout = { ...stdout, maxSize: size.value };
          else stderr = { ...stderr, maxSize: size.value };
          break;
        }
        case "logrotate_stdout_options":
          stdout = { ...stdout, options: value };
          break;
        case "logrotate_stderr_options":
          stderr = { ...stderr, options: value };
          break;
        default:
          return fail(`unknown variable '${variable.name}'`);
      }
    }
  }
  return { ok: true, value: { stdout, stderr } };
}

/**
 * The `logrotate` configuration for `logFile`: the user's options, then a
 * `size` one buffer below the maximum, because `logrotate` rotates once a
 * file is over its size while the logger keeps files at most `maxSize`.
 */
export function logrotateConfig(logFile: string, settings: StreamSettings): string {
  const size = Math.max(settings.maxSize - LOGGER_BUFFER_SIZE, 1);
  return `"${logFile}" {\n${settings.options ?? ""}\nsize ${size}\n}\n`;
}

/** Quotes `text` for a POSIX shell. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The shell command that rotates `logFile` (Mesos runs `logrotate` the same way). */
export function logrotateCommand(logrotatePath: string, logFile: string): string {
  return (
    `${logrotatePath} --state ${shellQuote(logFile + STATE_SUFFIX)} ` +
    shellQuote(logFile + CONF_SUFFIX)
  );
}

/**
 * Typed command-line flags with Mesos semantics. A program declares a table
 * with `flag.*`, wraps it with `defineFlags`, loads it with `loadFlags`, and
 * prints `usage` for `--help`. See docs/reference/flags.md.
 */
export { Bytes, type BytesUnit } from "./bytes.js";
export { type CliStreams, type ParsedCommandLine, parseDaemonCommandLine } from "./daemon-cli.js";
export { Duration, type DurationUnit, type Parsed } from "./duration.js";
export {
  type CrossCheck,
  defineFlags,
  type FlagOrigin,
  type FlagSchema,
  LoadedFlags,
  type LoadOptions,
  type LoadResult,
  loadFlags,
  splitCommandLine,
  wantsBoolean,
  wantsHelp,
} from "./load.js";
export { LOGGING_LEVELS, loggingFlags } from "./logging-flags.js";
export {
  checkSharedFlags,
  type DaemonRole,
  expectJsonObject,
  MESOS_COMPATIBLE_VERSION,
  sharedFlags,
} from "./shared-flags.js";
export {
  type AnyFlagSpec,
  type FlagKind,
  type FlagOptions,
  type FlagSpec,
  type FlagSpecs,
  type FlagValues,
  flag,
  type JsonValue,
  type PathOrValue,
} from "./spec.js";
export { flagHelpText, NOT_YET_NOTE, usage } from "./usage.js";

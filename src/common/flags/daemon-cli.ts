/**
 * The start of every Mesos-style program's `main`: `--help` prints usage and
 * exits 0, `--version` prints the version and exits 0, a bad or unknown flag
 * prints one line plus a hint and exits 1 — the order and wording Mesos'
 * binaries use. Otherwise the caller gets its loaded flags.
 */
import { type FlagSchema, type LoadedFlags, loadFlags, wantsBoolean, wantsHelp } from "./load.js";
import { MESOS_COMPATIBLE_VERSION } from "./shared-flags.js";
import type { FlagSpecs } from "./spec.js";
import { usage } from "./usage.js";

export interface CliStreams {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
}

export type ParsedCommandLine<S extends FlagSpecs> =
  | { readonly exit: number }
  | { readonly flags: LoadedFlags<S> };

/**
 * Loads `schema` for `program` from `argv` and `io.env`; handles `--help`,
 * `--version` and errors itself (returning the exit code).
 * `hintProgram` is the name the error hint tells users to run with `--help`.
 */
export function parseDaemonCommandLine<S extends FlagSpecs>(
  schema: FlagSchema<S>,
  program: string,
  argv: readonly string[],
  io: CliStreams,
  hintProgram: string = program,
): ParsedCommandLine<S> {
  if (wantsHelp(argv, io.env)) {
    io.stdout.write(`${usage(schema, program)}\n`);
    return { exit: 0 };
  }
  if (wantsBoolean("version", argv, io.env)) {
    io.stdout.write(`mesos ${MESOS_COMPATIBLE_VERSION}\n`);
    return { exit: 0 };
  }
  const result = loadFlags(schema, { argv, env: io.env });
  if (!result.ok) {
    io.stderr.write(
      `${result.error}\n\nSee \`${hintProgram} --help\` for a list of supported flags.\n`,
    );
    return { exit: 1 };
  }
  return { flags: result.flags };
}

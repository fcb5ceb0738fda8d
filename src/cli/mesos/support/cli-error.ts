/**
 * Errors the `mesos` CLI reports to the operator: one line on stderr and an
 * exit code (1: the operation failed, 2: the command line was wrong).
 */

/** Exit code for a failed operation. */
export const EXIT_FAILURE = 1;
/** Exit code for a command line the CLI cannot understand. */
export const EXIT_USAGE = 2;

/** A failure with a one-line message meant for the operator. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** A command line the CLI cannot act on (exit code 2). */
export function usageError(message: string): CliError {
  return new CliError(message, EXIT_USAGE);
}

/** `text` reduced to its first non-empty line (HTTP bodies can be long). */
export function firstLine(text: string): string {
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed !== "") return trimmed.length > 200 ? `${trimmed.slice(0, 197)}...` : trimmed;
  }
  return "";
}

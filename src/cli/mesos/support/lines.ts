/** Option parsing shared by `head` and `tail`. */
import { InvalidArgumentError } from "commander";

/** Parses `-n`: a whole number of lines, 0 or more. */
export function parseLineCount(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("expected a whole number of lines");
  return Number(value);
}

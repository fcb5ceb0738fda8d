/**
 * `--help` text laid out as Mesos lays it out: `Usage: <program> [options]`,
 * then one entry per flag in name order, names in a left column
 * (`--name=VALUE`, `--[no-]name` for booleans, aliases after a comma), help
 * in a right column five spaces past the widest name, with
 * `(default: X)` at the end of the help.
 */

import type { FlagSchema } from "./load.js";
import type { AnyFlagSpec, FlagSpecs } from "./spec.js";

/** Marker appended to the help of flags whose feature mesos-ts does not have yet. */
export const NOT_YET_NOTE = "(not yet effective in mesos-ts)";

const PAD = 5;
/** Help lines are wrapped to this many characters. */
export const HELP_WIDTH = 72;

/** The left-column text of a flag (without the two leading spaces). */
export function flagSynopsis(name: string, spec: AnyFlagSpec): string {
  const one = (n: string) => (spec.kind === "bool" ? `--[no-]${n}` : `--${n}=VALUE`);
  return spec.alias === undefined ? one(name) : `${one(name)}, ${one(spec.alias)}`;
}

/**
 * The full help of a flag: its text, the not-yet note, and the default
 * (`evaluate` = compute machine-dependent defaults; otherwise show `docDefault`).
 */
export function flagHelpText(spec: AnyFlagSpec, evaluate: boolean): string {
  let text = spec.help;
  if (spec.notYet) text = appendSentence(text, NOT_YET_NOTE);
  if (spec.required) return appendSentence(text, "(required)");
  const shown = defaultText(spec, evaluate);
  return shown === undefined ? text : appendSentence(text, `(default: ${shown})`);
}

/** The default as printed, or undefined when the flag has none. */
export function defaultText(spec: AnyFlagSpec, evaluate: boolean): string | undefined {
  if (!evaluate && spec.docDefault !== undefined) return spec.docDefault;
  if (spec.defaultValue === undefined) return evaluate ? undefined : spec.docDefault;
  return spec.stringify(spec.defaultValue());
}

function appendSentence(text: string, extra: string): string {
  if (text === "") return extra;
  return text.endsWith("\n") ? `${text}${extra}` : `${text} ${extra}`;
}

/** Wraps each paragraph line of `text` at `width`; lines starting with a blank stay as written. */
export function wrapText(text: string, width: number = HELP_WIDTH): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    if (line.length <= width || line.startsWith(" ")) {
      out.push(line);
      continue;
    }
    let current = "";
    for (const word of line.split(" ")) {
      if (current === "") current = word;
      else if (current.length + 1 + word.length <= width) current += ` ${word}`;
      else {
        out.push(current);
        current = word;
      }
    }
    out.push(current);
  }
  return out;
}

/** The `--help` text of a program. */
export function usage<S extends FlagSpecs>(
  schema: FlagSchema<S>,
  program: string,
  message?: string,
): string {
  const specs: Record<string, AnyFlagSpec> = schema.flags;
  const names = Object.keys(specs).sort();
  const left = new Map<string, string>();
  let width = 0;
  for (const name of names) {
    const spec = specs[name];
    if (spec === undefined) continue;
    const col = `  ${flagSynopsis(name, spec)}`;
    left.set(name, col);
    width = Math.max(width, col.length);
  }
  let out = message === undefined ? "" : `${message}\n\n`;
  out += `Usage: ${program} [options]\n\n`;
  const indent = " ".repeat(width + PAD);
  for (const name of names) {
    const spec = specs[name];
    const col = left.get(name);
    if (spec === undefined || col === undefined) continue;
    // A no-break space keeps "(default:" and its value on one line when wrapped.
    const help = flagHelpText(spec, true).replace("(default: ", "(default:\u00a0");
    const lines = wrapText(help).map((l) => l.replace(/\u00a0/g, " "));
    out += `${col}${" ".repeat(width + PAD - col.length)}${lines[0] ?? ""}\n`;
    for (const line of lines.slice(1)) out += `${line === "" ? "" : indent}${line}\n`;
  }
  return out;
}

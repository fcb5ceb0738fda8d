/**
 * Markdown reference pages generated from flag declarations, so the docs
 * cannot drift from the code (a unit test compares them with the committed
 * files).
 */
import type { FlagSchema } from "./load.js";
import type { AnyFlagSpec, FlagSpecs } from "./spec.js";
import { defaultText, flagSynopsis, NOT_YET_NOTE } from "./usage.js";

export interface FlagDocPage {
  /** e.g. `mesos-master`. */
  readonly program: string;
  /** Source file of the declarations, shown in the header. */
  readonly source: string;
  /** A paragraph under the title. */
  readonly intro: string;
}

function cell(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/\|/g, "\\|")
    .replace(/\n+$/, "")
    .replace(/\n/g, "<br>");
}

/** A code span for a table cell (GFM needs `\|` even inside code spans there). */
function code(text: string): string {
  const escaped = text.replace(/\|/g, "\\|");
  return text.includes("`") ? `\`\` ${escaped} \`\`` : `\`${escaped}\``;
}

/** Renders the reference page of one program. */
export function renderFlagDocs<S extends FlagSpecs>(
  schema: FlagSchema<S>,
  page: FlagDocPage,
): string {
  const specs: Record<string, AnyFlagSpec> = schema.flags;
  const names = Object.keys(specs).sort();
  const lines = [
    `# \`${page.program}\` flags`,
    "",
    `<!-- Generated from ${page.source} by \`node dist/src/common/flags/gen-docs.js\`; do not edit. -->`,
    "",
    page.intro,
    "",
    "Every flag can also be set as `MESOS_<NAME>` in the environment (the command line wins).",
    "Syntax, value types and precedence: [flags.md](flags.md).",
    `Flags marked *${NOT_YET_NOTE}* are accepted and shown in \`/flags\`, but do nothing yet.`,
    "",
    "| Flag | Default | Description |",
    "| --- | --- | --- |",
  ];
  for (const name of names) {
    const spec = specs[name];
    if (spec === undefined) continue;
    const shown = spec.required ? "required" : defaultText(spec, false);
    const dflt = shown === undefined ? "" : shown === "required" ? "**required**" : code(shown);
    let help = cell(spec.help);
    if (spec.notYet) help += ` *${NOT_YET_NOTE}*`;
    if (spec.alias !== undefined) help += ` Deprecated alias: \`--${spec.alias}\`.`;
    const env = spec.envFallback === undefined ? "" : ` Also read from \`${spec.envFallback}\`.`;
    lines.push(`| \`${flagSynopsis(name, spec).split(", ")[0]}\` | ${dflt} | ${help}${env} |`);
  }
  lines.push("");
  return lines.join("\n");
}

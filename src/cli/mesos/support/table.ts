/**
 * Plain-text tables: a header row and aligned columns separated by two
 * spaces, no borders, trailing blanks trimmed, so the output greps well.
 */

export type Align = "left" | "right";

export interface Column {
  readonly title: string;
  readonly align?: Align;
}

/** Renders `rows` under `columns`; every line ends with a newline. */
export function renderTable(
  columns: readonly (Column | string)[],
  rows: readonly string[][],
): string {
  const cols = columns.map((c) => (typeof c === "string" ? { title: c } : c));
  const widths = cols.map((c) => displayWidth(c.title));
  for (const row of rows) {
    row.forEach((cell, i) => {
      if (i < widths.length) widths[i] = Math.max(widths[i] ?? 0, displayWidth(cell));
    });
  }
  const line = (cells: readonly string[]) =>
    `${cols
      .map((c, i) => {
        const cell = clean(cells[i] ?? "");
        const pad = " ".repeat(Math.max(0, (widths[i] ?? 0) - displayWidth(cell)));
        return c.align === "right" ? pad + cell : cell + pad;
      })
      .join("  ")
      .trimEnd()}\n`;
  return line(cols.map((c) => c.title)) + rows.map(line).join("");
}

/** Cells are one line: control characters (newlines, tabs, escapes) become spaces. */
function clean(cell: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
  return cell.replace(/[\u0000-\u001f\u007f]/g, " ");
}

/** Columns a string takes on a terminal (wide East Asian characters count double). */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of clean(text)) {
    const cp = ch.codePointAt(0) ?? 0;
    width += isWide(cp) ? 2 : 1;
  }
  return width;
}

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

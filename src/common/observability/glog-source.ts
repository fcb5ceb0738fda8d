/**
 * Finds the `file:line` a log line names, as glog does with `__FILE__` and
 * `__LINE__`: the caller's stack frame (one V8 frame, about 3 µs), mapped
 * back to the TypeScript source through the `.js.map` tsc writes beside each
 * compiled file. Each map is read once, on the first line logged from that
 * file, and reduced to a table of generated line -> source line.
 */
import { readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Where a log call came from, e.g. `{ file: "master.ts", line: 318 }`. */
export interface SourceSite {
  readonly file: string;
  readonly line: number;
}

interface LineTable {
  /** Source file base name per generated line (index = generated line - 1). */
  readonly files: (string | undefined)[];
  readonly lines: Int32Array;
}

const tables = new Map<string, { base: string; table: LineTable | null }>();

interface StackHolder {
  stack?: unknown;
}

/**
 * The site of the call into `above` (the frame just outside it), or undefined
 * when V8 cannot say. `above` is the public logging method being called.
 */
export function callerSite(above: (...args: never[]) => unknown): SourceSite | undefined {
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  const holder: StackHolder = {};
  let frames: unknown;
  try {
    Error.prepareStackTrace = (_error, callSites) => callSites;
    Error.stackTraceLimit = 1;
    Error.captureStackTrace(holder, above);
    // V8 formats the stack when it is first read, so read it before restoring.
    frames = holder.stack;
  } finally {
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
  if (!Array.isArray(frames)) return undefined;
  const frame = frames[0] as NodeJS.CallSite | undefined;
  if (frame === undefined || typeof frame.getFileName !== "function") return undefined;
  const name = frame.getFileName();
  const line = frame.getLineNumber();
  if (name === undefined || name === null || line === null) return undefined;
  return mapToSource(name, line ?? 0);
}

/** Maps a generated file and line to the TypeScript file and line when a source map exists. */
export function mapToSource(fileOrUrl: string, line: number): SourceSite {
  // Keyed by what V8 reports (a URL for ES modules): no URL parsing per line.
  let entry = tables.get(fileOrUrl);
  if (entry === undefined) {
    const path = fileOrUrl.startsWith("file://") ? fileURLToPath(fileOrUrl) : fileOrUrl;
    entry = { base: basename(path), table: loadTable(path) };
    tables.set(fileOrUrl, entry);
  }
  const table = entry.table;
  const original = table?.lines[line - 1];
  const file = table?.files[line - 1];
  if (table === null || original === undefined || original <= 0) {
    return { file: entry.base, line };
  }
  return { file: file ?? entry.base, line: original };
}

interface RawSourceMap {
  sources?: unknown;
  mappings?: unknown;
}

function loadTable(path: string): LineTable | null {
  let raw: RawSourceMap;
  try {
    raw = JSON.parse(readFileSync(`${path}.map`, "utf8")) as RawSourceMap;
  } catch {
    return null;
  }
  if (typeof raw.mappings !== "string" || !Array.isArray(raw.sources)) return null;
  const sources = raw.sources.map((s) =>
    typeof s === "string" ? basename(join(dirname(path), s)) : undefined,
  );
  return decodeLineTable(raw.mappings, sources);
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DIGIT = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE64.length; i++) DIGIT[BASE64.charCodeAt(i)] = i;

/**
 * Decodes source-map `mappings` (base64 VLQ) into the source line of the
 * first mapped segment of each generated line (1-based; 0 = unmapped).
 */
export function decodeLineTable(
  mappings: string,
  sources: readonly (string | undefined)[],
): LineTable {
  const generatedLines = mappings.split(";");
  const lines = new Int32Array(generatedLines.length);
  const files: (string | undefined)[] = new Array(generatedLines.length);
  let sourceIndex = 0;
  let sourceLine = 0;
  const fields: number[] = [];
  for (let g = 0; g < generatedLines.length; g++) {
    const text = generatedLines[g] ?? "";
    let first = true;
    let pos = 0;
    while (pos < text.length) {
      fields.length = 0;
      let value = 0;
      let shift = 0;
      while (pos < text.length && text[pos] !== ",") {
        const digit = DIGIT[text.charCodeAt(pos)] ?? -1;
        pos++;
        if (digit < 0) continue;
        value += (digit & 31) << shift;
        if (digit & 32) {
          shift += 5;
        } else {
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      pos++;
      if (fields.length >= 4) {
        sourceIndex += fields[1] ?? 0;
        sourceLine += fields[2] ?? 0;
        if (first) {
          lines[g] = sourceLine + 1;
          files[g] = sources[sourceIndex];
          first = false;
        }
      }
    }
  }
  return { files, lines };
}

/**
 * `Value` helpers shared by resources and attributes: the Mesos text grammar
 * for a single value (`4`, `[1-10,20-30]`, `{a,b}`, `text`), set arithmetic
 * and the text form Mesos prints.
 */

import { formatValueRanges } from "./ranges.js";
import { formatScalar } from "./scalar.js";
import type { Result, Value, ValueRange, ValueSet } from "./types.js";

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const HEX_INTEGER = /^0[xX][0-9a-fA-F]+$/;
const UNSIGNED = /^\d+$/;
/** Smallest normal double (DBL_MIN); anything closer to zero is subnormal. */
const MIN_NORMAL = 2.2250738585072014e-308;

/**
 * Parses a number the way Mesos' `numify<double>` accepts it (decimal with
 * optional exponent, or a hexadecimal integer). Returns undefined otherwise.
 */
export function parseNumber(text: string): number | undefined {
  if (DECIMAL.test(text)) return Number(text);
  if (HEX_INTEGER.test(text)) return Number.parseInt(text.slice(2), 16);
  return undefined;
}

/** Parses a non-negative integer range bound (decimal or hex). */
function parseBound(text: string): number | undefined {
  if (UNSIGNED.test(text)) return Number(text);
  if (HEX_INTEGER.test(text)) return Number.parseInt(text.slice(2), 16);
  return undefined;
}

function bracketsMatch(text: string, open: string, close: string): boolean {
  let depth = 0;
  for (const ch of text) {
    if (ch === open) depth++;
    else if (ch === close) depth--;
    if (depth < 0) return false;
  }
  return depth === 0;
}

/** Splits on any of `separators`, dropping empty tokens (stout `tokenize`). */
export function tokenize(text: string, separators: string): string[] {
  const out: string[] = [];
  let current = "";
  for (const ch of text) {
    if (separators.includes(ch)) {
      if (current !== "") out.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  if (current !== "") out.push(current);
  return out;
}

/**
 * Parses one value in the Mesos text grammar. All spaces are removed first.
 * `[a-b,c-d]` is RANGES (as written, not yet coalesced or checked for
 * `begin > end`), `{x,y}` is SET, a non-negative finite number is SCALAR,
 * anything else is TEXT.
 */
export function parseValue(text: string): Result<Value> {
  const temp = text.replaceAll(" ", "");
  if (temp.length === 0) return { ok: false, error: "expecting a non-empty value" };
  if (
    !bracketsMatch(temp, "{", "}") ||
    !bracketsMatch(temp, "[", "]") ||
    !bracketsMatch(temp, "(", ")")
  ) {
    return { ok: false, error: `mismatched brackets in '${temp}'` };
  }
  const bracket = temp.indexOf("[");
  if (bracket === 0) {
    const tokens = tokenize(temp, "[]-,\n");
    if (tokens.length % 2 !== 0) {
      return { ok: false, error: `expecting one or more ranges 'begin-end' in '${temp}'` };
    }
    const range: ValueRange[] = [];
    for (let i = 0; i < tokens.length; i += 2) {
      const begin = parseBound(tokens[i]!);
      const end = parseBound(tokens[i + 1]!);
      if (begin === undefined || end === undefined) {
        return {
          ok: false,
          error: `expecting non-negative integers in '${tokens[i]}-${tokens[i + 1]}'`,
        };
      }
      if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end)) {
        return { ok: false, error: `range bound in '${temp}' is larger than 2^53-1` };
      }
      range.push({ begin, end });
    }
    return { ok: true, value: { type: "RANGES", ranges: { range } } };
  }
  if (bracket !== -1) return { ok: false, error: `unexpected '[' in '${temp}'` };

  const brace = temp.indexOf("{");
  if (brace === 0) {
    return { ok: true, value: { type: "SET", set: { item: tokenize(temp, "{},\n") } } };
  }
  if (brace !== -1) return { ok: false, error: `unexpected '{' in '${temp}'` };

  const number = parseNumber(temp);
  // Mesos refuses subnormal numbers (of either sign) outright, where other
  // numbers it cannot use (negative, infinite) fall back to TEXT.
  if (number !== undefined && number !== 0 && Math.abs(number) < MIN_NORMAL) {
    return { ok: false, error: `subnormal values are not supported: '${temp}'` };
  }
  if (number !== undefined && Number.isFinite(number) && number >= 0) {
    return { ok: true, value: { type: "SCALAR", scalar: { value: number } } };
  }
  return { ok: true, value: { type: "TEXT", text: { value: temp } } };
}

/** Formats a set as Mesos prints it: `{a, b, c}`. */
export function formatSet(set: ValueSet | readonly string[] | undefined): string {
  const items = set === undefined ? [] : Array.isArray(set) ? set : (set as ValueSet).item;
  return `{${items.join(", ")}}`;
}

/** Formats any `Value` (or value-bearing message) as Mesos prints it. */
export function formatValue(value: Value): string {
  switch (value.type) {
    case "SCALAR":
      return formatScalar(value.scalar?.value ?? 0);
    case "RANGES":
      return formatValueRanges(value.ranges);
    case "SET":
      return formatSet(value.set);
    case "TEXT":
      return value.text?.value ?? "";
  }
}

/** Union of two item lists keeping first-seen order (no duplicates added). */
export function addItems(a: readonly string[], b: readonly string[]): readonly string[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out = a.slice();
  if (a.length + b.length <= 16) {
    for (const item of b) if (!out.includes(item)) out.push(item);
    return out;
  }
  const seen = new Set(a);
  for (const item of b) {
    if (!seen.has(item)) {
      seen.add(item);
      out.push(item);
    }
  }
  return out;
}

/** Items of `a` not in `b`, in `a`'s order. */
export function subtractItems(a: readonly string[], b: readonly string[]): readonly string[] {
  if (a.length === 0 || b.length === 0) return a;
  if (b.length <= 8) return a.filter((item) => !b.includes(item));
  const drop = new Set(b);
  return a.filter((item) => !drop.has(item));
}

/** True when every item of `b` is in `a`. */
export function itemsContain(a: readonly string[], b: readonly string[]): boolean {
  if (b.length > a.length) return false;
  if (a.length <= 8) return b.every((item) => a.includes(item));
  const have = new Set(a);
  return b.every((item) => have.has(item));
}

/** Set equality (order-insensitive; inputs have no duplicates). */
export function itemsEqual(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && itemsContain(a, b);
}

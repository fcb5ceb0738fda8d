/**
 * Range arithmetic on `Value.Ranges` (inclusive `[begin, end]` intervals of
 * non-negative integers, e.g. ports).
 *
 * Internally a ranges value is a flat, sorted, coalesced array
 * `[b0, e0, b1, e1, ...]` with `e_i + 1 < b_{i+1}` (adjacent ranges merge, as
 * Mesos coalesces them). Functions on the flat form never mutate their inputs.
 */

import type { ValueRange, ValueRanges } from "./types.js";

/** A flat, sorted, coalesced ranges value: `[b0, e0, b1, e1, ...]`. */
export type FlatRanges = readonly number[];

/** Empty ranges. */
export const NO_RANGES: FlatRanges = Object.freeze([]);

/**
 * Sorts and coalesces arbitrary intervals (overlapping or adjacent ones are
 * merged). Intervals are given as a flat `[b, e, ...]` list; an interval with
 * `begin > end` is kept as is only by `coalesceValueRanges`' caller's
 * validation — here it is treated as empty.
 */
export function coalesceFlat(flat: readonly number[]): FlatRanges {
  const n = flat.length / 2;
  if (n === 0) return NO_RANGES;
  if (n === 1) {
    const b = flat[0]!;
    const e = flat[1]!;
    return b <= e ? [b, e] : NO_RANGES;
  }
  if (isCoalesced(flat)) return flat.slice();
  const pairs: [number, number][] = [];
  for (let i = 0; i < flat.length; i += 2) {
    const b = flat[i]!;
    const e = flat[i + 1]!;
    if (b <= e) pairs.push([b, e]);
  }
  pairs.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const out: number[] = [];
  for (const [b, e] of pairs) {
    const last = out.length - 1;
    if (last > 0 && b <= out[last]! + 1) {
      if (e > out[last]!) out[last] = e;
    } else {
      out.push(b, e);
    }
  }
  return out;
}

function isCoalesced(flat: readonly number[]): boolean {
  for (let i = 0; i < flat.length; i += 2) {
    if (flat[i]! > flat[i + 1]!) return false;
    if (i > 0 && flat[i]! <= flat[i - 1]! + 1) return false;
  }
  return true;
}

/** Converts `Value.Ranges` to the flat coalesced form. */
export function flatFromValueRanges(ranges: ValueRanges | undefined): FlatRanges {
  const list = ranges?.range ?? [];
  const flat: number[] = new Array(list.length * 2);
  for (let i = 0; i < list.length; i++) {
    const r = list[i]!;
    flat[2 * i] = r.begin;
    flat[2 * i + 1] = r.end;
  }
  return coalesceFlat(flat);
}

/** Converts the flat form back to `Value.Ranges` (fresh objects). */
export function valueRangesFromFlat(flat: FlatRanges): ValueRanges {
  const range: ValueRange[] = [];
  for (let i = 0; i < flat.length; i += 2) range.push({ begin: flat[i]!, end: flat[i + 1]! });
  return { range };
}

/** Union of two coalesced ranges values. */
export function addRanges(a: FlatRanges, b: FlatRanges): FlatRanges {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  // Merge the two sorted lists, then coalesce in one pass.
  const out: number[] = [];
  let i = 0;
  let j = 0;
  const push = (begin: number, end: number): void => {
    const last = out.length - 1;
    if (last > 0 && begin <= out[last]! + 1) {
      if (end > out[last]!) out[last] = end;
    } else {
      out.push(begin, end);
    }
  };
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]! <= b[j]!)) {
      push(a[i]!, a[i + 1]!);
      i += 2;
    } else {
      push(b[j]!, b[j + 1]!);
      j += 2;
    }
  }
  return out;
}

/** `a` minus `b` (ranges in `a` are split around holes cut by `b`). */
export function subtractRanges(a: FlatRanges, b: FlatRanges): FlatRanges {
  if (a.length === 0 || b.length === 0) return a;
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < a.length; i += 2) {
    let begin = a[i]!;
    const end = a[i + 1]!;
    // Skip holes entirely before this range.
    while (j < b.length && b[j + 1]! < begin) j += 2;
    let k = j;
    while (k < b.length && b[k]! <= end) {
      const holeBegin = b[k]!;
      const holeEnd = b[k + 1]!;
      if (holeBegin > begin) out.push(begin, holeBegin - 1);
      if (holeEnd >= end) {
        begin = end + 1;
        break;
      }
      begin = holeEnd + 1;
      k += 2;
    }
    if (begin <= end) out.push(begin, end);
  }
  return out;
}

/** True when every value in `b` is in `a`. */
export function rangesContain(a: FlatRanges, b: FlatRanges): boolean {
  let i = 0;
  for (let j = 0; j < b.length; j += 2) {
    const begin = b[j]!;
    const end = b[j + 1]!;
    while (i < a.length && a[i + 1]! < begin) i += 2;
    if (i >= a.length || a[i]! > begin || a[i + 1]! < end) return false;
  }
  return true;
}

/** Equality of two coalesced ranges values. */
export function rangesEqual(a: FlatRanges, b: FlatRanges): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Number of integers covered. */
export function rangesCount(a: FlatRanges): number {
  let total = 0;
  for (let i = 0; i < a.length; i += 2) total += a[i + 1]! - a[i]! + 1;
  return total;
}

/** Formats as Mesos prints ranges: `[31000-32000, 40000-40100]`. */
export function formatFlatRanges(a: FlatRanges): string {
  const parts: string[] = [];
  for (let i = 0; i < a.length; i += 2) parts.push(`${a[i]}-${a[i + 1]}`);
  return `[${parts.join(", ")}]`;
}

/** Formats a `Value.Ranges` as given (not coalesced), as Mesos prints it. */
export function formatValueRanges(ranges: ValueRanges | undefined): string {
  const list = ranges?.range ?? [];
  return `[${list.map((r) => `${r.begin}-${r.end}`).join(", ")}]`;
}

/** Union of `Value.Ranges` (coalesced result). */
export function addValueRanges(a: ValueRanges, b: ValueRanges): ValueRanges {
  return valueRangesFromFlat(addRanges(flatFromValueRanges(a), flatFromValueRanges(b)));
}

/** Difference of `Value.Ranges` (coalesced result). */
export function subtractValueRanges(a: ValueRanges, b: ValueRanges): ValueRanges {
  return valueRangesFromFlat(subtractRanges(flatFromValueRanges(a), flatFromValueRanges(b)));
}

/** True when `a` contains every value of `b`. */
export function valueRangesContain(a: ValueRanges, b: ValueRanges): boolean {
  return rangesContain(flatFromValueRanges(a), flatFromValueRanges(b));
}

/** Equality of `Value.Ranges` after coalescing. */
export function valueRangesEqual(a: ValueRanges, b: ValueRanges): boolean {
  return rangesEqual(flatFromValueRanges(a), flatFromValueRanges(b));
}

/**
 * Dense scalar quantities for the allocator's hot path.
 *
 * Resource names are interned to small indexes (`ResourceNames`), and a
 * quantity vector is a plain array of integer thousandths indexed by them (the
 * fixed-point unit Mesos uses for scalars, so sums never drift). Entries past
 * the end of an array read as zero, so vectors made before a new name was seen
 * stay valid.
 */

import { SCALAR_UNITS } from "../../common/resources/scalar.js";

/** Interns resource names (`cpus`, `mem`, ...) to dense indexes. */
export class ResourceNames {
  private readonly byName = new Map<string, number>();
  private readonly names: string[] = [];

  /** The index of `name`, assigning the next free one on first sight. */
  index(name: string): number {
    let i = this.byName.get(name);
    if (i === undefined) {
      i = this.names.length;
      this.byName.set(name, i);
      this.names.push(name);
    }
    return i;
  }

  /** The index of `name` if it was ever seen. */
  find(name: string): number | undefined {
    return this.byName.get(name);
  }

  name(index: number): string {
    return this.names[index] ?? `#${index}`;
  }

  get size(): number {
    return this.names.length;
  }
}

/** Scalar quantities in integer thousandths, indexed by `ResourceNames`. */
export type Quantities = number[];

/** Read-only view of a quantity vector. */
export type QuantitiesView = readonly number[];

export const NO_QUANTITIES: QuantitiesView = Object.freeze([]);

/** `a += b`. */
export function addInto(a: Quantities, b: QuantitiesView): void {
  const n = b.length;
  while (a.length < n) a.push(0);
  for (let i = 0; i < n; i++) {
    const v = b[i] as number;
    if (v !== 0) a[i] = (a[i] as number) + v;
  }
}

/** `a -= b`; the result may go negative (callers keep it balanced). */
export function subtractInto(a: Quantities, b: QuantitiesView): void {
  const n = b.length;
  while (a.length < n) a.push(0);
  for (let i = 0; i < n; i++) {
    const v = b[i] as number;
    if (v !== 0) a[i] = (a[i] as number) - v;
  }
}

/** `a - b` floored at zero per entry (Mesos `ResourceQuantities` subtraction). */
export function minusFloored(a: QuantitiesView, b: QuantitiesView): Quantities {
  const n = Math.max(a.length, b.length);
  const out: Quantities = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    out[i] = Math.max(d, 0);
  }
  return out;
}

/** `a + b` as a new vector. */
export function plus(a: QuantitiesView, b: QuantitiesView): Quantities {
  const out = a.slice();
  addInto(out, b);
  return out;
}

/** True when every entry of `a` is at least the matching entry of `b`. */
export function containsQuantities(a: QuantitiesView, b: QuantitiesView): boolean {
  for (let i = 0; i < b.length; i++) {
    const v = b[i] as number;
    if (v > 0 && (a[i] ?? 0) < v) return false;
  }
  return true;
}

/** True when no entry is positive. */
export function isEmptyQuantities(a: QuantitiesView): boolean {
  for (let i = 0; i < a.length; i++) if ((a[i] as number) > 0) return false;
  return true;
}

/** Entry-wise minimum. */
export function minQuantities(a: QuantitiesView, b: QuantitiesView): Quantities {
  const n = Math.max(a.length, b.length);
  const out: Quantities = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = Math.min(a[i] ?? 0, b[i] ?? 0);
  return out;
}

/** Builds a vector from `{name: amount}` (amounts in whole units). */
export function quantitiesFrom(
  names: ResourceNames,
  amounts: Readonly<Record<string, number>>,
): Quantities {
  const out: Quantities = [];
  for (const [name, value] of Object.entries(amounts)) {
    const i = names.index(name);
    while (out.length <= i) out.push(0);
    out[i] = (out[i] as number) + Math.round(value * SCALAR_UNITS);
  }
  return out;
}

/** `{name: amount}` (whole units) for the non-zero entries of `q`. */
export function quantitiesToRecord(
  names: ResourceNames,
  q: QuantitiesView,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < q.length; i++) {
    const v = q[i] as number;
    if (v !== 0) out[names.name(i)] = v / SCALAR_UNITS;
  }
  return out;
}

/** `cpus:2;mem:1024` style text, for logs and reasons. */
export function formatQuantities(names: ResourceNames, q: QuantitiesView): string {
  const parts: string[] = [];
  for (let i = 0; i < q.length; i++) {
    const v = q[i] as number;
    if (v !== 0) parts.push(`${names.name(i)}:${v / SCALAR_UNITS}`);
  }
  return parts.length === 0 ? "{}" : parts.join(";");
}

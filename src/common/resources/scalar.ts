/**
 * Fixed-point scalar arithmetic, as Mesos does it: every scalar is rounded to
 * the nearest 0.001 and sums/differences are computed on integer thousandths,
 * so `0.1 + 0.2` is exactly `0.3` and repeated add/subtract never drifts.
 */

/** Number of fixed-point units per whole unit (3 decimals). */
export const SCALAR_UNITS = 1000;

/** Converts a floating-point amount to integer thousandths (round half away from zero). */
export function toFixed(value: number): number {
  const scaled = value * SCALAR_UNITS;
  return scaled < 0 ? -Math.round(-scaled) : Math.round(scaled);
}

/**
 * Converts integer thousandths back to a double. The integer and fractional
 * parts are converted separately so the result is the closest double to the
 * decimal value (the same double Mesos produces).
 */
export function fromFixed(fixed: number): number {
  const rest = fixed % SCALAR_UNITS;
  return (fixed - rest) / SCALAR_UNITS + rest / SCALAR_UNITS;
}

/** Rounds a scalar to the nearest 0.001. */
export function roundScalar(value: number): number {
  return fromFixed(toFixed(value));
}

/** `a + b` on fixed-point scalars. */
export function addScalars(a: number, b: number): number {
  return fromFixed(toFixed(a) + toFixed(b));
}

/** `a - b` on fixed-point scalars. */
export function subtractScalars(a: number, b: number): number {
  return fromFixed(toFixed(a) - toFixed(b));
}

/** Compares two scalars after rounding to 0.001: negative, zero or positive. */
export function compareScalars(a: number, b: number): number {
  return toFixed(a) - toFixed(b);
}

/**
 * Formats a scalar as Mesos prints it: rounded to 0.001, up to 15 significant
 * digits, no trailing zeros, exponent form from 1e15 up (C++ `%g` style).
 */
export function formatScalar(value: number): string {
  const rounded = roundScalar(value);
  if (rounded === 0) return "0";
  if (!Number.isFinite(rounded)) return String(rounded);
  const text = rounded.toPrecision(15);
  const e = text.indexOf("e");
  if (e === -1) return stripZeros(text);
  const mantissa = stripZeros(text.slice(0, e));
  const exponent = text.slice(e + 1);
  const sign = exponent.startsWith("-") ? "-" : "+";
  const digits = exponent.replace(/^[+-]/, "").padStart(2, "0");
  return `${mantissa}e${sign}${digits}`;
}

function stripZeros(text: string): string {
  if (!text.includes(".")) return text;
  return text.replace(/0+$/, "").replace(/\.$/, "");
}

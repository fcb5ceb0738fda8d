/**
 * Integer query parameters read the way Mesos reads them (stout's
 * `numify`): an optional sign and decimal digits, or `0x`/`-0x` and hex
 * digits; no spaces, no fraction, and the value must fit the C type
 * (`off_t`/`ssize_t` are 64 bits, `int` 32). The error names the text
 * with stout's wording, so `/files/read` and `/logging/toggle` answer as
 * Mesos does.
 */

/** A parsed integer or stout's one-line reason. */
export type Numified = { ok: true; value: number; decimal: string } | { ok: false; error: string };

/** Parses `text` as a signed integer of `bits` bits, as stout's `numify` does. */
export function numifyInteger(text: string, bits: 32 | 64): Numified {
  const fail: Numified = { ok: false, error: `Failed to convert '${text}' to number` };
  let big: bigint;
  const hex = /^(-?)0[xX]([0-9a-fA-F]+)$/.exec(text);
  if (hex !== null) {
    // The digits are read as a positive value first, so they must fit on their own.
    big = BigInt(`0x${hex[2]}`);
    if (big >= 1n << BigInt(bits - 1)) return fail;
    if (hex[1] === "-") big = -big;
  } else if (/^[+-]?\d+$/.test(text)) {
    big = BigInt(text);
  } else {
    return fail;
  }
  const limit = 1n << BigInt(bits - 1);
  if (big >= limit || big < -limit) return fail;
  // `decimal` keeps every digit where `value` (a double) may round.
  return { ok: true, value: Number(big), decimal: big.toString() };
}

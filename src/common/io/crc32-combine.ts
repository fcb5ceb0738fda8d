/**
 * CRC-32 (the gzip/zlib polynomial) of a concatenation from the CRCs of
 * its pieces, without reading the bytes again: a gzip body assembled from
 * separately compressed, cached pieces needs the CRC of the whole.
 *
 * Arithmetic is over GF(2) polynomials modulo the CRC polynomial, in the
 * reflected bit order the CRC uses (bit 31 is x^0). Appending `n` bytes to
 * a message multiplies its CRC's polynomial by x^(8n); `shiftFor(n)` is
 * that factor, computed once per piece and kept with it.
 */

/** The CRC-32 polynomial, reflected. */
const POLY = 0xedb88320;
/** x^0 in reflected order. */
const ONE = 0x80000000;

/** (a * b) mod POLY. */
function multiply(a: number, b: number): number {
  let product = 0;
  let bits = a >>> 0;
  let term = b >>> 0;
  // Bit 31 of `bits` is the coefficient of x^0; each step multiplies `term` by x.
  for (let mask = ONE; mask !== 0 && bits !== 0; mask >>>= 1) {
    if ((bits & mask) !== 0) {
      product ^= term;
      bits = (bits & ~mask) >>> 0;
    }
    term = term & 1 ? (term >>> 1) ^ POLY : term >>> 1;
  }
  return product >>> 0;
}

/** x^(2^k) mod POLY for k = 0..31 (x^(8n) is a product of these over n's bits, shifted by 3). */
const POWERS: number[] = (() => {
  const out = [ONE >>> 1];
  for (let k = 1; k < 32; k++) {
    const prev = out[k - 1] as number;
    out.push(multiply(prev, prev));
  }
  return out;
})();

/** The factor that appending `bytes` bytes applies to a CRC: x^(8 * bytes) mod POLY. */
export function shiftFor(bytes: number): number {
  let factor = ONE;
  let n = bytes;
  // x^8 is POWERS[3]; the k-th bit of n contributes x^(8 * 2^k) = POWERS[k + 3].
  for (let k = 3; n > 0; k++) {
    if (n % 2 === 1) factor = multiply(POWERS[k % 32] as number, factor);
    n = Math.floor(n / 2);
  }
  return factor;
}

/**
 * The CRC of `a` followed by `b`, given crc(a), crc(b) and the factor of
 * b's length (`shiftFor(b.length)`).
 */
export function crc32Append(crcA: number, crcB: number, shiftB: number): number {
  return (multiply(shiftB, crcA >>> 0) ^ crcB) >>> 0;
}

/** The CRC of `a` followed by `b`, given their CRCs and b's length in bytes. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  return crc32Append(crcA, crcB, shiftFor(lengthB));
}

/**
 * A span of time with Mesos' (stout's) text form: `<number><unit>` where the
 * unit is one of `ns us ms secs mins hrs days weeks` (`500ms`, `1secs`,
 * `1.5mins`). Stored as whole nanoseconds in a JS number, so values beyond
 * 2^53 ns (about 104 days) keep ~15 significant digits rather than every
 * nanosecond; that is ample for timeouts and intervals.
 */

/** Nanoseconds per unit, in the order stout's printer walks them. */
const UNITS = {
  ns: 1,
  us: 1e3,
  ms: 1e6,
  secs: 1e9,
  mins: 60e9,
  hrs: 3600e9,
  days: 86_400e9,
  weeks: 604_800e9,
} as const;

export type DurationUnit = keyof typeof UNITS;

/** The int64 range stout accepts (as doubles, which is how it compares too). */
const MAX_NANOS = 2 ** 63;
const MIN_NANOS = -(2 ** 63);

/** A parsed value or a one-line reason it could not be parsed. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** Formats a double as C++ streams do with 15 significant digits (no trailing zeros). */
export function formatSignificant15(x: number): string {
  return String(Number(x.toPrecision(15)));
}

/** Immutable duration value. */
export class Duration {
  /** Whole nanoseconds (may be negative). */
  readonly ns: number;

  private constructor(ns: number) {
    // `+ 0` turns -0 into 0 so that printing never shows "-0ns".
    this.ns = Math.trunc(ns) + 0;
  }

  static nanoseconds(n: number): Duration {
    return new Duration(n);
  }
  static microseconds(n: number): Duration {
    return new Duration(n * UNITS.us);
  }
  static milliseconds(n: number): Duration {
    return new Duration(n * UNITS.ms);
  }
  static seconds(n: number): Duration {
    return new Duration(n * UNITS.secs);
  }
  static minutes(n: number): Duration {
    return new Duration(n * UNITS.mins);
  }
  static hours(n: number): Duration {
    return new Duration(n * UNITS.hrs);
  }
  static days(n: number): Duration {
    return new Duration(n * UNITS.days);
  }
  static weeks(n: number): Duration {
    return new Duration(n * UNITS.weeks);
  }
  static readonly zero = new Duration(0);

  /**
   * Parses stout's syntax: digits and dots, then a unit, nothing else (no
   * sign, no spaces). Errors use stout's wording.
   */
  static parse(text: string): Parsed<Duration> {
    let index = 0;
    while (index < text.length) {
      const c = text.charCodeAt(index);
      if ((c >= 48 && c <= 57) || c === 46) {
        index++;
        continue;
      }
      const numberText = text.slice(0, index);
      if (!/^(\d+\.?\d*|\.\d+)$/.test(numberText)) {
        return { ok: false, error: `Failed to convert '${numberText}' to number` };
      }
      const unit = text.slice(index);
      if (!Object.hasOwn(UNITS, unit)) {
        return {
          ok: false,
          error:
            `Unknown duration unit '${unit}'; supported units are` +
            " 'ns', 'us', 'ms', 'secs', 'mins', 'hrs', 'days', and 'weeks'",
        };
      }
      const nanos = Number(numberText) * UNITS[unit as DurationUnit];
      if (nanos >= MAX_NANOS || nanos < MIN_NANOS) {
        return {
          ok: false,
          error:
            "Argument out of the range that a Duration can represent due to int64_t's size limit",
        };
      }
      return { ok: true, value: new Duration(nanos) };
    }
    return { ok: false, error: `Invalid duration '${text}'` };
  }

  /** Like `parse` but throws on bad input; for literals in our own code. */
  static of(text: string): Duration {
    const r = Duration.parse(text);
    if (!r.ok) throw new Error(`bad duration literal '${text}': ${r.error}`);
    return r.value;
  }

  toMs(): number {
    return this.ns / UNITS.ms;
  }
  toSecs(): number {
    return this.ns / UNITS.secs;
  }
  toUnit(unit: DurationUnit): number {
    return this.ns / UNITS[unit];
  }

  plus(other: Duration): Duration {
    return new Duration(this.ns + other.ns);
  }
  minus(other: Duration): Duration {
    return new Duration(this.ns - other.ns);
  }
  times(factor: number): Duration {
    return new Duration(this.ns * factor);
  }
  compare(other: Duration): number {
    return this.ns < other.ns ? -1 : this.ns > other.ns ? 1 : 0;
  }
  equals(other: Duration): boolean {
    return this.ns === other.ns;
  }

  /**
   * Stout's text form: pick the bucket the value falls in, but step one unit
   * down when that gives a whole number (90secs, not 1.5mins; 1500ms, not
   * 1.5secs). `Duration.parse(d.toString())` gives back `d`.
   */
  toString(): string {
    const sign = this.ns < 0 ? "-" : "";
    const n = Math.abs(this.ns);
    const whole = (unit: number) => n % unit === 0;
    const show = (unit: DurationUnit) =>
      `${sign}${unit === "ns" ? String(n) : formatSignificant15(n / UNITS[unit])}${unit}`;
    const pick = (lower: DurationUnit, upper: DurationUnit) =>
      !whole(UNITS[upper]) && whole(UNITS[lower]) ? show(lower) : show(upper);

    if (n < UNITS.us) return show("ns");
    if (n < UNITS.ms) return whole(UNITS.us) ? show("us") : show("ns");
    if (n < UNITS.secs) return pick("us", "ms");
    if (n < UNITS.mins) return pick("ms", "secs");
    if (n < UNITS.hrs) return pick("secs", "mins");
    if (n < UNITS.days) return pick("mins", "hrs");
    if (n < UNITS.weeks) return pick("hrs", "days");
    return pick("days", "weeks");
  }

  toJSON(): string {
    return this.toString();
  }
}

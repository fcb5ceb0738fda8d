import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Bytes } from "../../src/common/flags/bytes.js";
import { Duration } from "../../src/common/flags/duration.js";

function duration(text: string): Duration {
  const r = Duration.parse(text);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

function bytes(text: string): Bytes {
  const r = Bytes.parse(text);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

test("durations: every unit parses to nanoseconds", () => {
  assert.equal(duration("7ns").ns, 7);
  assert.equal(duration("7us").ns, 7e3);
  assert.equal(duration("500ms").ns, 500e6);
  assert.equal(duration("1secs").ns, 1e9);
  assert.equal(duration("10mins").ns, 600e9);
  assert.equal(duration("2hrs").ns, 7200e9);
  assert.equal(duration("3days").ns, 3 * 86_400e9);
  assert.equal(duration("2weeks").ns, 14 * 86_400e9);
});

test("durations: fractions are allowed and truncated to whole nanoseconds", () => {
  assert.equal(duration("1.5secs").ns, 1.5e9);
  assert.equal(duration(".5ms").ns, 500_000);
  assert.equal(duration("1.5ns").ns, 1);
  assert.equal(duration("0.1secs").toMs(), 100);
});

test("durations: malformed text is refused with stout's messages", () => {
  const error = (text: string) => {
    const r = Duration.parse(text);
    return r.ok ? "accepted" : r.error;
  };
  assert.equal(error(""), "Invalid duration ''");
  assert.equal(error("10"), "Invalid duration '10'");
  assert.equal(error("secs"), "Failed to convert '' to number");
  assert.equal(error("-1secs"), "Failed to convert '' to number");
  assert.equal(error(" 1secs"), "Failed to convert '' to number");
  assert.equal(error("1.2.3secs"), "Failed to convert '1.2.3' to number");
  assert.match(error("1sec"), /^Unknown duration unit 'sec'; supported units are 'ns'/);
  assert.match(error("1 secs"), /^Unknown duration unit ' secs'/);
  assert.match(error("1000000weeks"), /out of the range/);
});

test("durations: printing picks the unit stout picks", () => {
  const cases: [string, string][] = [
    ["0ns", "0ns"],
    ["999ns", "999ns"],
    ["1000ns", "1us"],
    ["1001ns", "1001ns"],
    ["1ms", "1ms"],
    ["1500us", "1500us"],
    ["1.5secs", "1500ms"],
    ["1secs", "1secs"],
    ["60secs", "1mins"],
    ["90secs", "90secs"],
    ["1.5mins", "90secs"],
    ["15mins", "15mins"],
    ["60mins", "1hrs"],
    ["6hrs", "6hrs"],
    ["36hrs", "36hrs"],
    ["24hrs", "1days"],
    ["7days", "1weeks"],
    ["10days", "10days"],
    ["2weeks", "2weeks"],
    ["1.1ns", "1ns"],
  ];
  for (const [input, printed] of cases) {
    assert.equal(duration(input).toString(), printed, input);
  }
  assert.equal(Duration.nanoseconds(1_000_001).toString(), "1.000001ms");
  // Not a whole number of days: printed in weeks with 15 significant digits, as stout does.
  assert.equal(duration("1587hrs").toString(), "9.44642857142857weeks");
  assert.equal(Duration.seconds(-90).toString(), "-90secs");
  assert.equal(Duration.minutes(10).toString(), "10mins");
});

test("durations: helpers convert between units", () => {
  const d = Duration.minutes(2);
  assert.equal(d.toMs(), 120_000);
  assert.equal(d.toSecs(), 120);
  assert.equal(d.toUnit("mins"), 2);
  assert.equal(d.plus(Duration.seconds(30)).toString(), "150secs");
  assert.equal(d.minus(Duration.minutes(1)).toString(), "1mins");
  assert.equal(d.times(1.5).toString(), "3mins");
  assert.equal(d.compare(Duration.seconds(121)), -1);
  assert.equal(JSON.stringify({ d }), '{"d":"2mins"}');
  assert.equal(Duration.of("1hrs").ns, 3600e9);
  assert.throws(() => Duration.of("1hour"));
});

/** Printing keeps 15 significant digits (as stout), so a round trip may move the last one. */
function assertClose(back: Duration, ns: number, label: string): void {
  assert.ok(Math.abs(back.ns - ns) <= Math.max(1, ns * 1e-14), `${label}: ${ns} -> ${back.ns}`);
}

test("durations: printing and parsing round-trip (property)", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (ns) => {
      const d = Duration.nanoseconds(ns);
      assertClose(duration(d.toString()), ns, d.toString());
    }),
  );
  // Values printed as whole numbers come back exactly.
  fc.assert(
    fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (ns) => {
      const d = Duration.nanoseconds(ns);
      if (!d.toString().includes(".")) assert.equal(duration(d.toString()).ns, ns);
    }),
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 10_000 }),
      fc.constantFrom("ns", "us", "ms", "secs", "mins", "hrs", "days", "weeks"),
      (n, unit) => {
        const d = duration(`${n}${unit}`);
        assertClose(duration(d.toString()), d.ns, `${n}${unit}`);
      },
    ),
  );
});

test("bytes: units are powers of 1024, any case", () => {
  assert.equal(bytes("10B").bytes, 10);
  assert.equal(bytes("4KB").bytes, 4096);
  assert.equal(bytes("512MB").bytes, 512 * 1024 ** 2);
  assert.equal(bytes("2gb").bytes, 2 * 1024 ** 3);
  assert.equal(bytes("1Tb").bytes, 1024 ** 4);
  assert.equal(bytes("512MB").toMB(), 512);
});

test("bytes: malformed text is refused with stout's messages", () => {
  const error = (text: string) => {
    const r = Bytes.parse(text);
    return r.ok ? "accepted" : r.error;
  };
  assert.equal(error(""), "Invalid bytes ''");
  assert.equal(error("10"), "Invalid bytes '10'");
  assert.equal(error("1.5GB"), "Fractional bytes '1.5GB'");
  assert.equal(error("10XB"), "Unknown bytes unit 'XB'");
  assert.equal(error("MB"), "Failed to convert '' to number");
  assert.equal(error("-1MB"), "Failed to convert '' to number");
  assert.equal(error("99999999999TB"), "Failed to convert '99999999999TB' to number");
});

test("bytes: printing uses the largest unit that loses nothing", () => {
  assert.equal(bytes("0MB").toString(), "0B");
  assert.equal(bytes("1000B").toString(), "1000B");
  assert.equal(bytes("1024B").toString(), "1KB");
  assert.equal(bytes("1536KB").toString(), "1536KB");
  assert.equal(bytes("2048MB").toString(), "2GB");
  assert.equal(bytes("1024GB").toString(), "1TB");
  assert.equal(Bytes.of(3, "MB").toString(), "3MB");
  assert.equal(JSON.stringify([Bytes.of(4, "KB")]), '["4KB"]');
});

test("bytes: printing and parsing round-trip (property)", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => {
      const b = Bytes.of(n);
      assert.equal(bytes(b.toString()).bytes, n);
    }),
  );
});

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { encodeRecord, RecordIoDecoder, RecordIoError } from "../../src/common/recordio/index.js";

const records = fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 });

/** Splits `bytes` at the given cut points (taken modulo the length). */
function chunk(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [
    ...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % (bytes.length + 1)))),
  ].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

function decodeAll(chunks: Buffer[], maxRecordSize?: number): Buffer[] {
  const d = new RecordIoDecoder(maxRecordSize === undefined ? {} : { maxRecordSize });
  const out: Buffer[] = [];
  for (const c of chunks) out.push(...d.decode(c));
  d.end();
  return out;
}

test("recordio property: any records, chunked anywhere, decode to the same records", () => {
  fc.assert(
    fc.property(records, fc.array(fc.nat(), { maxLength: 30 }), (recs, cuts) => {
      const stream = Buffer.concat(recs.map((r) => encodeRecord(r)));
      const out = decodeAll(chunk(stream, cuts));
      assert.deepEqual(
        out.map((b) => [...b]),
        recs.map((r) => [...r]),
      );
    }),
    { numRuns: 500 },
  );
});

test("recordio property: a stream cut short inside a record is reported as truncated", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { minLength: 1, maxLength: 10 }),
      fc.nat(),
      fc.array(fc.nat(), { maxLength: 10 }),
      (recs, cutSeed, cuts) => {
        const stream = Buffer.concat(recs.map((r) => encodeRecord(r)));
        // Record boundaries are the only clean places to stop.
        const boundaries = new Set<number>([0]);
        let at = 0;
        for (const r of recs) {
          at += encodeRecord(r).length;
          boundaries.add(at);
        }
        const cut = cutSeed % stream.length;
        const truncated = stream.subarray(0, cut);
        if (boundaries.has(cut)) {
          decodeAll(chunk(truncated, cuts));
        } else {
          assert.throws(() => decodeAll(chunk(truncated, cuts)), RecordIoError);
        }
      },
    ),
    { numRuns: 500 },
  );
});

test("recordio property: records over the limit are refused without buffering them", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1000 }),
      fc.integer({ min: 1, max: 5000 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (limit, size, cuts) => {
        const stream = encodeRecord(Buffer.alloc(size, 1));
        if (size <= limit) {
          assert.equal(decodeAll(chunk(stream, cuts), limit)[0]?.length, size);
          return;
        }
        const d = new RecordIoDecoder({ maxRecordSize: limit });
        let consumedBody = false;
        assert.throws(() => {
          for (const c of chunk(stream, cuts)) {
            const newline = stream.indexOf(0x0a);
            consumedBody ||= c.byteOffset - stream.byteOffset > newline;
            d.decode(c);
          }
        }, /exceeds the limit/);
        assert.equal(consumedBody, false, "the error came only after body bytes were fed");
      },
    ),
    { numRuns: 300 },
  );
});

test("recordio property: garbage never crashes the decoder, only RecordIoError or records", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (bytes, cuts) => {
        const d = new RecordIoDecoder({ maxRecordSize: 1 << 16 });
        try {
          for (const c of chunk(Buffer.from(bytes), cuts)) d.decode(c);
          d.end();
        } catch (e) {
          assert.ok(e instanceof RecordIoError, String(e));
        }
      },
    ),
    { numRuns: 1000 },
  );
});

test("recordio property: a garbage prefix before valid records is an error, not a misread", () => {
  fc.assert(
    fc.property(
      fc
        .string({ minLength: 1, maxLength: 10 })
        .filter((s) => /[^0-9]/.test(s.split("\n")[0] ?? "")),
      records,
      (prefix, recs) => {
        const stream = Buffer.concat([Buffer.from(prefix), ...recs.map((r) => encodeRecord(r))]);
        assert.throws(() => decodeAll([stream]), RecordIoError);
      },
    ),
    { numRuns: 300 },
  );
});

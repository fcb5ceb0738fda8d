import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { test } from "node:test";
import { codecFor } from "../../src/common/protocol/index.js";
import {
  encodeMessageRecord,
  encodeRecord,
  RecordIoDecoder,
  RecordIoEncoder,
  RecordIoError,
  readMessages,
  readRecords,
} from "../../src/common/recordio/index.js";

test("recordio: a record is its decimal byte length, a newline, then the bytes", () => {
  assert.equal(encodeRecord("hello").toString(), "5\nhello");
  assert.equal(encodeRecord("héllo").toString(), "6\nhéllo");
  assert.equal(encodeRecord(new Uint8Array(0)).toString(), "0\n");
});

test("recordio: the decoder splits concatenated records, including empty ones", () => {
  const d = new RecordIoDecoder();
  const out = d.decode("5\nhello6\nworld!0\n3\nabc");
  assert.deepEqual(
    out.map((b) => b.toString()),
    ["hello", "world!", "", "abc"],
  );
  d.end();
});

test("recordio: a record split across chunks at every position is reassembled", () => {
  const stream = Buffer.concat([encodeRecord("first record"), encodeRecord("second")]);
  for (let cut = 0; cut <= stream.length; cut++) {
    const d = new RecordIoDecoder();
    const out = [...d.decode(stream.subarray(0, cut)), ...d.decode(stream.subarray(cut))];
    assert.deepEqual(
      out.map((b) => b.toString()),
      ["first record", "second"],
      `cut at ${cut}`,
    );
    d.end();
  }
});

test("recordio: a record over the size limit is refused from its length prefix alone", () => {
  const d = new RecordIoDecoder({ maxRecordSize: 100 });
  assert.throws(() => d.decode("101"), {
    name: "RecordIoError",
    message: "RecordIO: record exceeds the limit of 100 bytes",
  });
  const ok = new RecordIoDecoder({ maxRecordSize: 100 });
  assert.equal(ok.decode(`100\n${"x".repeat(100)}`)[0]?.length, 100);
});

test("recordio: a non-digit length, an empty length or an over-long prefix is an error", () => {
  assert.throws(() => new RecordIoDecoder().decode("12a\n"), /byte 0x61 is not a digit/);
  assert.throws(() => new RecordIoDecoder().decode("\n"), /empty record length/);
  assert.throws(() => new RecordIoDecoder().decode(" 5\nhello"), /byte 0x20 is not a digit/);
  assert.throws(
    () => new RecordIoDecoder({ maxRecordSize: Number.MAX_SAFE_INTEGER }).decode("0".repeat(21)),
    /longer than 20 digits/,
  );
});

test("recordio: after an error the decoder stays failed", () => {
  const d = new RecordIoDecoder();
  assert.throws(() => d.decode("x"), RecordIoError);
  assert.throws(() => d.decode("5\nhello"), /not a digit/);
  assert.throws(() => d.end(), RecordIoError);
});

test("recordio: a stream that ends inside a record or a length is truncated", () => {
  const inBody = new RecordIoDecoder();
  inBody.decode("10\nabc");
  assert.throws(() => inBody.end(), /stream ended inside a record \(3 of 10 bytes\)/);
  const inLength = new RecordIoDecoder();
  inLength.decode("1");
  assert.throws(() => inLength.end(), /stream ended inside a record length/);
  const clean = new RecordIoDecoder();
  clean.decode("1\na");
  assert.equal(clean.idle, true);
  clean.end();
});

test("recordio: partial chunks are copied, so reusing the caller's buffer is safe", () => {
  const d = new RecordIoDecoder();
  const chunk = Buffer.from("6\nabc");
  d.decode(chunk);
  chunk.fill(0x7a);
  assert.equal(d.decode("def")[0]?.toString(), "abcdef");
});

test("recordio: the encoder stream and readRecords round-trip records over a Readable", async () => {
  const encoder = new RecordIoEncoder();
  const records = ["one", "", "three", "é".repeat(1000)];
  const collected: Buffer[] = [];
  encoder.on("data", (b: Buffer) => collected.push(b));
  for (const r of records) encoder.write(r);
  encoder.end();
  await new Promise((resolve) => encoder.on("end", resolve));
  const bytes = Buffer.concat(collected);
  // Re-chunk into 7-byte pieces, as a proxy might.
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 7) pieces.push(bytes.subarray(i, i + 7));
  const out: string[] = [];
  for await (const rec of readRecords(Readable.from(pieces))) out.push(rec.toString());
  assert.deepEqual(out, records);
});

test("recordio: readRecords yields the complete records then throws on a truncated stream", async () => {
  const out: string[] = [];
  await assert.rejects(async () => {
    for await (const rec of readRecords(Readable.from([Buffer.from("2\nok5\nabc")]))) {
      out.push(rec.toString());
    }
  }, /stream ended inside a record \(3 of 5 bytes\)/);
  assert.deepEqual(out, ["ok"]);
});

test("recordio: readMessages decodes a stream of JSON and of protobuf events", async () => {
  const codec = codecFor("mesos.v1.scheduler.Event");
  const events = [
    {
      type: "SUBSCRIBED" as const,
      subscribed: { framework_id: { value: "f-0000" }, heartbeat_interval_seconds: 15 },
    },
    { type: "HEARTBEAT" as const },
  ];
  for (const format of ["json", "protobuf"] as const) {
    const stream = Buffer.concat(events.map((e) => encodeMessageRecord(codec, format, e)));
    const out = [];
    for await (const e of readMessages(Readable.from([stream]), codec, format)) out.push(e);
    assert.deepEqual(out, events);
  }
});

test("recordio: readMessages throws the decode error of a bad record", async () => {
  const codec = codecFor("mesos.v1.scheduler.Event");
  const stream = Buffer.concat([encodeRecord('{"type":"HEARTBEAT"}'), encodeRecord('{"type":7}')]);
  await assert.rejects(async () => {
    for await (const _ of readMessages(Readable.from([stream]), codec, "json")) {
      // drain
    }
  }, /^DecodeError: type: expected an enum name, got a number/);
});

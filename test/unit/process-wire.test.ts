import assert from "node:assert/strict";
import { test } from "node:test";
import { backoffDelay, DEFAULT_BACKOFF } from "../../src/common/process/backoff.js";
import { encodeMessage } from "../../src/common/process/message-encoder.js";
import { ResponseReader } from "../../src/common/process/response-reader.js";
import { Upid } from "../../src/common/process/upid.js";

const to = new Upid("master", "10.0.0.1", 5050);

test("message encoder: a message with a body is framed as libprocess frames it", () => {
  const bytes = encodeMessage(
    "slave(1)@10.0.0.2:5051",
    to,
    "mesos.internal.PongSlaveMessage",
    Buffer.from("hello world, 0123"),
  );
  assert.equal(
    bytes.toString("latin1"),
    "POST /master/mesos.internal.PongSlaveMessage HTTP/1.1\r\n" +
      "User-Agent: libprocess/slave(1)@10.0.0.2:5051\r\n" +
      "Libprocess-From: slave(1)@10.0.0.2:5051\r\n" +
      "Connection: Keep-Alive\r\n" +
      "Host: 10.0.0.1:5050\r\n" +
      "Transfer-Encoding: chunked\r\n" +
      "\r\n" +
      "11\r\n" +
      "hello world, 0123\r\n" +
      "0\r\n" +
      "\r\n",
  );
});

test("message encoder: an empty body has no transfer encoding and ends after the headers", () => {
  const bytes = encodeMessage("a@1.1.1.1:1", to, "ping", new Uint8Array(0));
  assert.ok(bytes.toString("latin1").endsWith("Host: 10.0.0.1:5050\r\n\r\n"));
  assert.ok(!bytes.toString("latin1").includes("Transfer-Encoding"));
});

test("message encoder: binary bodies are carried byte for byte", () => {
  const body = Uint8Array.from({ length: 300 }, (_, i) => i % 256);
  const bytes = encodeMessage("a@1.1.1.1:1", to, "x", body);
  const text = bytes.toString("latin1");
  const start = text.indexOf("\r\n\r\n") + 4;
  assert.equal(text.slice(start, start + 5), "12c\r\n");
  assert.deepEqual(new Uint8Array(bytes.subarray(start + 5, start + 5 + 300)), body);
});

function collect(): { statuses: number[]; errors: string[]; reader: ResponseReader } {
  const statuses: number[] = [];
  const errors: string[] = [];
  return {
    statuses,
    errors,
    reader: new ResponseReader(
      (s) => statuses.push(s),
      (e) => errors.push(e),
    ),
  };
}

const ACCEPTED = "HTTP/1.1 202 Accepted\r\nDate: x\r\nContent-Length: 0\r\n\r\n";

test("response reader: pipelined 202s split at every byte boundary are all counted", () => {
  const stream = Buffer.from(
    ACCEPTED +
      "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found" +
      "HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n" +
      ACCEPTED,
    "latin1",
  );
  for (let split = 0; split <= stream.length; split++) {
    const c = collect();
    c.reader.feed(stream.subarray(0, split));
    c.reader.feed(stream.subarray(split));
    assert.deepEqual(c.statuses, [202, 404, 500, 202], `split at ${split}`);
    assert.deepEqual(c.errors, []);
  }
});

test("response reader: byte-at-a-time feeding works", () => {
  const c = collect();
  const stream = Buffer.from(ACCEPTED.repeat(3), "latin1");
  for (const b of stream) c.reader.feed(Buffer.from([b]));
  assert.deepEqual(c.statuses, [202, 202, 202]);
});

test("response reader: interim 100 responses are not counted", () => {
  const c = collect();
  c.reader.feed(Buffer.from(`HTTP/1.1 100 Continue\r\n\r\n${ACCEPTED}`, "latin1"));
  assert.deepEqual(c.statuses, [202]);
});

test("response reader: garbage is reported once", () => {
  const c = collect();
  c.reader.feed(Buffer.from("SSH-2.0-OpenSSH\r\n\r\n", "latin1"));
  c.reader.feed(Buffer.from(ACCEPTED, "latin1"));
  assert.equal(c.errors.length, 1);
  assert.match(c.errors[0] ?? "", /bad status line/);
  assert.deepEqual(c.statuses, []);
});

test("backoff: doubles from the initial delay up to the cap", () => {
  const o = { initialMs: 50, maxMs: 1000, giveUpAfterFailures: 5 };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 60].map((n) => backoffDelay(n, o)),
    [50, 100, 200, 400, 800, 1000, 1000, 1000],
  );
  assert.ok(DEFAULT_BACKOFF.initialMs > 0 && DEFAULT_BACKOFF.maxMs >= DEFAULT_BACKOFF.initialMs);
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SubscribeResponseParser } from "../../src/executor/subscribe-response.js";

/** Feeds `parts` (and a close when `close`), returning what the parser reported. */
function parse(parts: string[], close = false): string[] {
  const seen: string[] = [];
  const parser = new SubscribeResponseParser(
    {
      onOpen: () => seen.push("open"),
      onData: (d) => seen.push(`data:${d.toString("latin1")}`),
      onEnd: () => seen.push("end"),
      onRejected: (status, body) => seen.push(`rejected:${status}:${body}`),
      onError: (message) => seen.push(`error:${message}`),
    },
    8,
  );
  for (const p of parts) parser.feed(Buffer.from(p, "latin1"));
  if (close) parser.end();
  return seen;
}

const CHUNKED =
  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";

describe("SUBSCRIBE response parser", () => {
  it("passes a chunked 200 body on as it arrives, whatever the read boundaries", () => {
    const whole = `${CHUNKED}5\r\nhello\r\n3;x=1\r\nabc\r\n0\r\n\r\n`;
    const expected = ["open", "data:hello", "data:abc", "end"];
    assert.deepEqual(parse([whole]), expected);
    // Byte by byte: data arrives in pieces, the events are the same.
    const pieces = parse(whole.split(""));
    assert.deepEqual(
      [
        pieces[0],
        pieces
          .filter((p) => p.startsWith("data:"))
          .map((p) => p.slice(5))
          .join(""),
        pieces.at(-1),
      ],
      ["open", "helloabc", "end"],
    );
  });

  it("reads Content-Length and close-delimited 200 bodies", () => {
    assert.deepEqual(parse(["HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcEXTRA"]), [
      "open",
      "data:abc",
      "end",
    ]);
    assert.deepEqual(parse(["HTTP/1.0 200 OK\r\n\r\nab", "c"], true), [
      "open",
      "data:ab",
      "data:c",
      "end",
    ]);
  });

  it("reports a non-200 answer once complete, with its body cut to the limit", () => {
    assert.deepEqual(
      parse(["HTTP/1.1 503 Service Unavailable\r\nContent-Length: 20\r\n\r\nAgent is recovering!"]),
      ["rejected:503:Agent is"],
    );
    assert.deepEqual(
      parse([`HTTP/1.1 400 Bad Request\r\ntransfer-encoding: chunked\r\n\r\n2\r\nno\r\n0\r\n\r\n`]),
      ["rejected:400:no"],
    );
  });

  it("fails on what is not HTTP, bad framing, or a response cut short", () => {
    assert.deepEqual(parse(["garbage\r\n\r\n"]), ["error:bad status line 'garbage'"]);
    assert.deepEqual(parse([`${CHUNKED}zz\r\n`]), ["open", "error:bad chunk size 'zz'"]);
    assert.deepEqual(parse([`${CHUNKED}2\r\nabc\r\n`]), [
      "open",
      "data:ab",
      "error:chunk data longer than its size",
    ]);
    assert.deepEqual(parse([`${CHUNKED}5\r\nhel`], true), [
      "open",
      "data:hel",
      "error:the connection closed before the response ended",
    ]);
  });
});

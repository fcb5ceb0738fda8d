import assert from "node:assert/strict";
import { test } from "node:test";
import { HttpRequest } from "../../src/common/http/request.js";
import type {
  BodyResponse,
  ResponseStream,
  StreamCloseReason,
} from "../../src/common/http/response.js";
import {
  acceptsMediaType,
  decodeCall,
  eventStreamResponse,
  jsonResponse,
  responseContentType,
} from "../../src/common/http/v1-api.js";
import { codecFor } from "../../src/common/protocol/index.js";
import { RecordIoDecoder } from "../../src/common/recordio/index.js";

const callCodec = codecFor("mesos.v1.scheduler.Call");
const eventCodec = codecFor("mesos.v1.scheduler.Event");

function req(
  method: string,
  headers: Record<string, string>,
  body: string | Uint8Array = "",
  rawQuery = "",
): HttpRequest {
  return new HttpRequest({
    method,
    path: "/api/v1/scheduler",
    rawQuery,
    headers,
    body: typeof body === "string" ? Buffer.from(body) : body,
    remoteAddress: "127.0.0.1",
    remotePort: 1,
  });
}

function failure(r: ReturnType<typeof decodeCall>): BodyResponse {
  assert.equal(r.ok, false);
  if (r.ok) throw new Error("unreachable");
  return r.response;
}

test("v1 api: a JSON call decodes with its content type", () => {
  const r = decodeCall(
    req("POST", { "content-type": "application/json; charset=utf-8" }, '{"type":"REVIVE"}'),
    callCodec,
  );
  assert.ok(r.ok);
  assert.equal(r.value.call.type, "REVIVE");
  assert.equal(r.value.contentType, "json");
});

test("v1 api: a protobuf call decodes", () => {
  const bytes = callCodec.encodeProtobuf({ type: "DECLINE" });
  const r = decodeCall(req("POST", { "content-type": "application/x-protobuf" }, bytes), callCodec);
  assert.ok(r.ok);
  assert.equal(r.value.call.type, "DECLINE");
  assert.equal(r.value.contentType, "protobuf");
});

test("v1 api: wrong method, missing or unsupported content type, bad bodies", () => {
  assert.equal(failure(decodeCall(req("GET", {}), callCodec)).status, 405);
  const missing = failure(decodeCall(req("POST", {}, "{}"), callCodec));
  assert.equal(missing.status, 400);
  assert.match(String(missing.body), /Content-Type/);
  assert.equal(
    failure(decodeCall(req("POST", { "content-type": "text/plain" }, "x"), callCodec)).status,
    415,
  );
  const malformed = failure(
    decodeCall(req("POST", { "content-type": "application/json" }, "{"), callCodec),
  );
  assert.equal(malformed.status, 400);
  assert.match(String(malformed.body), /^Failed to parse body into JSON/);
  const badEnum = failure(
    decodeCall(req("POST", { "content-type": "application/json" }, '{"type":7}'), callCodec),
  );
  assert.equal(badEnum.status, 400);
  assert.equal(
    String(badEnum.body),
    "Failed to convert JSON into Call protobuf: Not expecting a JSON number for field 'type'",
  );
  // An enum name this build does not know is dropped from an optional field
  // (as stout and proto2 do), so validation then finds no type.
  const newerEnum = decodeCall(
    req("POST", { "content-type": "application/json" }, '{"type":"FROM_A_NEWER_MESOS"}'),
    callCodec,
  );
  assert.ok(newerEnum.ok);
  assert.equal(newerEnum.value.call.type, undefined);
  const garbage = failure(
    decodeCall(
      req("POST", { "content-type": "application/x-protobuf" }, Uint8Array.of(0xff, 0xff, 0xff)),
      callCodec,
    ),
  );
  assert.equal(garbage.status, 400);
  // Mesos' wording for both: no detail for protobuf, the missing field named for JSON.
  assert.equal(String(garbage.body), "Failed to parse body into Call protobuf");
  const unset = failure(
    decodeCall(
      req("POST", { "content-type": "application/json" }, '{"type":"KILL","kill":{}}'),
      callCodec,
    ),
  );
  assert.equal(
    String(unset.body),
    "Failed to convert JSON into Call protobuf: Missing required fields: kill.task_id",
  );
});

test("v1 api: Accept negotiation follows libprocess (exact, type/*, */*, q=0)", () => {
  assert.equal(acceptsMediaType(undefined, "application/json"), true);
  assert.equal(acceptsMediaType("*/*", "application/json"), true);
  assert.equal(acceptsMediaType("application/*", "application/x-protobuf"), true);
  assert.equal(acceptsMediaType("text/html", "application/json"), false);
  assert.equal(acceptsMediaType("application/json;q=0, */*", "application/json"), false);
  assert.equal(acceptsMediaType("application/json; q=0.5", "application/json"), true);
  const pick = (accept: string | undefined) => {
    const r = responseContentType(req("POST", accept === undefined ? {} : { accept }));
    return r.ok ? r.value : r.response.status;
  };
  assert.equal(pick(undefined), "json");
  assert.equal(pick("*/*"), "json");
  assert.equal(pick("application/x-protobuf"), "protobuf");
  assert.equal(pick("text/html"), 406);
});

test("v1 api: ?jsonp= wraps JSON as a JavaScript call", () => {
  const plain = jsonResponse(req("GET", {}), '{"a":1}');
  assert.equal(plain.headers["Content-Type"], "application/json");
  const wrapped = jsonResponse(req("GET", {}, "", "jsonp=cb"), '{"a":1}');
  assert.equal(wrapped.body, 'cb({"a":1})');
  assert.equal(wrapped.headers["Content-Type"], "text/javascript");
});

test("v1 api: an event stream writes one RecordIO record per chunk", () => {
  const chunks: Uint8Array[] = [];
  let closers: ((r: StreamCloseReason) => void)[] = [];
  let closed = false;
  const fake: ResponseStream = {
    write: (c) => {
      chunks.push(typeof c === "string" ? Buffer.from(c) : c);
      return true;
    },
    end: () => {
      closed = true;
      for (const c of closers) c("ended");
      closers = [];
    },
    onClose: (cb) => {
      closers.push(cb);
    },
    onDrain: () => {},
    get closed() {
      return closed;
    },
    remote: "x",
  };
  const r = eventStreamResponse(eventCodec, "json", { "Mesos-Stream-Id": "s" }, (events) => {
    events.send({ type: "HEARTBEAT" });
    events.send({ type: "HEARTBEAT" });
    events.close();
    assert.equal(events.send({ type: "HEARTBEAT" }), false);
  });
  assert.equal(r.headers["Content-Type"], "application/json");
  assert.equal(r.headers["Transfer-Encoding"], "chunked");
  r.start(fake);
  assert.equal(chunks.length, 2);
  const decoder = new RecordIoDecoder();
  const records = decoder.decode(Buffer.concat(chunks));
  assert.deepEqual(
    records.map((x) => JSON.parse(Buffer.from(x).toString())),
    [{ type: "HEARTBEAT" }, { type: "HEARTBEAT" }],
  );
});

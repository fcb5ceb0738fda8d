/**
 * A header field sent more than once keeps its last value, as in libprocess
 * (its request decoder assigns each field into a map). mesos-go asks for a
 * stream with `Accept: application/x-protobuf` then `Accept:
 * application/recordio`, which Mesos reads as application/recordio; node
 * alone would join them ("application/x-protobuf, application/recordio") and
 * the agent would answer 406 to LAUNCH_NESTED_CONTAINER_SESSION.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, test } from "node:test";
import type { HttpRequest } from "../../src/common/http/request.js";
import { response } from "../../src/common/http/response.js";
import { HttpServer } from "../../src/common/http/server.js";
import { acceptsMediaType } from "../../src/common/http/v1-api.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import { systemClock } from "../../src/common/time/clock.js";

const servers: HttpServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

/** Sends `head` (request line and header lines) on a raw socket; the request the server saw. */
async function seen(head: string[]): Promise<HttpRequest> {
  let got: HttpRequest | undefined;
  const server = new HttpServer(
    (r) => {
      got = r;
      return response(200);
    },
    { logger: silentLogger, clock: systemClock },
  );
  servers.push(server);
  const port = await server.listen("127.0.0.1", 0);
  await new Promise<void>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.write(`${head.join("\r\n")}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    });
    socket.on("error", reject);
    socket.on("data", () => {});
    socket.on("close", () => resolve());
  });
  assert.ok(got, "the server saw no request");
  return got;
}

test("http server: a repeated header keeps its last value, as libprocess", async () => {
  const request = await seen([
    "POST /api/v1 HTTP/1.1",
    "Host: 127.0.0.1",
    "Content-Type: application/x-protobuf",
    "Accept: application/x-protobuf",
    "Accept: application/recordio",
    "Message-Accept: application/x-protobuf",
    "X-Twice: first",
    "x-twice: second",
  ]);
  assert.equal(request.header("accept"), "application/recordio");
  assert.equal(request.header("Accept"), "application/recordio");
  assert.equal(request.header("x-twice"), "second");
  assert.equal(request.header("message-accept"), "application/x-protobuf");
  // So the v1 APIs choose a streaming answer, as Mesos does for mesos-go.
  assert.equal(acceptsMediaType(request.header("accept"), "application/x-protobuf"), false);
  assert.equal(acceptsMediaType(request.header("accept"), "application/recordio"), true);
});

test("http server: headers sent once are unchanged", async () => {
  const request = await seen([
    "POST /api/v1 HTTP/1.1",
    "Host: 127.0.0.1",
    "Content-Type: application/json",
    "Accept: application/json, application/x-protobuf",
  ]);
  assert.equal(request.header("content-type"), "application/json");
  assert.equal(request.header("accept"), "application/json, application/x-protobuf");
  assert.equal(request.header("host"), "127.0.0.1");
});

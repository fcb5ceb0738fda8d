import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, test } from "node:test";
import type { HttpRequest } from "../../src/common/http/request.js";
import { type HttpResponse, response, streaming } from "../../src/common/http/response.js";
import { HttpServer } from "../../src/common/http/server.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import { systemClock } from "../../src/common/time/clock.js";

const servers: HttpServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function serve(dispatch: (r: HttpRequest) => HttpResponse): Promise<number> {
  const server = new HttpServer(dispatch, { logger: silentLogger, clock: systemClock });
  servers.push(server);
  return server.listen("127.0.0.1", 0);
}

/** Reads from `socket` until `done(text so far)` holds. */
function readUntil(socket: Socket, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => reject(new Error(`timed out; got ${text}`)), 10_000);
    const onData = (chunk: Buffer): void => {
      text += chunk.toString("latin1");
      if (done(text)) {
        clearTimeout(timer);
        socket.off("data", onData);
        resolve(text);
      }
    };
    socket.on("data", onData);
  });
}

/** The chunks of a chunked body (after the head), in order. */
function chunksOf(text: string): string[] {
  let rest = text.slice(text.indexOf("\r\n\r\n") + 4);
  const out: string[] = [];
  for (;;) {
    const eol = rest.indexOf("\r\n");
    if (eol < 0) break;
    const size = Number.parseInt(rest.slice(0, eol), 16);
    if (!(size > 0)) break;
    out.push(rest.slice(eol + 2, eol + 2 + size));
    rest = rest.slice(eol + 2 + size + 2);
  }
  return out;
}

test("http server: events a stream sends from many callbacks in one turn arrive whole and in order", async () => {
  const port = await serve(() =>
    streaming(200, { "Content-Type": "text/plain" }, (stream) => {
      let n = 0;
      const sendSome = (): void => {
        // Several callbacks of one turn, then the next turn.
        for (let i = 0; i < 10; i++) {
          const k = n++;
          process.nextTick(() => stream.write(`event-${k};`));
        }
        if (n < 100) setImmediate(sendSome);
      };
      sendSome();
    }),
  );
  const socket = connect(port, "127.0.0.1");
  socket.write("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  const text = await readUntil(socket, (t) => t.includes("event-99;"));
  socket.destroy();
  const expected = Array.from({ length: 100 }, (_, k) => `event-${k};`).join("");
  assert.equal(chunksOf(text).join(""), expected);
});

test("http server: after a stream ends, its connection answers the next requests at once", async () => {
  const port = await serve((request) =>
    request.path === "/events"
      ? streaming(200, {}, (stream) => {
          stream.write("only;");
          setImmediate(() => stream.end());
        })
      : response(202),
  );
  const socket = connect(port, "127.0.0.1");
  socket.write("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  const first = await readUntil(socket, (t) => t.endsWith("0\r\n\r\n"));
  assert.deepEqual(chunksOf(first), ["only;"]);
  // Three pipelined calls on the same connection: three answers.
  socket.write("POST /call HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".repeat(3));
  const answers = await readUntil(socket, (t) => t.split("HTTP/1.1 202").length - 1 === 3);
  socket.destroy();
  assert.equal(answers.split("HTTP/1.1 202").length - 1, 3);
});

test("http server: a query with a malformed % escape is refused with 400 and the reason, before any handler", async () => {
  let handled = 0;
  const port = await serve(() => {
    handled++;
    return response(200, "ok");
  });
  const bad = await fetch(`http://127.0.0.1:${port}/master/tasks?limit=%zz`);
  assert.equal(bad.status, 400);
  assert.equal(
    await bad.text(),
    "Failed to decode HTTP query string: Malformed % escape in '%zz': '%zz'",
  );
  const truncated = await fetch(`http://127.0.0.1:${port}/x?a=1%2`);
  assert.equal(truncated.status, 400);
  await truncated.arrayBuffer();
  assert.equal(handled, 0);
  const good = await fetch(`http://127.0.0.1:${port}/master/tasks?limit=%31;jsonp=cb`);
  assert.equal(good.status, 200);
  await good.arrayBuffer();
  assert.equal(handled, 1);
});

import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, test } from "node:test";
import { response } from "../../src/common/http/response.js";
import { HttpServer } from "../../src/common/http/server.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import { systemClock } from "../../src/common/time/clock.js";

const servers: HttpServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

/** Busy-waits `ms` (a costly handler). */
function burn(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

test("http server: 200 pipelined costly calls are answered in order, other work running in between", async () => {
  const handled: string[] = [];
  let turns = 0;
  let counting = true;
  const countTurns = (): void => {
    if (!counting) return;
    turns++;
    setImmediate(countTurns);
  };
  const server = new HttpServer(
    (request) => {
      if (handled.length === 0) setImmediate(countTurns);
      burn(1);
      handled.push(request.path);
      return response(202, request.path, { "Content-Type": "text/plain" });
    },
    { logger: silentLogger, clock: systemClock },
  );
  servers.push(server);
  const port = await server.listen("127.0.0.1", 0);
  const n = 200;
  const requests = Array.from(
    { length: n },
    (_, i) => `POST /call/${i} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}`,
  ).join("");
  const socket = connect(port, "127.0.0.1");
  const text = await new Promise<string>((resolve, reject) => {
    let got = "";
    const timer = setTimeout(() => reject(new Error(`timed out; got ${got.length} bytes`)), 20_000);
    socket.on("data", (chunk: Buffer) => {
      got += chunk.toString("latin1");
      if (got.includes(`/call/${n - 1}`)) {
        clearTimeout(timer);
        resolve(got);
      }
    });
    socket.on("error", reject);
    socket.write(requests);
  });
  counting = false;
  socket.destroy();
  const expected = Array.from({ length: n }, (_, i) => `/call/${i}`);
  assert.deepEqual(handled, expected);
  const bodies = [...text.matchAll(/\r\n\r\n(\/call\/\d+)/g)].map((m) => m[1]);
  assert.deepEqual(bodies, expected, "answers in request order");
  // ~200 ms of handling with a 10 ms budget per turn: other work ran in between.
  assert.ok(turns >= 5, `only ${turns} turns passed while handling`);
});

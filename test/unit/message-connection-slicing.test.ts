import assert from "node:assert/strict";
import { connect, createServer, type Socket } from "node:net";
import { test } from "node:test";
import { MessageConnection } from "../../src/common/process/message-connection.js";
import { encodeMessage } from "../../src/common/process/message-encoder.js";
import { parseUpid } from "../../src/common/process/upid.js";
import { systemClock } from "../../src/common/time/clock.js";

/** Busy-waits `ms` (a costly handler). */
function burn(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

test("message connection: 200 costly messages in one write are all delivered in order, over several turns", async () => {
  const parsed = parseUpid("slave(1)@127.0.0.1:5051");
  assert.ok(parsed.ok);
  const to = parsed.value;
  const messages = Array.from({ length: 200 }, (_, i) =>
    encodeMessage("master@127.0.0.1:5050", to, `m${i}`, Buffer.from(`body ${i}`)),
  );
  const delivered: string[] = [];
  let turns = 0;
  let counting = true;
  const countTurns = () => {
    if (!counting) return;
    turns++;
    setImmediate(countTurns);
  };
  const done = new Promise<void>((resolve, reject) => {
    const server = createServer((socket: Socket) => {
      const connection = new MessageConnection(socket, {
        clock: systemClock,
        maxBodyBytes: 1 << 20,
        deliver: (_from, path, body) => {
          burn(1);
          delivered.push(`${path} ${body.toString()}`);
          if (delivered.length === messages.length) {
            counting = false;
            socket.destroy();
            server.close();
            resolve();
          }
          return { status: 202 };
        },
        handBack: () => reject(new Error("handed back")),
        onProtocolError: (m) => reject(new Error(m)),
      });
      setImmediate(countTurns);
      connection.start(Buffer.alloc(0));
    });
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") return reject(new Error("no port"));
      const client = connect(address.port, "127.0.0.1", () =>
        client.write(Buffer.concat(messages)),
      );
      client.on("data", () => {});
      client.on("error", () => {});
    });
  });
  await done;
  assert.deepEqual(
    delivered,
    messages.map((_, i) => `/slave(1)/m${i} body ${i}`),
  );
  // 200 ms of handling with a 10 ms budget per turn: other work ran in between.
  assert.ok(turns >= 5, `only ${turns} turns passed while delivering`);
});

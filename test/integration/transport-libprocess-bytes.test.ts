/**
 * Byte-level interoperability with libprocess: requests framed exactly as a
 * libprocess sender frames them (request line, headers, single-chunk body)
 * are dispatched, and what we send looks the same to a libprocess receiver.
 */
import assert from "node:assert/strict";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../src/common/observability/logger.js";
import { ProcessBase, rawBody } from "../../src/common/process/process-base.js";
import { ProcessHost } from "../../src/common/process/process-host.js";
import { Upid } from "../../src/common/process/upid.js";
import { SystemClock } from "../../src/common/time/clock.js";

const warnings: string[] = [];
const logger: Logger = {
  info: () => {},
  warn: (m) => warnings.push(m),
  error: () => {},
  verbose: () => {},
};

const hosts: ProcessHost[] = [];
after(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
});

async function startHost(): Promise<ProcessHost> {
  const host = new ProcessHost({
    logger,
    clock: new SystemClock(),
    listen: { bindIp: "127.0.0.1", bindPort: 0, advertiseIp: undefined, advertisePort: undefined },
  });
  await host.start();
  hosts.push(host);
  return host;
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** What libprocess' message encoder writes for one message (see the wire notes in docs/architecture/transport.md). */
function libprocessFrame(
  from: string,
  to: string,
  toAddress: string,
  name: string,
  body: Buffer,
): Buffer {
  let head =
    `POST /${to}/${name} HTTP/1.1\r\n` +
    `User-Agent: libprocess/${from}\r\n` +
    `Libprocess-From: ${from}\r\n` +
    "Connection: Keep-Alive\r\n" +
    `Host: ${toAddress}\r\n`;
  if (body.length === 0) return Buffer.from(`${head}\r\n`, "latin1");
  head += `Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), body, Buffer.from("\r\n0\r\n\r\n", "latin1")]);
}

test("libprocess bytes: pipelined libprocess frames are dispatched in order and each gets a 202", async () => {
  const a = await startHost();
  const master = a.spawn(new ProcessBase("master"));
  const got: { type: string; from: string; body: string }[] = [];
  for (const type of ["mesos.internal.RegisterSlaveMessage", "mesos.internal.PongSlaveMessage"]) {
    master.install(type, rawBody, (from, body) =>
      got.push({ type, from: from.toString(), body: Buffer.from(body).toString("hex") }),
    );
  }
  const from = "slave(1)@10.0.0.7:5051";
  // A protobuf-looking body with bytes that are not valid UTF-8.
  const body = Buffer.from([0x0a, 0x05, 0xff, 0x00, 0x80, 0x0d, 0x0a, 0x12, 0x00]);
  const frames = Buffer.concat([
    libprocessFrame(from, "master", a.address, "mesos.internal.RegisterSlaveMessage", body),
    libprocessFrame(from, "master", a.address, "mesos.internal.PongSlaveMessage", Buffer.alloc(0)),
    // A client that only speaks the Libprocess-From form, with a Content-Length body and no Host.
    Buffer.from(
      "POST /master/mesos.internal.PongSlaveMessage HTTP/1.1\r\nLibprocess-From: scheduler-1@10.0.0.9:40000\r\nContent-Length: 2\r\n\r\nhi",
      "latin1",
    ),
    // Only the User-Agent form (older senders), percent-encoded receiver id.
    Buffer.from(
      "POST /%6Daster/mesos.internal.PongSlaveMessage HTTP/1.1\r\nUser-Agent: libprocess/executor(1)@10.0.0.8:1234\r\nContent-Length: 0\r\n\r\n",
      "latin1",
    ),
  ]);
  const socket = tcpConnect(a.boundPort, "127.0.0.1");
  const answers: Buffer[] = [];
  socket.on("data", (d: Buffer) => answers.push(d));
  after(() => socket.destroy());
  socket.write(frames);
  await waitFor("four messages", () => got.length === 4);
  assert.deepEqual(got, [
    { type: "mesos.internal.RegisterSlaveMessage", from, body: body.toString("hex") },
    { type: "mesos.internal.PongSlaveMessage", from, body: "" },
    { type: "mesos.internal.PongSlaveMessage", from: "scheduler-1@10.0.0.9:40000", body: "6869" },
    { type: "mesos.internal.PongSlaveMessage", from: "executor(1)@10.0.0.8:1234", body: "" },
  ]);
  await waitFor(
    "four answers",
    () =>
      (
        Buffer.concat(answers)
          .toString()
          .match(/HTTP\/1\.1 /g) ?? []
      ).length === 4,
  );
  const statuses = [
    ...Buffer.concat(answers)
      .toString()
      .matchAll(/HTTP\/1\.1 (\d{3})/g),
  ].map((m) => m[1]);
  assert.deepEqual(statuses, ["202", "202", "202", "202"]);
  assert.match(Buffer.concat(answers).toString(), /Content-Length: 0\r\n/);
});

test("libprocess bytes: a libprocess frame split into single bytes is still one message", async () => {
  const a = await startHost();
  const master = a.spawn(new ProcessBase("master"));
  const got: string[] = [];
  master.install("mesos.internal.PingSlaveMessage", rawBody, (_f, b) =>
    got.push(Buffer.from(b).toString()),
  );
  const frame = libprocessFrame(
    "master@10.0.0.1:5050",
    "master",
    a.address,
    "mesos.internal.PingSlaveMessage",
    Buffer.from("\x08\x01"),
  );
  const socket = tcpConnect(a.boundPort, "127.0.0.1");
  after(() => socket.destroy());
  await new Promise<void>((r) => socket.once("connect", () => r()));
  socket.setNoDelay(true);
  for (const b of frame) {
    socket.write(Buffer.from([b]));
    await sleep(0);
  }
  await waitFor("message", () => got.length === 1);
  assert.deepEqual(got, ["\x08\x01"]);
});

test("libprocess bytes: what we send is what a libprocess receiver expects", async () => {
  // A fake libprocess peer: records the bytes and answers like libprocess
  // (202 for the first message, 404 for the second).
  const received: Buffer[] = [];
  const peerSockets: Socket[] = [];
  let answered = 0;
  const peer: Server = createServer((s) => {
    peerSockets.push(s);
    s.on("data", (d: Buffer) => {
      received.push(d);
      const text = Buffer.concat(received).toString("latin1");
      const complete = (text.match(/0\r\n\r\n/g) ?? []).length;
      while (answered < complete) {
        s.write(
          answered === 0
            ? "HTTP/1.1 202 Accepted\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\nContent-Length: 0\r\n\r\n"
            : "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        );
        answered++;
      }
    });
  });
  await new Promise<void>((r) => peer.listen(0, "127.0.0.1", r));
  after(() => {
    for (const s of peerSockets) s.destroy();
    peer.close();
  });
  const peerPort = (peer.address() as { port: number }).port;

  const a = await startHost();
  const agent = a.spawn(new ProcessBase("slave(1)"));
  const master = new Upid("master", "127.0.0.1", peerPort);
  const body = Buffer.from([0x0a, 0x03, 0x61, 0x62, 0x63]);
  agent.send(master, "mesos.internal.RegisterSlaveMessage", body);
  agent.send(master, "mesos.internal.UnregisterSlaveMessage", Buffer.from("x"));
  await waitFor("two answers read", () => {
    const s = a.peerStats().get(`127.0.0.1:${peerPort}`);
    return s !== undefined && s.accepted + s.notAccepted === 2;
  });
  const from = agent.self.toString();
  const expected = Buffer.concat([
    libprocessFrame(
      from,
      "master",
      `127.0.0.1:${peerPort}`,
      "mesos.internal.RegisterSlaveMessage",
      body,
    ),
    libprocessFrame(
      from,
      "master",
      `127.0.0.1:${peerPort}`,
      "mesos.internal.UnregisterSlaveMessage",
      Buffer.from("x"),
    ),
  ]);
  assert.equal(Buffer.concat(received).toString("latin1"), expected.toString("latin1"));
  const stats = a.peerStats().get(`127.0.0.1:${peerPort}`);
  assert.equal(stats?.accepted, 1);
  assert.equal(stats?.notAccepted, 1);
  assert.ok(
    warnings.some((w) =>
      /answered 404 to message mesos\.internal\.UnregisterSlaveMessage to master@/.test(w),
    ),
    "a non-202 answer is logged with the message it belongs to",
  );
});

/** Opens a raw connection, writes `bytes`, and collects what comes back. */
async function exchange(
  port: number,
  bytes: string | Buffer,
  until: (text: string) => boolean,
): Promise<{ text: string; closed: boolean }> {
  const socket = tcpConnect(port, "127.0.0.1");
  after(() => socket.destroy());
  const chunks: Buffer[] = [];
  let closed = false;
  socket.on("data", (d: Buffer) => chunks.push(d));
  socket.on("close", () => {
    closed = true;
  });
  socket.on("error", () => {});
  socket.write(bytes);
  await waitFor("answer", () => until(Buffer.concat(chunks).toString("latin1")) || closed);
  return { text: Buffer.concat(chunks).toString("latin1"), closed };
}

function statuses(text: string): string[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1] as string);
}

test("libprocess bytes: message connections use the fast path, which hands plain HTTP back at a request boundary", async () => {
  const a = await startHost();
  const master = a.spawn(new ProcessBase("master"));
  const got: string[] = [];
  master.install("m", rawBody, (_f, b) => got.push(Buffer.from(b).toString()));
  master.route("/health", { methods: ["GET"], help: "" }, () => ({
    kind: "body",
    status: 200,
    headers: { "Content-Type": "text/plain" },
    body: "healthy",
  }));
  const before = a.stats.messageConnections;
  const from = "slave(1)@127.0.0.1:1";
  const bytes = Buffer.concat([
    libprocessFrame(from, "master", a.address, "m", Buffer.from("one")),
    libprocessFrame(from, "master", a.address, "m", Buffer.from("two")),
    Buffer.from("GET /master/health HTTP/1.1\r\nHost: x\r\n\r\n", "latin1"),
    libprocessFrame(from, "master", a.address, "m", Buffer.from("three")),
  ]);
  const { text } = await exchange(a.boundPort, bytes, (t) => statuses(t).length === 4);
  assert.deepEqual(statuses(text), ["202", "202", "200", "202"]);
  assert.match(text, /healthy/);
  assert.deepEqual(got, ["one", "two", "three"]);
  assert.equal(a.stats.messageConnections, before + 1);
});

test("libprocess bytes: a plain HTTP connection may carry messages too (served by the HTTP server)", async () => {
  const a = await startHost();
  const master = a.spawn(new ProcessBase("master"));
  const got: string[] = [];
  master.install("m", rawBody, (_f, b) => got.push(Buffer.from(b).toString()));
  const before = a.stats.messageConnections;
  const bytes = Buffer.concat([
    Buffer.from("GET /master/nothing HTTP/1.1\r\nHost: x\r\n\r\n", "latin1"),
    libprocessFrame("s@127.0.0.1:1", "master", a.address, "m", Buffer.from("late")),
  ]);
  const { text } = await exchange(a.boundPort, bytes, (t) => statuses(t).length === 2);
  assert.deepEqual(statuses(text), ["404", "202"]);
  assert.deepEqual(got, ["late"]);
  assert.equal(a.stats.messageConnections, before);
});

test("libprocess bytes: a message asking for 100-continue is served by the HTTP server", async () => {
  const a = await startHost();
  const master = a.spawn(new ProcessBase("master"));
  const got: string[] = [];
  master.install("m", rawBody, (_f, b) => got.push(Buffer.from(b).toString()));
  const socket = tcpConnect(a.boundPort, "127.0.0.1");
  after(() => socket.destroy());
  let text = "";
  socket.on("data", (d: Buffer) => {
    text += d.toString("latin1");
  });
  socket.write(
    "POST /master/m HTTP/1.1\r\nLibprocess-From: s@127.0.0.1:1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
  );
  await waitFor("100 Continue", () => text.includes("100 Continue"));
  socket.write("body");
  await waitFor("202", () => text.includes("202 Accepted"));
  assert.deepEqual(got, ["body"]);
});

test("libprocess bytes: malformed message framing gets 400 and the connection is closed; others are unaffected", async () => {
  const a = await startHost();
  const master = a.spawn(new ProcessBase("master"));
  const got: string[] = [];
  master.install("m", rawBody, (_f, b) => got.push(Buffer.from(b).toString()));
  const badChunk = await exchange(
    a.boundPort,
    "POST /master/m HTTP/1.1\r\nLibprocess-From: s@127.0.0.1:1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    () => false,
  );
  assert.deepEqual(statuses(badChunk.text), ["400"]);
  assert.ok(badChunk.closed);
  const badSender = await exchange(
    a.boundPort,
    "POST /master/m HTTP/1.1\r\nLibprocess-From: not-a-pid\r\nContent-Length: 1\r\n\r\nx",
    (t) => statuses(t).length === 1,
  );
  assert.deepEqual(statuses(badSender.text), ["400"]);
  assert.match(badSender.text, /Failed to determine sender/);
  const unknown = await exchange(
    a.boundPort,
    libprocessFrame("s@127.0.0.1:1", "nobody", a.address, "m", Buffer.from("x")),
    (t) => statuses(t).length === 1,
  );
  assert.deepEqual(statuses(unknown.text), ["404"]);
  const fine = await exchange(
    a.boundPort,
    libprocessFrame("s@127.0.0.1:1", "master", a.address, "m", Buffer.from("ok")),
    (t) => statuses(t).length === 1,
  );
  assert.deepEqual(statuses(fine.text), ["202"]);
  assert.deepEqual(got, ["ok"]);
});

test("libprocess bytes: an HTTP/1.0 message without keep-alive is answered and the connection closed", async () => {
  const a = await startHost();
  const master = a.spawn(new ProcessBase("master"));
  const got: string[] = [];
  master.install("m", rawBody, (_f, b) => got.push(Buffer.from(b).toString()));
  const r = await exchange(
    a.boundPort,
    "POST /master/m HTTP/1.0\r\nUser-Agent: libprocess/s@127.0.0.1:1\r\nContent-Length: 2\r\n\r\nhi",
    () => false,
  );
  assert.ok(r.closed);
  assert.deepEqual(statuses(r.text), ["202"]);
  assert.match(r.text, /Connection: close/);
  assert.deepEqual(got, ["hi"]);
});

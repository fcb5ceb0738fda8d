/**
 * The message transport over real loopback sockets: hosts on different
 * ports play different machines.
 */
import assert from "node:assert/strict";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../src/common/observability/logger.js";
import type { MessageDecoder } from "../../src/common/process/process-base.js";
import { ProcessBase, rawBody } from "../../src/common/process/process-base.js";
import { ProcessHost, type ProcessHostOptions } from "../../src/common/process/process-host.js";
import { Upid } from "../../src/common/process/upid.js";
import { SystemClock } from "../../src/common/time/clock.js";

class CapturingLogger implements Logger {
  readonly lines: { level: string; message: string }[] = [];
  info(message: string): void {
    this.lines.push({ level: "INFO", message });
  }
  warn(message: string): void {
    this.lines.push({ level: "WARNING", message });
  }
  error(message: string): void {
    this.lines.push({ level: "ERROR", message });
  }
  verbose(_level: number, message: string): void {
    this.lines.push({ level: "VERBOSE", message });
  }
  matching(level: string, pattern: RegExp): string[] {
    return this.lines
      .filter((l) => l.level === level && pattern.test(l.message))
      .map((l) => l.message);
  }
}

const hosts: ProcessHost[] = [];
after(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
});

async function startHost(
  options: Partial<ProcessHostOptions> & { port?: number; advertisePort?: number } = {},
): Promise<ProcessHost> {
  const host = new ProcessHost({
    logger: options.logger ?? new CapturingLogger(),
    clock: new SystemClock(),
    listen: {
      bindIp: "127.0.0.1",
      bindPort: options.port ?? 0,
      advertiseIp: undefined,
      advertisePort: options.advertisePort,
    },
    backoff: { initialMs: 10, maxMs: 100, giveUpAfterFailures: 200 },
    ...options,
  });
  await host.start();
  hosts.push(host);
  return host;
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const u32: MessageDecoder<number> = (bytes) =>
  bytes.byteLength === 4
    ? { ok: true, value: Buffer.from(bytes).readUInt32BE(0) }
    : { ok: false, error: new Error(`expected 4 bytes, got ${bytes.byteLength}`) };

function u32Body(n: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

test("transport: 10,000 messages between two hosts arrive in order on one connection", async () => {
  const a = await startHost({ delegate: "master" });
  const b = await startHost();
  const master = a.spawn(new ProcessBase("master"));
  const agent = b.spawn(new ProcessBase("slave(1)"));
  const got: number[] = [];
  const senders = new Set<string>();
  master.install("mesos.internal.PongSlaveMessage", u32, (from, n) => {
    senders.add(from.toString());
    got.push(n);
  });
  for (let i = 0; i < 10_000; i++) {
    agent.send(master.self, "mesos.internal.PongSlaveMessage", u32Body(i));
    if (i % 1000 === 999) await sleep(1); // a few bursts, not one write
  }
  await waitFor("10,000 messages", () => got.length === 10_000);
  assert.deepEqual(
    got,
    Array.from({ length: 10_000 }, (_, i) => i),
  );
  assert.deepEqual([...senders], [agent.self.toString()]);
  await waitFor("all 202s read", () => b.peerStats().get(a.address)?.accepted === 10_000);
  const stats = b.peerStats().get(a.address);
  assert.equal(stats?.connects, 1);
  assert.equal(stats?.notAccepted, 0);
  assert.equal(a.stats.received, 10_000);
  assert.equal(
    a.stats.messageConnections,
    1,
    "the peer's connection was served by the message fast path",
  );
});

test("transport: a reply goes over the receiver's own connection to the sender's advertised address", async () => {
  // The agent's host advertises a port where a TCP relay listens; the relay
  // forwards to the real listener and counts connections.
  let relayed = 0;
  let target = 0;
  const relay: Server = createServer((client: Socket) => {
    relayed++;
    const upstream = tcpConnect(target, "127.0.0.1");
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((r) => relay.listen(0, "127.0.0.1", r));
  after(() => relay.close());
  const relayPort = (relay.address() as { port: number }).port;

  const a = await startHost();
  const b = await startHost({ advertisePort: relayPort });
  target = b.boundPort;
  assert.equal(b.port, relayPort);
  const master = a.spawn(new ProcessBase("master"));
  const agent = b.spawn(new ProcessBase("slave(1)"));
  assert.equal(agent.self.toString(), `slave(1)@127.0.0.1:${relayPort}`);

  master.install("ping", rawBody, (from) => master.send(from, "pong", Buffer.from("p")));
  const pongs: string[] = [];
  agent.install("pong", rawBody, (from) => pongs.push(from.toString()));
  agent.send(master.self, "ping", Buffer.from("x"));
  await waitFor("pong", () => pongs.length === 1);
  assert.deepEqual(pongs, [master.self.toString()]);
  assert.equal(relayed, 1, "the master connected to the agent's advertised address");
  assert.equal(a.peerStats().get(`127.0.0.1:${relayPort}`)?.sent, 1);
  assert.equal(b.peerStats().get(a.address)?.sent, 1);
});

test("transport: when a linked peer's host dies, exited fires once; after a restart messages flow again", async () => {
  const a = await startHost();
  let b = await startHost();
  const port = b.boundPort;
  const master = a.spawn(new ProcessBase("master"));
  let agent = b.spawn(new ProcessBase("slave(1)"));
  const agentPid = agent.self;
  const exited: string[] = [];
  master.onExited((pid) => exited.push(pid.toString()));
  let received: number[] = [];
  agent.install("n", u32, (_f, n) => received.push(n));

  master.link(agentPid);
  master.send(agentPid, "n", u32Body(1));
  await waitFor("first message", () => received.length === 1);
  assert.deepEqual(exited, []);

  await b.stop();
  await waitFor("exited", () => exited.length === 1);
  assert.deepEqual(exited, [agentPid.toString()]);

  // Messages sent while the agent is down wait and are retried with backoff.
  master.send(agentPid, "n", u32Body(2));
  master.send(agentPid, "n", u32Body(3));
  await sleep(50);
  assert.deepEqual(exited, [agentPid.toString()], "exited fires once per link");

  b = await startHost({ port });
  agent = b.spawn(new ProcessBase("slave(1)"));
  received = [];
  agent.install("n", u32, (_f, n) => received.push(n));
  await waitFor("queued messages after restart", () => received.length === 2);
  master.send(agentPid, "n", u32Body(4));
  await waitFor("a new message", () => received.length === 3);
  assert.deepEqual(received, [2, 3, 4]);

  // Linking again watches the new connection.
  master.link(agentPid);
  await sleep(20);
  await b.stop();
  await waitFor("second exited", () => exited.length === 2);
});

test("transport: linking to an address nobody listens on fires exited", async () => {
  const a = await startHost();
  const dead = await startHost();
  const deadPort = dead.boundPort;
  await dead.stop();
  const master = a.spawn(new ProcessBase("master"));
  const exited: string[] = [];
  master.onExited((pid) => exited.push(pid.toString()));
  master.link(new Upid("slave(1)", "127.0.0.1", deadPort));
  await waitFor("exited", () => exited.length === 1);
  assert.deepEqual(exited, [`slave(1)@127.0.0.1:${deadPort}`]);
});

test("transport: a process in the same host sees a linked process exit when it terminates", async () => {
  const a = await startHost();
  const master = a.spawn(new ProcessBase("master"));
  const registrar = a.spawn(new ProcessBase("registrar(1)"));
  const exited: string[] = [];
  master.onExited((pid) => exited.push(pid.toString()));
  master.link(registrar.self);
  master.link(new Upid("nobody", a.ip, a.port));
  a.terminate(registrar);
  await waitFor("exits", () => exited.length === 2);
  assert.deepEqual(exited.sort(), [`nobody@${a.address}`, `registrar(1)@${a.address}`]);
});

test("transport: processes of one host exchange messages in order without a socket", async () => {
  const a = await startHost({ delegate: "master" });
  const master = a.spawn(new ProcessBase("master"));
  const agent = a.spawn(new ProcessBase("slave(1)"));
  const got: number[] = [];
  let inHandler = false;
  master.install("n", u32, (_f, n) => {
    assert.ok(!inHandler, "handlers never nest");
    inHandler = true;
    got.push(n);
    if (n === 999) agent.send(master.self, "n", u32Body(1000));
    inHandler = false;
  });
  for (let i = 0; i < 1000; i++) agent.send(master.self, "n", u32Body(i));
  assert.equal(got.length, 0, "delivery is asynchronous");
  await waitFor("1001 local messages", () => got.length === 1001);
  assert.deepEqual(
    got,
    Array.from({ length: 1001 }, (_, i) => i),
  );
  assert.equal(a.peerStats().size, 0);
  assert.equal(a.stats.sentLocal, 1001);
});

test("transport: an undecodable body is logged as an error and the process keeps serving", async () => {
  const logger = new CapturingLogger();
  const a = await startHost({ logger });
  const b = await startHost();
  const master = a.spawn(new ProcessBase("master"));
  const agent = b.spawn(new ProcessBase("slave(1)"));
  const got: number[] = [];
  master.install("mesos.internal.RegisterSlaveMessage", u32, (_f, n) => got.push(n));
  agent.send(
    master.self,
    "mesos.internal.RegisterSlaveMessage",
    Buffer.from("not a protobuf at all"),
  );
  agent.send(master.self, "mesos.internal.RegisterSlaveMessage", u32Body(7));
  await waitFor("the good message", () => got.length === 1);
  assert.deepEqual(got, [7]);
  assert.equal(a.stats.undecodable, 1);
  const errors = logger.matching("ERROR", /RegisterSlaveMessage/);
  assert.equal(errors.length, 1);
  assert.match(errors[0] ?? "", /cannot decode its 21-byte body: expected 4 bytes, got 21/);
  await waitFor("202s", () => b.peerStats().get(a.address)?.accepted === 2);
});

test("transport: a handler that throws is logged and the process keeps serving", async () => {
  const logger = new CapturingLogger();
  const a = await startHost({ logger });
  const master = a.spawn(new ProcessBase("master"));
  const other = a.spawn(new ProcessBase("other"));
  const got: number[] = [];
  master.install("n", u32, (_f, n) => {
    if (n === 0) throw new Error("boom");
    got.push(n);
  });
  other.send(master.self, "n", u32Body(0));
  other.send(master.self, "n", u32Body(1));
  await waitFor("message after the throw", () => got.length === 1);
  assert.equal(logger.matching("ERROR", /boom/).length, 1);
});

test("transport: unknown processes get 404 (logged by the sender); unknown types are dropped with one warning", async () => {
  const aLog = new CapturingLogger();
  const bLog = new CapturingLogger();
  const a = await startHost({ logger: aLog });
  const b = await startHost({ logger: bLog });
  const master = a.spawn(new ProcessBase("master"));
  const agent = b.spawn(new ProcessBase("slave(1)"));
  master.install("known", rawBody, () => {});
  agent.send(new Upid("nobody", a.ip, a.port), "known", Buffer.from("x"));
  agent.send(master.self, "mesos.internal.FutureMessage", Buffer.from("x"));
  agent.send(master.self, "mesos.internal.FutureMessage", Buffer.from("x"));
  agent.send(master.self, "known", Buffer.from("x"));
  await waitFor("4 answers", () => {
    const s = b.peerStats().get(a.address);
    return s !== undefined && s.accepted + s.notAccepted === 4;
  });
  const s = b.peerStats().get(a.address);
  assert.equal(s?.notAccepted, 1);
  assert.equal(s?.accepted, 3);
  assert.equal(bLog.matching("WARNING", /answered 404 to message known to nobody@/).length, 1);
  assert.equal(a.stats.unknownProcess, 1);
  assert.equal(a.stats.unhandled, 2);
  assert.equal(aLog.matching("WARNING", /FutureMessage/).length, 1);
});

test("transport: the message filter can drop messages before delivery", async () => {
  const a = await startHost();
  const master = a.spawn(new ProcessBase("master"));
  const agent = a.spawn(new ProcessBase("slave(1)"));
  const got: number[] = [];
  master.install("n", u32, (_f, n) => got.push(n));
  a.setMessageFilter((m) => m.name === "n" && Buffer.from(m.body).readUInt32BE(0) % 2 === 1);
  for (let i = 0; i < 6; i++) agent.send(master.self, "n", u32Body(i));
  await waitFor("even messages", () => got.length === 3);
  assert.deepEqual(got, [0, 2, 4]);
  assert.equal(a.stats.filtered, 3);
});

test("transport: stalled HTTP clients do not hold up messages", async () => {
  const a = await startHost({ delegate: "master" });
  const b = await startHost();
  const master = a.spawn(new ProcessBase("master"));
  const agent = b.spawn(new ProcessBase("slave(1)"));
  const stalled: Socket[] = [];
  after(() => {
    for (const s of stalled) s.destroy();
  });
  const open = async (bytes: string): Promise<void> => {
    const s = tcpConnect(a.boundPort, "127.0.0.1");
    stalled.push(s);
    await new Promise<void>((r) => s.once("connect", () => r()));
    s.write(bytes);
  };
  // Half a request line and headers, then nothing.
  await open("GET /master/state HTTP/1.1\r\nHost: x\r\n");
  // A message whose body never finishes.
  await open(
    "POST /master/n HTTP/1.1\r\nLibprocess-From: x@127.0.0.1:1\r\nContent-Length: 1000\r\n\r\nonly this",
  );
  // A client that never reads its responses.
  await open("GET /master/big HTTP/1.1\r\nHost: x\r\n\r\n".repeat(50));
  master.route("/big", { methods: ["GET"], help: "" }, () => ({
    kind: "body",
    status: 200,
    headers: {},
    body: Buffer.alloc(1024 * 1024, 120),
  }));
  const got: number[] = [];
  master.install("n", u32, (_f, n) => got.push(n));
  for (let i = 0; i < 2000; i++) agent.send(master.self, "n", u32Body(i));
  await waitFor("messages past the stalled clients", () => got.length === 2000);
  assert.equal(got[1999], 1999);
});

test("transport: pendingEvents names what the run queue holds for a process, in libprocess' event shape", async () => {
  const a = await startHost();
  const master = a.spawn(new ProcessBase("master"));
  const agent = a.spawn(new ProcessBase("slave(1)"));
  master.install("ping", rawBody, () => {});
  agent.send(master.self, "ping", new TextEncoder().encode("hello"));
  // Delivery waits for a later turn: the message is still queued.
  assert.deepEqual(a.pendingEvents("master"), [
    {
      type: "MESSAGE",
      name: "ping",
      from: agent.self.toString(),
      to: master.self.toString(),
      body: "hello",
    },
  ]);
  assert.deepEqual(a.pendingEvents("slave(1)"), []);
  await sleep(20);
  assert.deepEqual(a.pendingEvents("master"), []);
});

/**
 * Message throughput of the libprocess-style transport over loopback.
 * Prints one JSON line. Variants run in the same process so their ratios
 * are comparable:
 * - `cross_thread`: sender and receiver hosts on separate event loops
 *   (a worker thread), like two machines; the headline number.
 * - `same_thread`: both hosts on one event loop (each side gets half a CPU).
 * - `local`: two processes of one host (no socket).
 * - `raw_tcp`: the same bytes over a plain socket, counted but not parsed
 *   (the floor the OS sets).
 * The receiver acknowledges every 1,000 messages with a message back; the
 * sender keeps at most WINDOW messages unacknowledged.
 *
 * Run: node dist/bench/transport.js [messages]
 */
import { execSync } from "node:child_process";
import { createServer, connect as tcpConnect } from "node:net";
import { cpus } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { silentLogger } from "../src/common/observability/logger.js";
import { encodeMessage } from "../src/common/process/message-encoder.js";
import { ProcessBase, rawBody } from "../src/common/process/process-base.js";
import { ProcessHost } from "../src/common/process/process-host.js";
import { parseUpid, Upid } from "../src/common/process/upid.js";
import { SystemClock } from "../src/common/time/clock.js";

const ACK_EVERY = 1000;
const WINDOW = 20_000;
/** About the size of a StatusUpdateMessage. */
const BODY = Buffer.alloc(180, 7);
const MESSAGE = "mesos.internal.StatusUpdateMessage";
const ACK = "mesos.internal.StatusUpdateAcknowledgementMessage";

function newHost(): ProcessHost {
  return new ProcessHost({
    logger: silentLogger,
    clock: new SystemClock(),
    listen: { bindIp: "127.0.0.1", bindPort: 0, advertiseIp: undefined, advertisePort: undefined },
  });
}

/** The receiving side: counts messages and acknowledges every ACK_EVERY. */
function receiver(host: ProcessHost, total: number, onDone: () => void): ProcessBase {
  const p = host.spawn(new ProcessBase("slave(1)"));
  let count = 0;
  p.install(MESSAGE, rawBody, (from) => {
    count++;
    if (count % ACK_EVERY === 0 || count === total) {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(count);
      p.send(from, ACK, b);
    }
    if (count === total) onDone();
  });
  return p;
}

/** Sends `total` messages to `to` within the window; resolves with elapsed ms when all are acknowledged. */
function sender(host: ProcessHost, to: Upid, total: number): Promise<number> {
  const p = host.spawn(new ProcessBase("master"));
  return new Promise((resolve) => {
    let sent = 0;
    let acked = 0;
    const start = performance.now();
    const pump = (): void => {
      while (sent < total && sent - acked < WINDOW) {
        p.send(to, MESSAGE, BODY);
        sent++;
      }
    };
    p.install(ACK, rawBody, (_f, body) => {
      acked = Buffer.from(body).readUInt32BE(0);
      if (acked === total) resolve(performance.now() - start);
      else pump();
    });
    pump();
  });
}

async function crossThread(
  total: number,
): Promise<{ ms: number; receiverMaxBlockMs: number; receiverP99Ms: number }> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { total } });
  const address = await new Promise<string>((resolve) =>
    worker.once("message", (m: { address: string }) => resolve(m.address)),
  );
  const host = newHost();
  await host.start();
  const to = parseUpid(address);
  if (!to.ok) throw to.error;
  const ms = await sender(host, to.value, total);
  const stats = await new Promise<{ maxBlockMs: number; p99Ms: number }>((resolve) => {
    worker.once("message", resolve);
    worker.postMessage("stop");
  });
  await host.stop();
  await worker.terminate();
  return { ms, receiverMaxBlockMs: stats.maxBlockMs, receiverP99Ms: stats.p99Ms };
}

async function sameThread(total: number): Promise<number> {
  const a = newHost();
  const b = newHost();
  await a.start();
  await b.start();
  const r = receiver(b, total, () => {});
  const ms = await sender(a, r.self, total);
  await a.stop();
  await b.stop();
  return ms;
}

async function local(total: number): Promise<number> {
  const a = newHost();
  await a.start();
  const r = receiver(a, total, () => {});
  const ms = await sender(a, r.self, total);
  await a.stop();
  return ms;
}

/** The same frames over a bare socket: the receiver only counts bytes. */
async function rawTcp(total: number): Promise<number> {
  const frame = encodeMessage(
    "master@127.0.0.1:1",
    new Upid("slave(1)", "127.0.0.1", 2),
    MESSAGE,
    BODY,
  );
  const expected = frame.byteLength * total;
  let received = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const server = createServer((s) => {
    s.on("data", (d: Buffer) => {
      received += d.length;
      if (received >= expected) done();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const socket = tcpConnect(port, "127.0.0.1");
  await new Promise<void>((r) => socket.once("connect", () => r()));
  const start = performance.now();
  const batch = Buffer.concat(Array.from({ length: ACK_EVERY }, () => frame));
  let sent = 0;
  const pump = (): void => {
    while (sent < total) {
      sent += ACK_EVERY;
      if (!socket.write(batch)) {
        socket.once("drain", pump);
        return;
      }
    }
  };
  pump();
  await finished;
  const ms = performance.now() - start;
  socket.destroy();
  server.close();
  return ms;
}

function commit(): string {
  try {
    return execSync("git rev-parse --short HEAD", { stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
  } catch {
    return "unknown";
  }
}

async function main(): Promise<void> {
  const total = Math.max(ACK_EVERY, Number(process.argv[2] ?? 200_000));
  await sameThread(20_000); // warm-up
  const rate = (ms: number): number => Math.round((total / ms) * 1000);
  const cross = await crossThread(total);
  const same = await sameThread(total);
  const loc = await local(total);
  const raw = await rawTcp(total);
  const line = {
    bench: "transport",
    date: new Date().toISOString(),
    commit: commit(),
    node: process.version,
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? "unknown",
    messages: total,
    body_bytes: BODY.byteLength,
    cross_thread_msgs_per_s: rate(cross.ms),
    same_thread_msgs_per_s: rate(same),
    local_msgs_per_s: rate(loc),
    raw_tcp_msgs_per_s: rate(raw),
    raw_over_cross_thread: Number((cross.ms / raw).toFixed(1)),
    receiver_event_loop_delay_p99_ms: Number(cross.receiverP99Ms.toFixed(1)),
    receiver_event_loop_delay_max_ms: Number(cross.receiverMaxBlockMs.toFixed(1)),
  };
  console.log(JSON.stringify(line));
}

async function workerMain(): Promise<void> {
  const port = parentPort;
  if (port === null) return;
  const { total } = workerData as { total: number };
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const host = newHost();
  await host.start();
  const r = receiver(host, total, () => {});
  port.postMessage({ address: r.self.toString() });
  port.once("message", () => {
    delay.disable();
    port.postMessage({ maxBlockMs: delay.max / 1e6, p99Ms: delay.percentile(99) / 1e6 });
    void host.stop();
  });
}

if (isMainThread) {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
} else {
  workerMain().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}

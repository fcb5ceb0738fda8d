/**
 * `/master/state` and v1 GET_STATE under load (issue 5's benchmark).
 *
 * A real master (startMaster in a process host) runs in a worker thread,
 * so its event loop is measured apart from the clients. Simulated agents
 * (10 running + 10 completed tasks each, spread over 10 frameworks) are
 * injected straight into the master core, not over sockets. While the
 * cluster "churns" (every 100 ms ten running tasks get a new status and the
 * state version moves, as on a busy master, so every read rebuilds the
 * document from its cached fragments; each 1-client read also follows a
 * bump of its own, so none is a cache hit), clients read over HTTP: 1 client
 * in a row, then 2/4/8 concurrent ones, while `/health` is probed every
 * 10 ms from a thread of its own.
 *
 * Reported per size:
 * - overhead: median 1-client `/master/state` time / `JSON.stringify` of
 *   an identical prebuilt object (target <= 3);
 * - v1_v0: median 1-client GET_STATE (JSON) time / `/master/state` time
 *   (target <= 1.2), both read with node:http; the GET_STATE document is
 *   about twice as many bytes, so `build_v1_v0` also compares the two
 *   builds without HTTP. `v1_v0_p10`/`_p90` spread the per-round ratios
 *   (20 rounds at 1k, 8 at 10k, the read order alternating per round);
 * - raw_*: the same reads from a lean raw-socket client that reads into one
 *   reusable buffer and only counts the bytes up to the end of the response
 *   (node:http's own per-byte and per-event CPU runs on this machine's
 *   cores too and lands in the wall time); `raw_v1_v0` with its p10/p90,
 *   `raw_cpu_v1_v0` (master CPU);
 * - curl_*: the same reads with curl (`time_total`, body to /dev/null), the
 *   client operators use and the one the v1/v0 <= 1.2 target is judged
 *   with: `curl_v1_v0` with its p10/p90, `curl_cpu_v1_v0` (master CPU);
 *   skipped, with a note in the row, when there is no curl;
 * - curlgz_*, gz_*: the same curl reads with `--compressed` (the master
 *   gzips whole bodies for clients that accept it, as libprocess does):
 *   wire MB, times, v1/v0 and master CPU; `first_gz_*` are the first such
 *   reads, which compress every part of a document once;
 * - health_p99 under 4 clients, and that divided by one state response
 *   (target <= 1), and by the unloaded p99;
 * - event-loop delay p99 and max in the master's thread, loaded / unloaded;
 * - the longest synchronous stretch of a document build;
 * - floor_*: the transfer floor of v1/v0 (see `transferFloor`): the same
 *   HTTP stack serving prebuilt buffers of the two documents' sizes, read
 *   with the raw client and curl (`floor_raw_v1_v0`, `floor_curl_v1_v0`);
 * - operator SUBSCRIBE (JSON and protobuf): time until the whole SUBSCRIBED
 *   record arrived, and the longest event-loop block meanwhile, next to the
 *   time the former one-piece protobuf encoding of SUBSCRIBED took (one
 *   synchronous block, measured in the master's thread).
 *
 * Usage: `npm run bench -- master-state [agents...]` (default 1000 5000 10000).
 */

import { execFile, execFileSync } from "node:child_process";
import { openSync, readFileSync, readlinkSync, readSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import {
  type IntervalHistogram,
  monitorEventLoopDelay,
  PerformanceObserver,
  constants as perfConstants,
} from "node:perf_hooks";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { silentLogger } from "../src/common/observability/logger.js";
import { resolveListenAddress } from "../src/common/process/listen-address.js";
import { ProcessHost } from "../src/common/process/process-host.js";
import type { SlaveInfo } from "../src/common/protocol/generated/mesos-internal.js";
import type { Resource, Task, TaskStatus } from "../src/common/protocol/generated/mesos-v1.js";
import { codecFor } from "../src/common/protocol/index.js";
import { resourcesFromString } from "../src/common/resources/index.js";
import { SystemClock } from "../src/common/time/clock.js";
import { AgentRecord, FrameworkRecord } from "../src/master/core/records.js";
import { loadMasterFlags } from "../src/master/flags.js";
import { stateJson } from "../src/master/http/state-json.js";
import { getState } from "../src/master/http/v1-state.js";
import { startMaster } from "../src/master/master-runtime.js";
import { median } from "./lib/event-loop.js";
import { reportCase } from "./lib/report.js";

const FRAMEWORKS = 10;
const RUNNING_PER_AGENT = 10;
const COMPLETED_PER_AGENT = 10;

interface WorkerReady {
  kind: "ready";
  port: number;
  /** The master thread's id (its CPU time is read from /proc). */
  tid: number;
  stringifyMs: number;
  stateBytes: number;
  tasks: number;
}

interface WorkerStats {
  kind: "stats";
  loopP99Ms: number;
  loopMaxMs: number;
  longestSliceMs: number;
  /** GC pauses since "monitor" (perf_hooks gc entries): longest, total, count. */
  gcMaxMs: number;
  gcTotalMs: number;
  gcCount: number;
  /** Kind of the longest pause (minor, major, incremental, weakcb). */
  gcMaxKind: string;
  /** Longest gap between 1 ms ticks: wall time, and the master thread's CPU time in it. */
  blockWallMs: number;
  blockCpuMs: number;
  builds: number;
  joined: number;
  hits: number;
}

// ---------------------------------------------------------------------------
// Worker: the master.

function resources(text: string): Resource[] {
  const parsed = resourcesFromString(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value as Resource[];
}

async function masterWorker(agents: number): Promise<void> {
  const port = parentPort;
  if (port === null) return;
  const flags = loadMasterFlags({
    argv: [
      "--registry=in_memory",
      "--quiet",
      `--max_completed_tasks_per_framework=${(agents * COMPLETED_PER_AGENT) / FRAMEWORKS + 10}`,
      "--hostname=bench-master",
    ],
    env: {},
  });
  if (!flags.ok) throw new Error(flags.error);
  const clock = new SystemClock();
  const listen = resolveListenAddress({ ip: "127.0.0.1", port: 0, env: {} });
  if (!listen.ok) throw new Error(listen.error.message);
  const host = new ProcessHost({
    logger: silentLogger,
    clock,
    listen: listen.value,
    delegate: "master",
  });
  await host.start();
  const runtime = await startMaster({ host, flags: flags.flags, logger: silentLogger, clock });
  const m = runtime.core;

  // Frameworks.
  const frameworks: FrameworkRecord[] = [];
  for (let i = 0; i < FRAMEWORKS; i++) {
    const id = `${m.config.info.id}-${String(i).padStart(4, "0")}`;
    const f = new FrameworkRecord(
      id,
      {
        id: { value: id },
        user: "bench",
        name: `framework-${i}`,
        roles: ["*"],
        capabilities: [{ type: "MULTI_ROLE" }],
        checkpoint: true,
        failover_timeout: 60,
      },
      "connected",
      clock.now(),
    );
    f.active = true;
    m.frameworks.set(id, f);
    frameworks.push(f);
  }
  // Agents and their tasks.
  const taskResources = resources("cpus:0.1;mem:32;disk:16").map((r) => ({
    ...r,
    allocation_info: { role: "*" },
  }));
  const running: Task[] = [];
  const uuid = new Uint8Array(16).fill(7);
  let n = 0;
  for (let a = 0; a < agents; a++) {
    const agentId = `${m.config.info.id}-S${a}`;
    const info: SlaveInfo = {
      hostname: `agent-${a}.example.com`,
      port: 5051,
      resources: resources("cpus:8;mem:32768;disk:512000;ports:[31000-32000]"),
      attributes: [{ name: "rack", type: "TEXT", text: { value: `r${a % 40}` } }],
      id: { value: agentId },
      checkpoint: true,
    };
    const agent = new AgentRecord(
      agentId,
      info,
      `slave(1)@10.0.${(a >> 8) & 255}.${a & 255}:5051`,
      "1.12.0",
      [{ type: "MULTI_ROLE" }],
      clock.now(),
    );
    m.agents.set(agentId, agent);
    for (let t = 0; t < RUNNING_PER_AGENT + COMPLETED_PER_AGENT; t++) {
      const f = frameworks[n % FRAMEWORKS] as FrameworkRecord;
      const taskId = `task-${n++}`;
      const done = t >= RUNNING_PER_AGENT;
      const status = (state: TaskStatus["state"], ts: number): TaskStatus => ({
        task_id: { value: taskId },
        state,
        source: "SOURCE_EXECUTOR",
        agent_id: { value: agentId },
        executor_id: { value: taskId },
        timestamp: ts,
        uuid,
        container_status: { network_infos: [{ ip_addresses: [{ ip_address: "10.0.0.1" }] }] },
      });
      const task: Task = {
        name: `task ${taskId}`,
        task_id: { value: taskId },
        framework_id: { value: f.id },
        agent_id: { value: agentId },
        state: done ? "TASK_FINISHED" : "TASK_RUNNING",
        resources: taskResources,
        statuses: done
          ? [status("TASK_RUNNING", 1_700_000_000 + n), status("TASK_FINISHED", 1_700_000_100 + n)]
          : [status("TASK_RUNNING", 1_700_000_000 + n)],
        labels: { labels: [{ key: "app", value: `app-${n % 97}` }] },
      };
      if (done) f.completedTasks.push(task);
      else {
        f.tasks.set(taskId, task);
        const byFw = agent.tasks.get(f.id) ?? new Map<string, Task>();
        agent.tasks.set(f.id, byFw);
        byFw.set(taskId, task);
        running.push(task);
      }
    }
  }
  runtime.documents.version.bump();

  // The baseline: JSON.stringify of an identical prebuilt object.
  const ctxState = stateJson({
    master: m,
    build: { version: "1.12.0", buildDate: "", buildTime: 0, buildUser: "" },
    pid: runtime.process.self.toString(),
    cluster: undefined,
    logDir: undefined,
    externalLogFile: undefined,
    flags: flags.flags.toStrings(),
    electedTime: clock.now(),
  });
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    bytes = JSON.stringify(ctxState).length;
    times.push(performance.now() - start);
  }

  // Churn: every 100 ms ten running tasks get a new status (as status updates do).
  let churnIndex = 0;
  const churn = setInterval(() => {
    runtime.documents.version.bump();
    for (let i = 0; i < 10; i++) {
      const task = running[churnIndex++ % running.length] as Task;
      const last = task.statuses?.[task.statuses.length - 1] as TaskStatus;
      const next: TaskStatus = {
        ...last,
        timestamp: (last.timestamp ?? 0) + 1,
        healthy: churnIndex % 2 === 0,
      };
      task.statuses = [...(task.statuses ?? []).slice(0, -1), next];
      m.events.taskUpdated(task, next, task.state, false);
    }
  }, 100);

  let histogram: IntervalHistogram | undefined;
  const gc = { maxMs: 0, totalMs: 0, count: 0, maxKind: "" };
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gc.totalMs += entry.duration;
      gc.count++;
      if (entry.duration > gc.maxMs) {
        gc.maxMs = entry.duration;
        gc.maxKind = gcKind((entry as { detail?: { kind?: number } }).detail?.kind);
      }
    }
  });
  gcObserver.observe({ entryTypes: ["gc"] });
  // Blocks: gaps between ticks of a 1 ms interval, in wall time and in this
  // thread's CPU time over the gap (a gap with little CPU was the OS running
  // other work on the shared machine, not the master blocking its loop).
  const blocks = { wallMs: 0, cpuMs: 0 };
  const cpuFd = openSync("/proc/thread-self/schedstat", "r");
  const cpuBuf = Buffer.alloc(128);
  const cpuNow = (): number => {
    const n = readSync(cpuFd, cpuBuf, 0, cpuBuf.length, 0);
    return Number(cpuBuf.toString("latin1", 0, n).split(" ")[0]) / 1e6;
  };
  const debug = process.env.BENCH_DEBUG === "1";
  // Only while monitoring (between "monitor" and "stats"): reading
  // schedstat every millisecond took ~10% of the master thread's CPU, which
  // would otherwise land in the 1-client read times too.
  let lastWall = 0;
  let lastCpu = 0;
  let ticker: NodeJS.Timeout | undefined;
  const tick = (): void => {
    const wall = performance.now();
    const cpu = cpuNow();
    const gapCpu = cpu - lastCpu;
    blocks.wallMs = Math.max(blocks.wallMs, wall - lastWall);
    blocks.cpuMs = Math.max(blocks.cpuMs, gapCpu);
    if (debug && wall - lastWall > 30) {
      process.stderr.write(
        `gap ${(wall - lastWall).toFixed(0)} ms (cpu ${gapCpu.toFixed(0)}) ending at ${wall.toFixed(0)}\n`,
      );
    }
    lastWall = wall;
    lastCpu = cpu;
  };
  const startTicker = (): void => {
    clearInterval(ticker);
    lastWall = performance.now();
    lastCpu = cpuNow();
    ticker = setInterval(tick, 1);
  };
  const stopTicker = (): void => {
    clearInterval(ticker);
    ticker = undefined;
  };
  if (debug) {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (e.duration > 10) {
          const kind = gcKind((e as { detail?: { kind?: number } }).detail?.kind);
          process.stderr.write(
            `gc ${kind} ${e.duration.toFixed(0)} ms at ${e.startTime.toFixed(0)}\n`,
          );
        }
      }
    }).observe({ entryTypes: ["gc"] });
    const docs = runtime.documents;
    for (const name of ["state", "getState"] as const) {
      const original = docs[name].bind(docs);
      docs[name] = () => {
        const t = performance.now();
        const p = original();
        void p.then(() =>
          process.stderr.write(`${name} ${t.toFixed(0)} -> ${performance.now().toFixed(0)}\n`),
        );
        return p;
      };
    }
  }
  port.on("message", (msg: { kind: string }) => {
    if (msg.kind === "monitor") {
      histogram?.disable();
      histogram = monitorEventLoopDelay({ resolution: 1 });
      histogram.enable();
      Object.assign(gc, { maxMs: 0, totalMs: 0, count: 0, maxKind: "" });
      Object.assign(blocks, { wallMs: 0, cpuMs: 0 });
      startTicker();
      port.postMessage({ kind: "monitoring" });
    } else if (msg.kind === "stats") {
      histogram?.disable();
      stopTicker();
      const cache = runtime.documents.cache;
      const stats: WorkerStats = {
        kind: "stats",
        loopP99Ms: (histogram?.percentile(99) ?? 0) / 1e6,
        loopMaxMs: (histogram?.max ?? 0) / 1e6,
        longestSliceMs: cache.longestSliceMs,
        gcMaxMs: gc.maxMs,
        gcTotalMs: gc.totalMs,
        gcCount: gc.count,
        gcMaxKind: gc.maxKind,
        blockWallMs: blocks.wallMs,
        blockCpuMs: blocks.cpuMs,
        builds: cache.builds,
        joined: cache.joined,
        hits: cache.hits,
      };
      port.postMessage(stats);
    } else if (msg.kind === "builds") {
      // Document builds alone (no HTTP): each after a state change of its
      // own (as the timed reads), in alternating order.
      void (async () => {
        const v0: number[] = [];
        const v1: number[] = [];
        const timedBuild = async (build: () => Promise<unknown>, into: number[]) => {
          runtime.documents.version.bump();
          const start = performance.now();
          await build();
          into.push(performance.now() - start);
        };
        for (let i = 0; i < 6; i++) {
          const first = i % 2 === 0;
          await timedBuild(
            () => (first ? runtime.documents.state() : runtime.documents.getState()),
            first ? v0 : v1,
          );
          await timedBuild(
            () => (first ? runtime.documents.getState() : runtime.documents.state()),
            first ? v1 : v0,
          );
        }
        port.postMessage({ kind: "built", v0: median(v0), v1: median(v1) });
      })();
    } else if (msg.kind === "bump") {
      // For experiments driving this worker: the next read rebuilds.
      runtime.documents.version.bump();
      port.postMessage({ kind: "bumped" });
    } else if (msg.kind === "one-piece-subscribed") {
      // What SUBSCRIBED cost before it was sliced: the state as one message, encoded at once.
      const start = performance.now();
      const bytes = codecFor("mesos.v1.master.Event").encodeProtobuf({
        type: "SUBSCRIBED",
        subscribed: { get_state: getState(m), heartbeat_interval_seconds: 15 },
      }).byteLength;
      port.postMessage({ kind: "one-piece", ms: performance.now() - start, bytes });
    } else if (msg.kind === "stop") {
      clearInterval(churn);
      stopTicker();
      gcObserver.disconnect();
      runtime.stop();
      void host.stop().then(() => port.postMessage({ kind: "stopped" }));
    }
  });
  const ready: WorkerReady = {
    kind: "ready",
    port: host.boundPort,
    tid: threadId(),
    stringifyMs: median(times),
    stateBytes: bytes,
    tasks: n,
  };
  port.postMessage(ready);
}

function gcKind(kind: number | undefined): string {
  switch (kind) {
    case perfConstants.NODE_PERFORMANCE_GC_MINOR:
      return "minor";
    case perfConstants.NODE_PERFORMANCE_GC_MAJOR:
      return "major";
    case perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL:
      return "incremental";
    case perfConstants.NODE_PERFORMANCE_GC_WEAKCB:
      return "weakcb";
    default:
      return "other";
  }
}

/** This thread's id (Linux), from /proc/thread-self -> "<pid>/task/<tid>". */
function threadId(): number {
  return Number(readlinkSync("/proc/thread-self").split("/").pop());
}

// ---------------------------------------------------------------------------
// Main thread: the clients.

/**
 * CPU time of a thread of this process, ms (schedstat: ns on a CPU). Load
 * on the shared machine stretches wall times, much less CPU times.
 */
function threadCpuMs(tid: number): number {
  try {
    const text = readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8");
    return Number(text.split(" ")[0]) / 1e6;
  } catch {
    return Number.NaN;
  }
}

function ask<T>(worker: Worker, kind: string, reply: string): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (msg: { kind: string }) => {
      if (msg.kind !== reply) return;
      worker.off("message", onMessage);
      resolve(msg as T);
    };
    worker.on("message", onMessage);
    worker.postMessage({ kind });
  });
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

/**
 * Probes /health every 10 ms until stopped, from a thread of its own (so
 * the clients' work on big bodies does not delay the probe); returns the
 * latencies.
 */
function healthProber(base: string): { ready: Promise<void>; stop: () => Promise<number[]> } {
  const code = `
    const { parentPort, workerData } = require("node:worker_threads");
    const latencies = [];
    let running = true;
    parentPort.on("message", () => { running = false; });
    (async () => {
      // Warm-up: undici's first request in a fresh thread (loading, connecting) is not the master's time.
      await (await fetch(workerData.base + "/health")).arrayBuffer();
      parentPort.postMessage("ready");
      while (running) {
        const start = performance.now();
        const res = await fetch(workerData.base + "/health");
        await res.arrayBuffer();
        latencies.push(performance.now() - start);
        await new Promise((r) => setTimeout(r, 10));
      }
      parentPort.postMessage({ latencies });
    })();
  `;
  const worker = new Worker(code, { eval: true, workerData: { base } });
  let result: (latencies: number[]) => void = () => {};
  const done = new Promise<number[]>((resolve) => {
    result = resolve;
  });
  const ready = new Promise<void>((resolve) => {
    worker.on("message", (msg: "ready" | { latencies: number[] }) => {
      if (msg === "ready") resolve();
      else {
        void worker.terminate();
        result(msg.latencies);
      }
    });
  });
  return {
    ready,
    stop: () => {
      worker.postMessage("stop");
      return done;
    },
  };
}

/**
 * One HTTP read with node:http, counting the body's bytes (as curl or a
 * streaming parser would take them). `fetch` is not used here: turning a
 * 20 MB body into an ArrayBuffer through web streams cost the client more
 * than the master spent serving it, and the client shares this machine.
 */
function read(base: string, path: string, method: "GET" | "POST", body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${base}${path}`,
      {
        method,
        agent: false,
        headers:
          body === undefined
            ? {}
            : { "Content-Type": "application/json", Accept: "application/json" },
      },
      (res) => {
        let bytes = 0;
        res.on("data", (chunk: Buffer) => {
          bytes += chunk.byteLength;
        });
        res.on("end", () =>
          res.statusCode === 200 ? resolve(bytes) : reject(new Error(`${path}: ${res.statusCode}`)),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * Subscribes to the operator event stream in `type` and reads until the
 * whole first record (SUBSCRIBED) arrived; returns its size in bytes.
 */
function readSubscribed(base: string, type: "json" | "protobuf"): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${base}/api/v1`,
      {
        method: "POST",
        agent: false,
        headers: {
          "Content-Type": "application/json",
          Accept: type === "json" ? "application/json" : "application/x-protobuf",
        },
      },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`SUBSCRIBE: ${res.statusCode}`));
          return;
        }
        let head = "";
        let need = -1;
        let got = 0;
        res.on("data", (chunk: Buffer) => {
          if (need < 0) {
            head += chunk.toString("latin1", 0, Math.min(chunk.byteLength, 32));
            const nl = head.indexOf("\n");
            if (nl < 0) return;
            need = nl + 1 + Number(head.slice(0, nl));
          }
          got += chunk.byteLength;
          if (got >= need) {
            req.destroy();
            resolve(need);
          }
        });
        res.on("error", () => {});
      },
    );
    req.on("error", (e) => {
      if (!req.destroyed) reject(e);
    });
    req.end('{"type":"SUBSCRIBE"}');
  });
}

function readState(base: string): Promise<number> {
  return read(base, "/master/state", "GET");
}

function readGetState(base: string): Promise<number> {
  return read(base, "/api/v1", "POST", '{"type":"GET_STATE"}');
}

/** Where the raw client reads into: one buffer for every read (they run one at a time). */
const rawBuffer = Buffer.allocUnsafe(1 << 20);

/**
 * One HTTP/1.1 read over a plain socket that only counts bytes until the
 * response is complete (its Content-Length, or the last chunk): the lean
 * client of the `raw_*` figures. It reads into one reusable buffer
 * (`onread`), so no Buffer is allocated per read; a node:http client (and
 * a plain socket's `data` events) allocates one per read and spends CPU
 * per body event, and on this shared 2-core machine that client time lands
 * in the wall time of the very read it measures.
 */
function rawRead(port: number, path: string, method: "GET" | "POST", body = ""): Promise<number> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    let head = "";
    let need = -1;
    let chunked = false;
    let tail = "";
    let settled = false;
    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (error === undefined) resolve(bytes);
      else reject(error);
    };
    const onRead = (n: number, buffer: Uint8Array): boolean => {
      if (settled) return false;
      bytes += n;
      if (need < 0 && !chunked) {
        head += Buffer.from(buffer.buffer, buffer.byteOffset, n).toString("latin1", 0, 4096);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return true;
        if (!head.startsWith("HTTP/1.1 200")) {
          finish(new Error(`${path}: ${head.slice(0, 12)}`));
          return false;
        }
        const length = /\r\ncontent-length: *(\d+)/i.exec(head.slice(0, end));
        if (length === null) chunked = true;
        else need = end + 4 + Number(length[1]);
      }
      let done: boolean;
      if (need >= 0) done = bytes >= need;
      else {
        const last = Buffer.from(buffer.buffer, buffer.byteOffset, n);
        tail = (tail + last.toString("latin1", Math.max(0, n - 5), n)).slice(-5);
        done = tail === "0\r\n\r\n";
      }
      if (done) finish();
      return !done;
    };
    const socket = connect({
      port,
      host: "127.0.0.1",
      onread: { buffer: rawBuffer, callback: onRead },
    });
    socket.on("connect", () => {
      const extra =
        method === "POST"
          ? "Content-Type: application/json\r\nAccept: application/json\r\n" +
            `Content-Length: ${Buffer.byteLength(body)}\r\n`
          : "";
      socket.write(
        `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${extra}\r\n${body}`,
      );
    });
    socket.on("error", (e) => finish(e));
    socket.on("close", () => finish(new Error(`${path}: closed after ${bytes} bytes`)));
  });
}

/** True when a `curl` binary runs here. */
function haveCurl(): boolean {
  try {
    execFileSync("curl", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * One read with curl (what operators use: a C client with a small per-byte
 * cost), body to /dev/null. The time is curl's own `time_total` (connect to
 * last byte; its process start is not in it); resolves with it and the
 * body's size.
 */
function curlRead(
  port: number,
  path: string,
  method: "GET" | "POST",
  body?: string,
  compressed = false,
): Promise<{ bytes: number; ms: number }> {
  const args = ["-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total} %{size_download}"];
  // --compressed: curl asks for gzip (among others) and inflates what comes back.
  if (compressed) args.push("--compressed");
  if (method === "POST") {
    args.push("-H", "Content-Type: application/json", "-H", "Accept: application/json");
    args.push("--data-binary", body ?? "");
  }
  args.push(`http://127.0.0.1:${port}${path}`);
  return new Promise((resolve, reject) => {
    execFile("curl", args, (error, stdout) => {
      if (error !== null) {
        reject(error);
        return;
      }
      const [code, seconds, size] = stdout.trim().split(" ");
      if (code !== "200") reject(new Error(`${path}: curl got ${code}`));
      else resolve({ bytes: Number(size), ms: Number(seconds) * 1000 });
    });
  });
}

/**
 * The transfer floor of the v1/v0 ratio: the same node:http server stack,
 * in a worker thread as the master is, answering with prebuilt buffers of
 * exactly the two documents' sizes (64 KB parts, Content-Length) and doing
 * no other work. Read with the raw client and curl, alternating as the
 * real rounds do. Whatever the master does, its v1/v0 cannot be much
 * below this: the v1 document is Mesos' encoding, about twice the bytes.
 */
async function transferFloor(
  v0Bytes: number,
  v1Bytes: number,
  rounds: number,
  curl: boolean,
): Promise<Record<string, number>> {
  const code = `
    const { parentPort, workerData } = require("node:worker_threads");
    const http = require("node:http");
    const parts = (n) => {
      const out = [];
      for (; n > 0; n -= 65536) out.push(Buffer.alloc(Math.min(n, 65536), 0x61));
      return out;
    };
    const docs = { "/v0": parts(workerData.v0), "/v1": parts(workerData.v1) };
    const server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        const doc = docs[req.url];
        let length = 0;
        for (const p of doc) length += p.length;
        res.writeHead(200, { "Content-Type": "application/json", "Content-Length": length });
        for (const p of doc) res.write(p);
        res.end();
      });
    });
    server.listen(0, "127.0.0.1", () => parentPort.postMessage(server.address().port));
  `;
  const worker = new Worker(code, { eval: true, workerData: { v0: v0Bytes, v1: v1Bytes } });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once("error", reject);
    worker.once("message", (p: number) => resolve(p));
  });
  const body = '{"type":"GET_STATE"}';
  const raw0: number[] = [];
  const raw1: number[] = [];
  const curl0: number[] = [];
  const curl1: number[] = [];
  const reads: [number[], () => Promise<number>][] = [
    [raw0, () => timed(() => rawRead(port, "/v0", "GET"))],
    [raw1, () => timed(() => rawRead(port, "/v1", "POST", body))],
  ];
  if (curl) {
    reads.push(
      [curl0, async () => (await curlRead(port, "/v0", "GET")).ms],
      [curl1, async () => (await curlRead(port, "/v1", "POST", body)).ms],
    );
  }
  // One untimed pass: the first reads of a fresh thread load and compile code.
  for (const [, read] of reads) await read();
  for (let i = 0; i < rounds; i++) {
    for (const [into, read] of i % 2 === 0 ? reads : [...reads].reverse()) into.push(await read());
  }
  await worker.terminate();
  return {
    floor_raw_state_ms: round(median(raw0)),
    floor_raw_get_state_ms: round(median(raw1)),
    floor_raw_v1_v0: round(median(raw1) / median(raw0)),
    ...(curl
      ? {
          floor_curl_state_ms: round(median(curl0)),
          floor_curl_get_state_ms: round(median(curl1)),
          floor_curl_v1_v0: round(median(curl1) / median(curl0)),
        }
      : {}),
  };
}

async function measureSize(agents: number): Promise<void> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { agents } });
  const ready = await new Promise<WorkerReady>((resolve, reject) => {
    worker.once("error", reject);
    worker.on("message", (msg: { kind: string }) => {
      if (msg.kind === "ready") resolve(msg as WorkerReady);
    });
  });
  const base = `http://127.0.0.1:${ready.port}`;

  // Unloaded: /health alone for 2 s.
  await ask(worker, "monitor", "monitoring");
  const idle = healthProber(base);
  await idle.ready;
  await new Promise((r) => setTimeout(r, 2000));
  const idleHealth = await idle.stop();
  const idleStats = await ask<WorkerStats>(worker, "stats", "stats");

  // First (cold fragments) reads, /health probed meanwhile.
  await ask(worker, "monitor", "monitoring");
  const coldProber = healthProber(base);
  await coldProber.ready;
  const firstV0 = await timed(() => readState(base));
  const firstV1 = await timed(() => readGetState(base));
  const coldHealth = await coldProber.stop();
  const cold = await ask<WorkerStats>(worker, "stats", "stats");

  // One client in a row, under churn; the master thread's CPU time per read.
  // Each round reads v0 and v1 with node:http, with the raw client and with
  // curl, in an order that alternates between rounds (so neither document
  // always follows the other), and the ratios are also taken per round.
  const rounds = agents >= 10_000 ? 8 : 20;
  const curl = haveCurl();
  const v0: number[] = [];
  const v1: number[] = [];
  const v0Cpu: number[] = [];
  const v1Cpu: number[] = [];
  const raw0: number[] = [];
  const raw1: number[] = [];
  const raw0Cpu: number[] = [];
  const raw1Cpu: number[] = [];
  const raw0Client: number[] = [];
  const raw1Client: number[] = [];
  const curl0: number[] = [];
  const curl1: number[] = [];
  const curl0Cpu: number[] = [];
  const curl1Cpu: number[] = [];
  const gz0: number[] = [];
  const gz1: number[] = [];
  const gz0Cpu: number[] = [];
  const gz1Cpu: number[] = [];
  let gz0Bytes = 0;
  let gz1Bytes = 0;
  // The first compressed reads compress every part of the documents (later
  // ones only the parts a rebuild made new): timed apart, before the rounds.
  let firstGz0 = Number.NaN;
  let firstGz1 = Number.NaN;
  if (curl) {
    firstGz0 = (await curlRead(ready.port, "/master/state", "GET", undefined, true)).ms;
    firstGz1 = (await curlRead(ready.port, "/api/v1", "POST", '{"type":"GET_STATE"}', true)).ms;
  }
  // The client's (this thread's) CPU per read: receiving the body is work
  // the master does not control, and it grows with the bytes.
  const clientTid = threadId();
  const v0ClientCpu: number[] = [];
  const v1ClientCpu: number[] = [];
  let v0Bytes = 0;
  let v1Bytes = 0;
  type Sample = { wall: number[]; cpu: number[]; client: number[] };
  /** A read resolves with the body's size, or with that and its own time (curl's). */
  type ReadOnce = () => Promise<number | { bytes: number; ms: number }>;
  // The same document as node:http read (churn moves its size by a few bytes).
  const expect = (want: () => number) => (bytes: number) => {
    if (Math.abs(bytes - want()) > want() / 100) {
      throw new Error(`curl read ${bytes} bytes, node:http ${want()}`);
    }
  };
  const reads: [Sample, ReadOnce, (bytes: number) => void][] = [
    [{ wall: v0, cpu: v0Cpu, client: v0ClientCpu }, () => readState(base), (b) => (v0Bytes = b)],
    [{ wall: v1, cpu: v1Cpu, client: v1ClientCpu }, () => readGetState(base), (b) => (v1Bytes = b)],
    [
      { wall: raw0, cpu: raw0Cpu, client: raw0Client },
      () => rawRead(ready.port, "/master/state", "GET"),
      () => {},
    ],
    [
      { wall: raw1, cpu: raw1Cpu, client: raw1Client },
      () => rawRead(ready.port, "/api/v1", "POST", '{"type":"GET_STATE"}'),
      () => {},
    ],
  ];
  if (curl) {
    reads.push(
      [
        { wall: curl0, cpu: curl0Cpu, client: [] },
        () => curlRead(ready.port, "/master/state", "GET"),
        expect(() => v0Bytes),
      ],
      [
        { wall: curl1, cpu: curl1Cpu, client: [] },
        () => curlRead(ready.port, "/api/v1", "POST", '{"type":"GET_STATE"}'),
        expect(() => v1Bytes),
      ],
      [
        { wall: gz0, cpu: gz0Cpu, client: [] },
        () => curlRead(ready.port, "/master/state", "GET", undefined, true),
        (b) => (gz0Bytes = b),
      ],
      [
        { wall: gz1, cpu: gz1Cpu, client: [] },
        () => curlRead(ready.port, "/api/v1", "POST", '{"type":"GET_STATE"}', true),
        (b) => (gz1Bytes = b),
      ],
    );
  }
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? reads : [...reads].reverse();
    for (const [sample, readOnce, keep] of order) {
      // Every timed read follows a state change, so each one rebuilds (from
      // cached runs) rather than some hitting a document another read just built.
      await ask(worker, "bump", "bumped");
      const cpu = threadCpuMs(ready.tid);
      const client = threadCpuMs(clientTid);
      let own: number | undefined;
      const wall = await timed(async () => {
        const got = await readOnce();
        if (typeof got === "number") keep(got);
        else {
          own = got.ms;
          // node:http's reads come first in even rounds: check sizes once known.
          if (v0Bytes > 0 && v1Bytes > 0) keep(got.bytes);
        }
      });
      sample.wall.push(own ?? wall);
      sample.cpu.push(threadCpuMs(ready.tid) - cpu);
      sample.client.push(threadCpuMs(clientTid) - client);
    }
  }
  const paired = (a: readonly number[], b: readonly number[]): number[] =>
    a.map((x, i) => x / (b[i] as number));
  const httpRatios = paired(v1, v0);
  const rawRatios = paired(raw1, raw0);
  const curlRatios = paired(curl1, curl0);
  const curlFigures: Record<string, number | string> = curl
    ? {
        curl_state_ms: round(median(curl0)),
        curl_get_state_ms: round(median(curl1)),
        curl_v1_v0: round(median(curl1) / median(curl0)),
        curl_v1_v0_p10: round(percentile(curlRatios, 0.1)),
        curl_v1_v0_p90: round(percentile(curlRatios, 0.9)),
        curl_cpu_v1_v0: round(median(curl1Cpu) / median(curl0Cpu)),
        curl_cpu_state_ms: round(median(curl0Cpu)),
        curl_cpu_get_state_ms: round(median(curl1Cpu)),
        first_gz_state_ms: round(firstGz0),
        first_gz_get_state_ms: round(firstGz1),
        gz_state_mb: round(gz0Bytes / 2 ** 20),
        gz_get_state_mb: round(gz1Bytes / 2 ** 20),
        curlgz_state_ms: round(median(gz0)),
        curlgz_get_state_ms: round(median(gz1)),
        curlgz_v1_v0: round(median(gz1) / median(gz0)),
        curlgz_v1_v0_p10: round(percentile(paired(gz1, gz0), 0.1)),
        curlgz_v1_v0_p90: round(percentile(paired(gz1, gz0), 0.9)),
        curlgz_cpu_state_ms: round(median(gz0Cpu)),
        curlgz_cpu_get_state_ms: round(median(gz1Cpu)),
      }
    : { curl_v1_v0: "skipped: no curl binary" };
  const v0Median = median(v0);
  const v1Median = median(v1);
  const v0CpuMedian = median(v0Cpu);
  const v1CpuMedian = median(v1Cpu);
  const v0Mb = v0Bytes / 2 ** 20;
  const v1Mb = v1Bytes / 2 ** 20;

  // Concurrent clients, /health probed every 10 ms.
  const concurrent: Record<string, number | string> = {};
  let loaded4: { health: number[]; stats: WorkerStats } | undefined;
  let loopMax = cold.loopMaxMs;
  let gcMax = cold.gcMaxMs;
  let blockCpu = cold.blockCpuMs;
  for (const clients of [2, 4, 8]) {
    await ask(worker, "monitor", "monitoring");
    const prober = healthProber(base);
    await prober.ready;
    const latencies: number[] = [];
    const perClient = agents >= 10_000 ? 3 : 6;
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        for (let i = 0; i < perClient; i++) {
          latencies.push(await timed(() => (c % 2 === 0 ? readState(base) : readGetState(base))));
        }
      }),
    );
    const health = await prober.stop();
    const stats = await ask<WorkerStats>(worker, "stats", "stats");
    concurrent[`c${clients}_state_p50_ms`] = round(median(latencies));
    concurrent[`c${clients}_state_p99_ms`] = round(percentile(latencies, 0.99));
    concurrent[`c${clients}_health_p99_ms`] = round(percentile(health, 0.99));
    concurrent[`c${clients}_loop_max_ms`] = round(stats.loopMaxMs);
    concurrent[`c${clients}_gc_max_ms`] = round(stats.gcMaxMs);
    concurrent[`c${clients}_block_cpu_ms`] = round(stats.blockCpuMs);
    blockCpu = Math.max(blockCpu, stats.blockCpuMs);
    loopMax = Math.max(loopMax, stats.loopMaxMs);
    gcMax = Math.max(gcMax, stats.gcMaxMs);
    if (clients === 4) loaded4 = { health, stats };
  }
  // Operator SUBSCRIBE, /health probed meanwhile; then the former one-piece encoding.
  const subscribe: Record<string, number> = {};
  for (const type of ["json", "protobuf"] as const) {
    await ask(worker, "monitor", "monitoring");
    const prober = healthProber(base);
    await prober.ready;
    let bytes = 0;
    const ms = await timed(async () => {
      bytes = await readSubscribed(base, type);
    });
    const health = await prober.stop();
    const stats = await ask<WorkerStats>(worker, "stats", "stats");
    const key = type === "json" ? "sub_json" : "sub_pb";
    subscribe[`${key}_ms`] = round(ms);
    subscribe[`${key}_mb`] = round(bytes / 2 ** 20, 1);
    subscribe[`${key}_loop_max_ms`] = round(stats.loopMaxMs);
    subscribe[`${key}_block_cpu_ms`] = round(stats.blockCpuMs);
    subscribe[`${key}_health_p99_ms`] = round(percentile(health, 0.99));
  }
  const onePiece = await ask<{ ms: number; bytes: number }>(
    worker,
    "one-piece-subscribed",
    "one-piece",
  );
  subscribe.sub_pb_one_piece_block_ms = round(onePiece.ms);
  subscribe.sub_pb_one_piece_mb = round(onePiece.bytes / 2 ** 20, 1);
  const built = await ask<{ v0: number; v1: number }>(worker, "builds", "built");
  const final = await ask<WorkerStats>(worker, "stats", "stats");
  await ask(worker, "stop", "stopped");
  await worker.terminate();
  const floor = await transferFloor(v0Bytes, v1Bytes, rounds, curl);

  const idleP99 = percentile(idleHealth, 0.99);
  const loadedP99 = percentile(loaded4?.health ?? [], 0.99);
  reportCase(
    "master-state",
    `${agents} agents x ${RUNNING_PER_AGENT}+${COMPLETED_PER_AGENT} tasks, churn 100/s`,
    {
      tasks: ready.tasks,
      state_mb: round(v0Bytes / 2 ** 20, 1),
      get_state_mb: round(v1Bytes / 2 ** 20, 1),
      stringify_ms: round(ready.stringifyMs),
      first_state_ms: round(firstV0),
      first_get_state_ms: round(firstV1),
      state_ms: round(v0Median),
      get_state_ms: round(v1Median),
      cold_health_p99_ms: round(percentile(coldHealth, 0.99)),
      cold_loop_max_ms: round(cold.loopMaxMs),
      cold_block_cpu_ms: round(cold.blockCpuMs),
      cold_gc_max_ms: round(cold.gcMaxMs),
      cold_gc_max_kind: cold.gcMaxKind,
      cold_gc_total_ms: round(cold.gcTotalMs),
      overhead: round(v0Median / ready.stringifyMs),
      v1_v0: round(v1Median / v0Median),
      v1_v0_p10: round(percentile(httpRatios, 0.1)),
      v1_v0_p90: round(percentile(httpRatios, 0.9)),
      raw_state_ms: round(median(raw0)),
      raw_get_state_ms: round(median(raw1)),
      raw_v1_v0: round(median(raw1) / median(raw0)),
      raw_v1_v0_p10: round(percentile(rawRatios, 0.1)),
      raw_v1_v0_p90: round(percentile(rawRatios, 0.9)),
      raw_cpu_v1_v0: round(median(raw1Cpu) / median(raw0Cpu)),
      raw_client_cpu_state_ms: round(median(raw0Client)),
      raw_client_cpu_get_state_ms: round(median(raw1Client)),
      ...curlFigures,
      rounds,
      bytes_v1_v0: round(v1Bytes / v0Bytes),
      state_ms_per_mb: round(v0Median / v0Mb),
      get_state_ms_per_mb: round(v1Median / v1Mb),
      cpu_state_ms: round(v0CpuMedian),
      cpu_get_state_ms: round(v1CpuMedian),
      cpu_v1_v0: round(v1CpuMedian / v0CpuMedian),
      cpu_per_mb_v1_v0: round(v1CpuMedian / v1Mb / (v0CpuMedian / v0Mb)),
      client_cpu_state_ms: round(median(v0ClientCpu)),
      client_cpu_get_state_ms: round(median(v1ClientCpu)),
      client_cpu_v1_v0: round(median(v1ClientCpu) / median(v0ClientCpu)),
      build_state_ms: round(built.v0),
      build_get_state_ms: round(built.v1),
      build_v1_v0: round(built.v1 / built.v0),
      ...concurrent,
      health_p99_idle_ms: round(idleP99),
      health_p99_c4_ms: round(loadedP99),
      health_p99_c4_over_state: round(loadedP99 / v0Median),
      health_p99_c4_over_idle: round(loadedP99 / idleP99),
      loop_p99_idle_ms: round(idleStats.loopP99Ms),
      loop_p99_c4_ms: round(loaded4?.stats.loopP99Ms ?? Number.NaN),
      loop_p99_c4_over_idle: round(
        (loaded4?.stats.loopP99Ms ?? Number.NaN) / Math.max(idleStats.loopP99Ms, 1),
      ),
      longest_block_ms: round(Math.max(final.longestSliceMs, loopMax)),
      longest_block_cpu_ms: round(blockCpu),
      gc_max_ms: round(gcMax),
      longest_slice_ms: round(final.longestSliceMs),
      ...subscribe,
      ...floor,
      builds: final.builds,
      joined_reads: final.joined,
    },
  );
}

/** Runs the sizes given (agent counts), default 1,000, 5,000 and 10,000 (the sizes). */
export async function run(args: string[]): Promise<void> {
  const sizes = args.length > 0 ? args.map(Number).filter((n) => n > 0) : [1000, 5000, 10_000];
  for (const agents of sizes) await measureSize(agents);
}

if (!isMainThread) {
  void masterWorker((workerData as { agents: number }).agents);
}

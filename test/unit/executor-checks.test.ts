import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { ManualClock } from "../../src/common/time/clock.js";
import { checkTiming, healthCheckTiming } from "../../src/executor/checks/check-info.js";
import { Checker, checkResultOf } from "../../src/executor/checks/checker.js";
import { HealthChecker, type HealthReport } from "../../src/executor/checks/health-checker.js";
import type { ProbeResult, Prober } from "../../src/executor/checks/probe.js";
import { httpStatusHealthy } from "../../src/executor/checks/probe.js";
import { healthCheckProber, httpProber, tcpProber } from "../../src/executor/checks/probers.js";

/** A prober whose results the test scripts; `pending` probes never settle (to test timeouts). */
function scripted(kind: Prober["kind"], results: (ProbeResult | "pending")[]) {
  let started = 0;
  let cancelled = 0;
  const prober: Prober = {
    kind,
    start() {
      const r = results[started++] ?? "pending";
      return {
        result: r === "pending" ? new Promise<ProbeResult>(() => {}) : Promise.resolve(r),
        cancel: () => {
          cancelled++;
        },
      };
    },
  };
  return {
    prober,
    get started() {
      return started;
    },
    get cancelled() {
      return cancelled;
    },
  };
}

const flush = () => new Promise<void>((r) => setImmediate(r));

async function step(clock: ManualClock, ms: number): Promise<void> {
  clock.advance(ms);
  await flush();
}

const ok: ProbeResult = { exitCode: 0 };
const bad: ProbeResult = { exitCode: 1 };

test("checks: defaults are Mesos' (15 s delay, 10 s interval, 20 s timeout, 3 failures, 10 s grace)", () => {
  assert.deepEqual(healthCheckTiming({}), {
    delayMs: 15_000,
    intervalMs: 10_000,
    timeoutMs: 20_000,
    consecutiveFailures: 3,
    gracePeriodMs: 10_000,
  });
  assert.deepEqual(checkTiming({ delay_seconds: 0.5, interval_seconds: 1, timeout_seconds: 0 }), {
    delayMs: 500,
    intervalMs: 1000,
    timeoutMs: 0,
  });
});

test("health: the first probe runs after delay_seconds, the next interval_seconds after it ended", async () => {
  const clock = new ManualClock();
  const s = scripted("COMMAND", [ok, ok, ok]);
  const reports: HealthReport[] = [];
  const timing = { ...healthCheckTiming({}), delayMs: 1000, intervalMs: 500, gracePeriodMs: 0 };
  const hc = new HealthChecker(clock, s.prober, timing, (r) => reports.push(r));
  hc.start();
  await step(clock, 999);
  assert.equal(s.started, 0);
  await step(clock, 1);
  assert.equal(s.started, 1);
  await step(clock, 499);
  assert.equal(s.started, 1);
  await step(clock, 1);
  assert.equal(s.started, 2);
  // Only the first success is reported.
  assert.deepEqual(reports, [{ healthy: true, consecutiveFailures: 0, killTask: false }]);
  hc.stop();
  await step(clock, 10_000);
  assert.equal(s.started, 2);
});

test("health: failures inside the grace period are ignored until the task was healthy once", async () => {
  const clock = new ManualClock();
  const s = scripted("HTTP", [{ error: "refused" }, { statusCode: 503 }, { statusCode: 503 }]);
  const reports: HealthReport[] = [];
  const timing = {
    delayMs: 0,
    intervalMs: 1000,
    timeoutMs: 0,
    consecutiveFailures: 3,
    gracePeriodMs: 1500,
  };
  new HealthChecker(clock, s.prober, timing, (r) => reports.push(r)).start();
  await step(clock, 0); // t=0: ignored
  await step(clock, 1000); // t=1000: ignored
  assert.deepEqual(reports, []);
  await step(clock, 1000); // t=2000: outside the grace period
  assert.deepEqual(reports, [{ healthy: false, consecutiveFailures: 1, killTask: false }]);
});

test("health: after consecutive_failures failures the report asks to kill; a success in between resets", async () => {
  const clock = new ManualClock();
  const s = scripted("COMMAND", [ok, bad, ok, bad, bad, bad]);
  const reports: HealthReport[] = [];
  const timing = {
    delayMs: 0,
    intervalMs: 10,
    timeoutMs: 0,
    consecutiveFailures: 3,
    gracePeriodMs: 0,
  };
  new HealthChecker(clock, s.prober, timing, (r) => reports.push(r)).start();
  for (let i = 0; i < 6; i++) await step(clock, i === 0 ? 0 : 10);
  assert.deepEqual(
    reports.map((r) => [r.healthy, r.consecutiveFailures, r.killTask]),
    [
      [true, 0, false],
      [false, 1, false],
      [true, 0, false],
      [false, 1, false],
      [false, 2, false],
      [false, 3, true],
    ],
  );
});

test("health: a probe that outlives timeout_seconds is cancelled and counts as a failure", async () => {
  const clock = new ManualClock();
  const s = scripted("TCP", ["pending", { connected: true }]);
  const reports: HealthReport[] = [];
  const timing = {
    delayMs: 0,
    intervalMs: 100,
    timeoutMs: 50,
    consecutiveFailures: 1,
    gracePeriodMs: 0,
  };
  new HealthChecker(clock, s.prober, timing, (r) => reports.push(r)).start();
  await step(clock, 0);
  await step(clock, 49);
  assert.deepEqual(reports, []);
  await step(clock, 1);
  assert.equal(s.cancelled, 1);
  assert.deepEqual(reports, [{ healthy: false, consecutiveFailures: 1, killTask: true }]);
  await step(clock, 100);
  assert.equal((reports as HealthReport[]).at(-1)?.healthy, true);
});

test("check: only changed results are reported; errors report the empty status", async () => {
  const clock = new ManualClock();
  const s = scripted("COMMAND", [
    { exitCode: 1 },
    { exitCode: 1 },
    { exitCode: 0 },
    { error: "x" },
  ]);
  const seen: unknown[] = [];
  const c = new Checker(clock, s.prober, { delayMs: 0, intervalMs: 10, timeoutMs: 0 }, (r) =>
    seen.push(r),
  );
  assert.deepEqual(c.latest, { type: "COMMAND", command: {} });
  c.start();
  for (let i = 0; i < 4; i++) await step(clock, i === 0 ? 0 : 10);
  assert.deepEqual(seen, [
    { type: "COMMAND", command: { exit_code: 1 } },
    { type: "COMMAND", command: { exit_code: 0 } },
    { type: "COMMAND", command: {} },
  ]);
});

test("check: results per type", () => {
  assert.deepEqual(checkResultOf("TCP", { connected: false }), {
    type: "TCP",
    tcp: { succeeded: false },
  });
  assert.deepEqual(checkResultOf("HTTP", { statusCode: 404 }), {
    type: "HTTP",
    http: { status_code: 404 },
  });
  assert.deepEqual(checkResultOf("HTTP", { error: "refused" }), { type: "HTTP", http: {} });
  assert.equal(httpStatusHealthy(200), true);
  assert.equal(httpStatusHealthy(399), true);
  assert.equal(httpStatusHealthy(400), false);
  assert.equal(httpStatusHealthy(199), false);
});

test("probers: HTTP reads the status code, TCP connects, COMMAND runs in the task environment", async () => {
  let status = 204;
  const server = createServer((req, res) => {
    res.statusCode = req.url === "/health" ? status : 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  try {
    assert.deepEqual(await httpProber(`http://127.0.0.1:${port}/health`).start().result, {
      statusCode: 204,
    });
    status = 500;
    assert.deepEqual(await httpProber(`http://127.0.0.1:${port}/health`).start().result, {
      statusCode: 500,
    });
    assert.deepEqual(await tcpProber(port).start().result, { connected: true });
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
  assert.deepEqual(await tcpProber(port).start().result, { connected: false });
  const cmd = healthCheckProber(
    { type: "COMMAND", command: { value: 'test "$PROBE_VAR" = yes' } },
    { launch: { baseEnv: { PATH: process.env.PATH, PROBE_VAR: "yes" } } },
  );
  assert.ok(typeof cmd !== "string");
  assert.deepEqual(await cmd.start().result, { exitCode: 0 });
  // A port no request can reach makes a probe that fails (Mesos' curl fails too).
  const noPort = healthCheckProber(
    { type: "HTTP", http: { port: 0 } },
    { launch: { baseEnv: {} } },
  );
  assert.ok(typeof noPort !== "string");
  assert.match((await noPort.start().result).error ?? "", /invalid port 0/);
});

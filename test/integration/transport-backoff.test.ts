/**
 * Reconnect timing of outbound peer connections, driven by a manual clock
 * (connects are real; only the waits between attempts are controlled).
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../src/common/observability/logger.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import { ProcessBase, rawBody } from "../../src/common/process/process-base.js";
import { ProcessHost } from "../../src/common/process/process-host.js";
import { Upid } from "../../src/common/process/upid.js";
import { type Clock, ManualClock, SystemClock } from "../../src/common/time/clock.js";

const hosts: ProcessHost[] = [];
after(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
});

async function startHost(
  clock: Clock,
  logger: Logger = silentLogger,
  port = 0,
): Promise<ProcessHost> {
  const host = new ProcessHost({
    logger,
    clock,
    listen: {
      bindIp: "127.0.0.1",
      bindPort: port,
      advertiseIp: undefined,
      advertisePort: undefined,
    },
    backoff: { initialMs: 100, maxMs: 400, giveUpAfterFailures: 4 },
  });
  await host.start();
  hosts.push(host);
  return host;
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** A loopback port with nothing listening (a host bound it, then stopped). */
async function freePort(): Promise<number> {
  const h = await startHost(new SystemClock());
  const port = h.boundPort;
  await h.stop();
  return port;
}

test("backoff: failed connects are retried after doubling waits, then queued messages are dropped", async () => {
  const clock = new ManualClock();
  const warnings: string[] = [];
  const logger: Logger = { ...silentLogger, warn: (m) => warnings.push(m) };
  const a = await startHost(clock, logger);
  const master = a.spawn(new ProcessBase("master"));
  const port = await freePort();
  const dead = new Upid("slave(1)", "127.0.0.1", port);
  const failures = (): number => a.peerStats().get(dead.address)?.connectFailures ?? -1;

  for (let i = 0; i < 3; i++) master.send(dead, "m", Buffer.from([i]));
  await waitFor("first failure", () => failures() === 1);
  assert.equal(clock.pendingTimers, 1);
  clock.advance(99);
  await sleep(20);
  assert.equal(failures(), 1, "no attempt before the first wait is over");
  clock.advance(1);
  await waitFor("second failure", () => failures() === 2);
  clock.advance(199);
  await sleep(20);
  assert.equal(failures(), 2, "the second wait is twice the first");
  clock.advance(1);
  await waitFor("third failure", () => failures() === 3);
  clock.advance(400);
  await waitFor("queued messages dropped", () => warnings.some((w) => /Dropped 3 message/.test(w)));
  assert.equal(clock.pendingTimers, 0, "no retrying once nothing is waiting");
  assert.ok(warnings.some((w) => /peer unreachable after 4 attempts/.test(w)));
});

test("backoff: messages queued while the peer is down arrive in order once it is up", async () => {
  const clock = new ManualClock();
  const a = await startHost(clock);
  const master = a.spawn(new ProcessBase("master"));
  const port = await freePort();
  const pid = new Upid("slave(1)", "127.0.0.1", port);
  for (let i = 0; i < 5; i++) master.send(pid, "m", Buffer.from([i]));
  await waitFor("first failure", () => a.peerStats().get(pid.address)?.connectFailures === 1);

  const b = await startHost(new SystemClock(), silentLogger, port);
  const agent = b.spawn(new ProcessBase("slave(1)"));
  const got: number[] = [];
  agent.install("m", rawBody, (_f, body) => got.push(body[0] ?? -1));
  master.send(pid, "m", Buffer.from([5]));
  clock.advance(100);
  await waitFor("delivery after reconnect", () => got.length === 6);
  assert.deepEqual(got, [0, 1, 2, 3, 4, 5]);
});

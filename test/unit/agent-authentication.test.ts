import assert from "node:assert/strict";
import { after, test } from "node:test";
import { withAgentAuthentication } from "../../src/common/auth/agent-authentication.js";
import type { Logger } from "../../src/common/observability/logger.js";
import { ProcessHost } from "../../src/common/process/process-host.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { systemRandom } from "../../src/common/time/random.js";
import { freePort } from "../harness/processes.js";

const hosts: ProcessHost[] = [];
after(async () => {
  for (const h of hosts) await h.stop();
});

test("agent authentication: an unanswered handshake is retried after a random time whose range doubles (Mesos' --authentication_timeout_min|max, --authentication_backoff_factor)", async () => {
  const clock = new ManualClock();
  const host = new ProcessHost({
    logger: { info: () => {}, warn: () => {}, error: () => {}, verbose: () => {} },
    clock,
    listen: { bindIp: "127.0.0.1", bindPort: 0, advertiseIp: undefined, advertisePort: undefined },
    delegate: "slave(1)",
    tls: null,
  });
  await host.start();
  hosts.push(host);
  const warnings: string[] = [];
  const logger: Logger = {
    info: () => {},
    warn: (m) => warnings.push(m),
    error: () => {},
    verbose: () => {},
  };
  const sent: string[] = [];
  const transport = withAgentAuthentication(
    { send: (_to, type) => sent.push(type), link: () => {} },
    {
      host,
      self: () => `slave(1)@127.0.0.1:${host.boundPort}`,
      credential: { principal: "agent", secret: "s" },
      logger,
      clock,
      // The middle of each range: timeouts are min + (max - min) / 2.
      random: { ...systemRandom, next: () => 0.5 },
      timeouts: { minMs: 5000, maxMs: 20_000, backoffFactorMs: 1000 },
    },
  );
  // Nobody answers at this address: every handshake times out.
  const master = `master@127.0.0.1:${await freePort()}`;
  transport.send(master, "mesos.internal.RegisterSlaveMessage", {
    slave: { hostname: "h", resources: [] },
  });
  const timedOut = () => warnings.filter((w) => w.includes("timed out")).length;
  // Ranges [5, 7], [5, 9], [5, 13], [5, 20] (capped) seconds: timeouts 6, 7, 9, 12.5, 12.5.
  for (const [i, timeout] of [6000, 7000, 9000, 12_500, 12_500].entries()) {
    clock.advance(timeout - 1);
    assert.equal(timedOut(), i, `attempt ${i + 1} still waits`);
    clock.advance(1);
    assert.equal(timedOut(), i + 1, `attempt ${i + 1} timed out after ${timeout} ms`);
  }
  // A new registration while a handshake is under way does not start another one.
  transport.send(master, "mesos.internal.RegisterSlaveMessage", {
    slave: { hostname: "h", resources: [] },
  });
  clock.advance(12_499);
  assert.equal(timedOut(), 5);
  assert.deepEqual(sent, [], "the registration waits for a successful handshake");
  // Other messages pass straight through.
  transport.send(master, "mesos.internal.PongSlaveMessage", {});
  assert.deepEqual(sent, ["mesos.internal.PongSlaveMessage"]);
});

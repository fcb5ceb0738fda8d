/**
 * Idle peer connections stay up: Node's HTTP server would close a silent
 * keep-alive connection after 5 s by default, which a libprocess peer would
 * see as our failure. This waits past that default, so it lives in its own file.
 */
import assert from "node:assert/strict";
import { connect as tcpConnect } from "node:net";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { silentLogger } from "../../src/common/observability/logger.js";
import { ProcessBase, rawBody } from "../../src/common/process/process-base.js";
import { ProcessHost } from "../../src/common/process/process-host.js";
import { SystemClock } from "../../src/common/time/clock.js";

const hosts: ProcessHost[] = [];
after(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
});

async function startHost(): Promise<ProcessHost> {
  const host = new ProcessHost({
    logger: silentLogger,
    clock: new SystemClock(),
    listen: { bindIp: "127.0.0.1", bindPort: 0, advertiseIp: undefined, advertisePort: undefined },
  });
  await host.start();
  hosts.push(host);
  return host;
}

test("keep-alive: an idle peer connection survives Node's default 5 s keep-alive timeout", {
  timeout: 30_000,
}, async () => {
  const a = await startHost();
  const b = await startHost();
  const master = a.spawn(new ProcessBase("master"));
  const agent = b.spawn(new ProcessBase("slave(1)"));
  let got = 0;
  const exited: string[] = [];
  master.install("ping", rawBody, () => got++);
  agent.onExited((pid) => exited.push(pid.toString()));
  agent.link(master.self);
  agent.send(master.self, "ping", Buffer.from("1"));

  // A plain HTTP client holding a keep-alive connection too.
  const client = tcpConnect(a.boundPort, "127.0.0.1");
  let clientClosed = false;
  client.on("close", () => {
    clientClosed = true;
  });
  client.on("data", () => {});
  client.write("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n");
  after(() => client.destroy());

  await sleep(6_500);
  agent.send(master.self, "ping", Buffer.from("2"));
  const deadline = Date.now() + 5_000;
  while (got < 2 && Date.now() < deadline) await sleep(5);
  assert.equal(got, 2);
  assert.equal(
    b.peerStats().get(a.address)?.connects,
    1,
    "the same connection carried both messages",
  );
  assert.deepEqual(exited, []);
  assert.equal(clientClosed, false);
});

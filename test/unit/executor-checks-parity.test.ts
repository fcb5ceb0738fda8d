/**
 * Probe and timing details where Mesos' checker library sets the rule:
 * HTTP probes follow redirects as `curl -L` does, and
 * `consecutive_failures: 0` kills on the first counted failure, IPv6
 * health checks probe ::1, and check commands write to the executor's stderr.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ManualClock } from "../../src/common/time/clock.js";
import { healthCheckTiming } from "../../src/executor/checks/check-info.js";
import { HealthChecker, type HealthReport } from "../../src/executor/checks/health-checker.js";
import type { Prober } from "../../src/executor/checks/probe.js";
import {
  checkProber,
  healthCheckProber,
  httpProber,
  imageRootOf,
  MAX_HTTP_REDIRECTS,
} from "../../src/executor/checks/probers.js";
import { closeServer, listenOnLoopback } from "../harness/loopback-server.js";

test("HTTP probe: redirects are followed (relative and absolute Location); a 3xx without Location is the result", async () => {
  let hops = 0;
  const server = createServer((req, res) => {
    const url = req.url ?? "/";
    if (url === "/relative") {
      res.writeHead(302, { Location: "target" });
    } else if (url === "/absolute") {
      const { port } = server.address() as AddressInfo;
      res.writeHead(301, { Location: `http://127.0.0.1:${port}/relative` });
    } else if (url === "/target") {
      res.writeHead(204);
    } else if (url === "/gone") {
      res.writeHead(307, { Location: "/nowhere" });
    } else if (url === "/bare") {
      res.writeHead(304);
    } else if (url === "/loop") {
      hops++;
      res.writeHead(302, { Location: "/loop" });
    } else {
      res.writeHead(404);
    }
    res.end();
  });
  const base = await listenOnLoopback(server);
  try {
    assert.deepEqual(await httpProber(`${base}/relative`).start().result, { statusCode: 204 });
    assert.deepEqual(await httpProber(`${base}/absolute`).start().result, { statusCode: 204 });
    assert.deepEqual(await httpProber(`${base}/gone`).start().result, { statusCode: 404 });
    assert.deepEqual(await httpProber(`${base}/bare`).start().result, { statusCode: 304 });
    // A URL the client refuses is a failed probe, not an exception.
    assert.match((await httpProber("http://[::1/").start().result).error ?? "", /Invalid URL/);
    const loop = await httpProber(`${base}/loop`).start().result;
    assert.match(loop.error ?? "", /more than 50 redirects/);
    assert.equal(hops, MAX_HTTP_REDIRECTS + 1);
  } finally {
    server.closeAllConnections();
    await closeServer(server);
  }
});

test("health: consecutive_failures 0 is kept and the first counted failure asks to kill", async () => {
  assert.equal(healthCheckTiming({ consecutive_failures: 0 }).consecutiveFailures, 0);
  assert.equal(healthCheckTiming({}).consecutiveFailures, 3);
  const clock = new ManualClock();
  const prober: Prober = {
    kind: "COMMAND",
    start: () => ({ result: Promise.resolve({ exitCode: 1 }), cancel: () => {} }),
  };
  const reports: HealthReport[] = [];
  const checker = new HealthChecker(
    clock,
    prober,
    healthCheckTiming({ delay_seconds: 1, grace_period_seconds: 0, consecutive_failures: 0 }),
    (r) => reports.push(r),
  );
  checker.start();
  clock.advance(1000);
  for (let i = 0; i < 20 && reports.length === 0; i++) {
    await new Promise<void>((r) => setImmediate(r));
  }
  checker.stop();
  assert.deepEqual(reports, [{ healthy: false, consecutiveFailures: 1, killTask: true }]);
});

test("health check probes: protocol IPv6 probes ::1 (HTTP and TCP); general checks stay on 127.0.0.1 over http", async (t) => {
  const server = createServer((_req, res) => {
    res.writeHead(200);
    res.end();
  });
  const listening = await new Promise<boolean>((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(0, "::1", () => resolve(true));
  });
  if (!listening) {
    t.skip("no IPv6 loopback on this machine");
    return;
  }
  const { port } = server.address() as AddressInfo;
  const ctx = { launch: { baseEnv: {} } };
  try {
    const http6 = healthCheckProber({ type: "HTTP", http: { port, protocol: "IPv6" } }, ctx);
    const tcp6 = healthCheckProber({ type: "TCP", tcp: { port, protocol: "IPv6" } }, ctx);
    const tcp4 = healthCheckProber({ type: "TCP", tcp: { port } }, ctx);
    const check = checkProber({ type: "HTTP", http: { port, protocol: "IPv6" } }, ctx);
    assert.ok(typeof http6 !== "string" && typeof tcp6 !== "string" && typeof tcp4 !== "string");
    assert.ok(typeof check !== "string");
    assert.deepEqual(await http6.start().result, { statusCode: 200 });
    assert.deepEqual(await tcp6.start().result, { connected: true });
    // Nothing listens on 127.0.0.1 at that port (the server is bound to ::1 only).
    assert.deepEqual(await tcp4.start().result, { connected: false });
    assert.ok((await check.start().result).error !== undefined);
  } finally {
    server.closeAllConnections();
    await closeServer(server);
  }
});

test("COMMAND probes: stdout and stderr of the check command go where the executor's stderr goes (here a file)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "probe-output-"));
  const out = join(dir, "stderr");
  try {
    const prober = healthCheckProber(
      { type: "COMMAND", command: { value: "echo to-stdout; echo to-stderr >&2; exit 3" } },
      { launch: { baseEnv: { PATH: process.env.PATH } }, sandbox: dir, output: out },
    );
    assert.ok(typeof prober !== "string");
    assert.deepEqual(await prober.start().result, { exitCode: 3 });
    assert.deepEqual(await prober.start().result, { exitCode: 3 });
    // Appended, both streams, every run.
    assert.equal(readFileSync(out, "utf8"), "to-stdout\nto-stderr\nto-stdout\nto-stderr\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("image tasks: the image root is read from the agent's chroot --task_command, nothing else", () => {
  const wrapped = {
    shell: false,
    value: "/usr/sbin/chroot",
    arguments: ["chroot", "/var/lib/mesos/rootfs/abc", "/bin/sh", "-c", "cd / && exec x", "true"],
  };
  assert.deepEqual(imageRootOf(wrapped), {
    chroot: "/usr/sbin/chroot",
    rootfs: "/var/lib/mesos/rootfs/abc",
  });
  assert.equal(imageRootOf(undefined), undefined);
  assert.equal(imageRootOf({ value: "chroot /x sh" }), undefined);
  assert.equal(
    imageRootOf({ shell: false, value: "/bin/sh", arguments: ["chroot", "/x"] }),
    undefined,
  );
  assert.equal(
    imageRootOf({ shell: false, value: "/usr/sbin/chroot", arguments: ["chroot"] }),
    undefined,
  );
});

test("HTTP probe: every probe opens its own connection and closes it (as a curl run)", async () => {
  let connections = 0;
  let open = 0;
  const server = createServer((_req, res) => {
    res.writeHead(200);
    res.end();
  });
  server.on("connection", (socket) => {
    connections++;
    open++;
    socket.once("close", () => open--);
  });
  const url = `${await listenOnLoopback(server)}/`;
  try {
    const prober = httpProber(url);
    assert.deepEqual(await prober.start().result, { statusCode: 200 });
    assert.deepEqual(await prober.start().result, { statusCode: 200 });
    assert.equal(connections, 2);
    for (let i = 0; i < 200 && open > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(open, 0, "the probes closed their connections");
  } finally {
    server.closeAllConnections();
    await closeServer(server);
  }
});

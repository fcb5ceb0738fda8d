/**
 * The fetcher honours the agent's proxy environment as libcurl does under
 * Mesos: with `http_proxy` set, http URIs are requested from the proxy
 * (absolute-URI requests, the cache's HEAD size probe included; the agent
 * does not even resolve the host), except for hosts `no_proxy` lists.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, runBinary, stopAll, tempDir } from "../harness/processes.js";
import { sandboxOf } from "./containerizer-helpers.js";

let master: DaemonHandle;
let agent: DaemonHandle;
let originPort = 0;
/** What the origin served directly: `METHOD /path`. */
const direct: string[] = [];
/** What the proxy was asked: `METHOD absolute-url`. */
const proxied: string[] = [];

const origin = createServer((req, res) => {
  direct.push(`${req.method} ${req.url}`);
  const body = `content of ${req.url}\n`;
  res.writeHead(200, { "content-length": Buffer.byteLength(body) });
  res.end(req.method === "HEAD" ? undefined : body);
});

/** A forward proxy: answers absolute-URI requests itself, marking the body. */
const proxy = createServer((req, res) => {
  proxied.push(`${req.method} ${req.url}`);
  const url = new URL(req.url ?? "/", "http://invalid");
  const body = `via proxy: content of ${url.pathname}\n`;
  res.writeHead(200, { "content-length": Buffer.byteLength(body) });
  res.end(req.method === "HEAD" ? undefined : body);
});

before(async () => {
  for (const server of [origin, proxy]) {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  }
  originPort = (origin.address() as AddressInfo).port;
  const proxyPort = (proxy.address() as AddressInfo).port;
  ({ master, agent } = await startOneAgentCluster(
    { fetcher_cache_dir: join(tempDir("fetcher-proxy-cache-"), "fetch") },
    { agentEnv: { http_proxy: `http://127.0.0.1:${proxyPort}`, no_proxy: "127.0.0.1" } },
  ));
});

after(async () => {
  for (const server of [origin, proxy]) await new Promise<void>((r) => server.close(() => r()));
  await stopAll();
});

describe("fetcher through a proxy", { timeout: 180_000 }, () => {
  it("http_proxy carries http URIs (and the cache's size probe); no_proxy hosts are fetched directly", async () => {
    const task = JSON.stringify({
      name: "proxied",
      task_id: { value: "proxied" },
      resources: [
        { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
        { name: "mem", type: "SCALAR", scalar: { value: 32 } },
      ],
      command: {
        value: "cat one.txt two.txt three.txt",
        uris: [
          { value: "http://files.origin.test/one.txt" },
          { value: "http://files.origin.test/two.txt", cache: true },
          { value: `http://127.0.0.1:${originPort}/three.txt` },
        ],
      },
    });
    const run = await runBinary("mesos-execute", [`--master=${master.address}`, `--task=${task}`], {
      timeoutMs: 90_000,
    });
    assert.ok(
      run.stdout.includes("Received status update TASK_FINISHED for task 'proxied'"),
      run.stdout + run.stderr,
    );
    const sandbox = await sandboxOf(agent, "proxied");
    assert.equal(
      readFileSync(join(sandbox, "stdout"), "utf8"),
      "via proxy: content of /one.txt\nvia proxy: content of /two.txt\ncontent of /three.txt\n",
    );
    assert.deepEqual(proxied, [
      "GET http://files.origin.test/one.txt",
      "HEAD http://files.origin.test/two.txt",
      "GET http://files.origin.test/two.txt",
    ]);
    assert.deepEqual(direct, ["GET /three.txt"]);
  });
});

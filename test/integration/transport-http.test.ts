/**
 * The HTTP side of a host over real sockets: routing, body limits and
 * streaming responses.
 */
import assert from "node:assert/strict";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { connect as tcpConnect } from "node:net";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  okJson,
  type ResponseStream,
  type StreamCloseReason,
  streaming,
} from "../../src/common/http/response.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import { ProcessBase, rawBody } from "../../src/common/process/process-base.js";
import { ProcessHost } from "../../src/common/process/process-host.js";
import { SystemClock } from "../../src/common/time/clock.js";

const hosts: ProcessHost[] = [];
after(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
});

async function startHost(maxBodyBytes?: number): Promise<ProcessHost> {
  const host = new ProcessHost({
    logger: silentLogger,
    clock: new SystemClock(),
    listen: { bindIp: "127.0.0.1", bindPort: 0, advertiseIp: undefined, advertisePort: undefined },
    delegate: "master",
    ...(maxBodyBytes === undefined ? {} : { maxBodyBytes }),
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

/** Sends raw bytes and returns everything the server wrote until it closed or `untilMs` passed. */
async function raw(port: number, bytes: string | Buffer, untilMs = 500): Promise<string> {
  const s = tcpConnect(port, "127.0.0.1");
  const chunks: Buffer[] = [];
  s.on("data", (c: Buffer) => chunks.push(c));
  s.on("error", () => {});
  s.write(bytes);
  await Promise.race([new Promise((r) => s.on("close", r)), sleep(untilMs)]);
  s.destroy();
  return Buffer.concat(chunks).toString("latin1");
}

test("http: requests are routed to processes by path, with delegation to the main process", async () => {
  const a = await startHost();
  const master = a.spawn(new ProcessBase("master"));
  const agent = a.spawn(new ProcessBase("slave(1)"));
  master.route("/state", { methods: ["GET"], help: "" }, (r) =>
    okJson({ who: "master", path: r.path, q: r.query.get("jsonp") }),
  );
  master.route("/api/v1", { methods: ["POST"], help: "" }, (r) =>
    okJson({ route: r.routePath, rest: r.remainder, body: r.text() }),
  );
  agent.route("/state", { methods: ["GET"], help: "" }, () => okJson({ who: "agent" }));
  const base = `http://127.0.0.1:${a.boundPort}`;
  const get = async (p: string, init?: RequestInit): Promise<[number, string]> => {
    const r = await fetch(base + p, init);
    return [r.status, await r.text()];
  };
  assert.deepEqual(await get("/state?jsonp=cb"), [
    200,
    '{"who":"master","path":"/master/state","q":"cb"}',
  ]);
  assert.deepEqual(await get("/master/state/"), [
    200,
    '{"who":"master","path":"/master/state/","q":null}',
  ]);
  assert.deepEqual(await get("/slave(1)/state"), [200, '{"who":"agent"}']);
  assert.deepEqual(await get("/api/v1/operator", { method: "POST", body: "{}" }), [
    200,
    '{"route":"/api/v1","rest":"/operator","body":"{}"}',
  ]);
  const [status405] = await get("/master/state", { method: "PUT", body: "x" });
  assert.equal(status405, 405);
  assert.equal((await get("/nothing"))[0], 404);
  // fetch would normalize "/..", so send it raw.
  assert.match(
    await raw(a.boundPort, "GET /master/../slave(1)/state HTTP/1.1\r\nHost: x\r\n\r\n"),
    /^HTTP\/1\.1 404/,
  );
});

test("http: bodies over the limit get 413, declared or chunked", async () => {
  const a = await startHost(1024);
  const master = a.spawn(new ProcessBase("master"));
  master.route("/api/v1", { methods: ["POST"], help: "" }, (r) => okJson({ n: r.body.byteLength }));
  const got: number[] = [];
  master.install("m", rawBody, (_f, b) => got.push(b.byteLength));
  const declared = await raw(
    a.boundPort,
    `POST /master/api/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n${"x".repeat(5000)}`,
  );
  assert.match(declared, /^HTTP\/1\.1 413/);
  const chunk = "y".repeat(600);
  const chunked = await raw(
    a.boundPort,
    "POST /master/m HTTP/1.1\r\nLibprocess-From: s@127.0.0.1:1\r\nTransfer-Encoding: chunked\r\n\r\n" +
      `258\r\n${chunk}\r\n258\r\n${chunk}\r\n0\r\n\r\n`,
  );
  assert.match(chunked, /^HTTP\/1\.1 413/);
  assert.deepEqual(got, []);
  // At the limit is fine.
  const fits = await fetch(`http://127.0.0.1:${a.boundPort}/api/v1`, {
    method: "POST",
    body: "z".repeat(1024),
  });
  assert.equal(fits.status, 200);
  assert.deepEqual(await fits.json(), { n: 1024 });
});

test("http: a streaming response delivers chunks and notices the client going away", async () => {
  const a = await startHost();
  const master = a.spawn(new ProcessBase("master"));
  let stream: ResponseStream | undefined;
  let closedWith: StreamCloseReason | undefined;
  master.route("/api/v1", { methods: ["POST"], help: "SUBSCRIBE-like stream" }, () =>
    streaming(200, { "Content-Type": "application/recordio" }, (s) => {
      stream = s;
      s.onClose((why) => {
        closedWith = why;
      });
      s.write("5\nfirst");
    }),
  );
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest(
      { port: a.boundPort, host: "127.0.0.1", method: "POST", path: "/api/v1" },
      resolve,
    );
    req.on("error", reject);
    req.end("{}");
  });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers["transfer-encoding"], "chunked");
  assert.equal(res.headers["content-type"], "application/recordio");
  const received: string[] = [];
  res.on("data", (c: Buffer) => received.push(c.toString()));
  res.on("error", () => {});
  await waitFor("first chunk", () => received.join("") === "5\nfirst");
  assert.ok(stream !== undefined);
  assert.equal(stream.write("6\nsecond"), true);
  await waitFor("second chunk", () => received.join("") === "5\nfirst6\nsecond");
  assert.equal(closedWith, undefined);
  res.destroy();
  await waitFor("disconnect noticed", () => closedWith !== undefined);
  assert.equal(closedWith, "disconnected");
  assert.equal(stream.closed, true);
  assert.equal(stream.write("ignored"), false);
});

test("http: a stream we end finishes the chunked body and reports 'ended'", async () => {
  const a = await startHost();
  const master = a.spawn(new ProcessBase("master"));
  const reasons: StreamCloseReason[] = [];
  master.route("/events", { methods: ["GET"], help: "" }, () =>
    streaming(200, {}, (s) => {
      s.onClose((why) => reasons.push(why));
      s.write("a");
      s.write(Buffer.from("b"));
      s.end();
    }),
  );
  const r = await fetch(`http://127.0.0.1:${a.boundPort}/events`);
  assert.equal(await r.text(), "ab");
  await waitFor("close reason", () => reasons.length === 1);
  assert.deepEqual(reasons, ["ended"]);
});

test("http: a handler that throws or rejects answers 500 and the host keeps serving", async () => {
  const a = await startHost();
  const master = a.spawn(new ProcessBase("master"));
  master.route("/sync", { methods: ["GET"], help: "" }, () => {
    throw new Error("sync failure");
  });
  master.route("/async", { methods: ["GET"], help: "" }, async () => {
    throw new Error("async failure");
  });
  master.route("/health", { methods: ["GET"], help: "" }, () => okJson({}));
  const base = `http://127.0.0.1:${a.boundPort}`;
  const sync = await fetch(`${base}/sync`);
  assert.equal(sync.status, 500);
  assert.equal(await sync.text(), "sync failure");
  assert.equal((await fetch(`${base}/async`)).status, 500);
  assert.equal((await fetch(`${base}/health`)).status, 200);
});

test("http: a request target that is not a path gets 400", async () => {
  const a = await startHost();
  a.spawn(new ProcessBase("master"));
  assert.match(await raw(a.boundPort, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"), /^HTTP\/1\.1 400/);
});

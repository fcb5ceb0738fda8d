import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { HttpPipeline } from "../../src/common/process/http-pipeline.js";
import { ResponseReader } from "../../src/common/process/response-reader.js";

describe("http pipeline", () => {
  let server: Server;
  let port = 0;
  const seen: string[] = [];
  let connections = 0;

  before(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (c: string) => {
        body += c;
      });
      req.on("end", () => {
        seen.push(body);
        if (body === "chunked") {
          res.writeHead(200, { "Content-Type": "text/plain" });
          res.write("part one, ");
          res.end("part two");
        } else if (body === "slow") {
          setTimeout(() => res.writeHead(202, { "Content-Length": "0" }).end(), 50);
        } else if (body === "drop") {
          res.socket?.destroy();
        } else {
          res.writeHead(400, { "Content-Length": String(`bad ${body}`.length) }).end(`bad ${body}`);
        }
      });
    });
    server.on("connection", () => connections++);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => server.close());

  it("pipelined requests are answered in order on one connection, with their bodies", async () => {
    const p = new HttpPipeline({ host: "127.0.0.1", port, path: "/x" }, 5000);
    const bodies = ["slow", "a", "chunked", "b"];
    const answers = await Promise.all(bodies.map((b) => p.post({ "X-Test": "1" }, Buffer.from(b))));
    assert.deepEqual(
      answers.map((a) => [a.status, a.body.toString()]),
      [
        [202, ""],
        [400, "bad a"],
        [200, "part one, part two"],
        [400, "bad b"],
      ],
    );
    assert.deepEqual(seen.slice(-4), bodies);
    assert.equal(connections, 1);
    p.close();
  });

  it("a broken connection fails every request in flight; the next request reconnects", async () => {
    const p = new HttpPipeline({ host: "127.0.0.1", port, path: "/x" }, 5000);
    const results = await Promise.allSettled([
      p.post({}, Buffer.from("slow")),
      p.post({}, Buffer.from("drop")),
      p.post({}, Buffer.from("c")),
    ]);
    assert.equal(results[1]?.status, "rejected");
    assert.equal(results[2]?.status, "rejected");
    const again = await p.post({}, Buffer.from("d"));
    assert.equal(again.body.toString(), "bad d");
    p.close();
  });

  it("over a Unix socket: string bodies, Host localhost, a failure names the peer", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pipeline-"));
    const socketPath = join(dir, "agent.sock");
    const hosts: (string | undefined)[] = [];
    const local = createServer((req, res) => {
      hosts.push(req.headers.host);
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (c: string) => {
        body += c;
      });
      req.on("end", () => {
        if (body === "drop") res.socket?.destroy();
        else res.writeHead(202, { "Content-Length": Buffer.byteLength(body) }).end(body);
      });
    });
    await new Promise<void>((resolve) => local.listen(socketPath, resolve));
    try {
      const p = new HttpPipeline({ socketPath, path: "/api" }, 5000, 4096, "the agent");
      const answers = await Promise.all(["é one", "two"].map((b) => p.post({ A: "b" }, b)));
      assert.deepEqual(
        answers.map((a) => [a.status, a.body.toString()]),
        [
          [202, "é one"],
          [202, "two"],
        ],
      );
      assert.deepEqual(hosts, ["localhost", "localhost"]);
      await assert.rejects(p.post({}, "drop"), /the agent closed the connection/);
      p.close();
    } finally {
      local.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a response reader without kept bodies reports statuses at the head", () => {
    const statuses: number[] = [];
    const r = new ResponseReader(
      (s) => statuses.push(s),
      (m) => assert.fail(m),
    );
    r.feed(Buffer.from("HTTP/1.1 202 Accepted\r\nContent-Length: 3\r\n\r\nab"));
    assert.deepEqual(statuses, [202]);
    r.feed(Buffer.from("cHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"));
    assert.deepEqual(statuses, [202, 404]);
  });
});

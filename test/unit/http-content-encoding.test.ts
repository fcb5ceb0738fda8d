import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { crc32, gunzipSync, gzipSync } from "node:zlib";
import fc from "fast-check";
import { acceptsEncoding, shouldGzip } from "../../src/common/http/content-encoding.js";
import { GzipPartCache } from "../../src/common/http/gzip-parts.js";
import type { HttpRequest } from "../../src/common/http/request.js";
import { type HttpResponse, ok, response, streaming } from "../../src/common/http/response.js";
import { HttpServer } from "../../src/common/http/server.js";
import { crc32Combine } from "../../src/common/io/crc32-combine.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import { systemClock } from "../../src/common/time/clock.js";
import { type RawAnswer, rawExchange } from "../harness/http.js";

describe("Accept-Encoding", () => {
  test("gzip is accepted when listed or matched by *, unless its q is 0", () => {
    assert.equal(acceptsEncoding("gzip", "gzip"), true);
    assert.equal(acceptsEncoding("gzip, deflate, br", "gzip"), true);
    assert.equal(acceptsEncoding("deflate, GZIP;q=0.5", "gzip"), true);
    assert.equal(acceptsEncoding("*", "gzip"), true);
    assert.equal(acceptsEncoding("gzip;q=0", "gzip"), false);
    assert.equal(acceptsEncoding("gzip; q=0.000", "gzip"), false);
    assert.equal(acceptsEncoding("*;q=0", "gzip"), false);
    assert.equal(acceptsEncoding("deflate, br", "gzip"), false);
    assert.equal(acceptsEncoding("identity", "gzip"), false);
  });

  test("an explicit entry wins over *, in either order", () => {
    assert.equal(acceptsEncoding("gzip;q=0, *", "gzip"), false);
    assert.equal(acceptsEncoding("*, gzip;q=0", "gzip"), false);
    assert.equal(acceptsEncoding("*;q=0, gzip", "gzip"), true);
  });

  test("no header or an empty one means identity only", () => {
    assert.equal(acceptsEncoding(undefined, "gzip"), false);
    assert.equal(acceptsEncoding("", "gzip"), false);
  });

  test("bodies under 1 KiB are never compressed", () => {
    assert.equal(shouldGzip("gzip", 1023), false);
    assert.equal(shouldGzip("gzip", 1024), true);
    assert.equal(shouldGzip(undefined, 1 << 20), false);
  });
});

describe("CRC-32 of a concatenation", () => {
  test("combining two pieces' CRCs gives the CRC of the whole", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ maxLength: 600 }), (a, b) => {
        const whole = Buffer.concat([a, b]);
        assert.equal(crc32Combine(crc32(a), crc32(b), b.byteLength), crc32(whole));
      }),
      { numRuns: 300 },
    );
  });

  test("a piece longer than 2^31 bytes is combined by its length, not a truncated one", () => {
    // crc32 of 2^31 zero bytes appended to "a" is not computable here byte by
    // byte; the zero piece's CRC is combined twice instead: (a + z) + z must equal a + (z + z).
    const a = crc32(Buffer.from("a"));
    const zeros = Buffer.alloc(1 << 20);
    const z = crc32(zeros);
    const zz = crc32Combine(z, z, zeros.byteLength);
    assert.equal(
      crc32Combine(crc32Combine(a, z, zeros.byteLength), z, zeros.byteLength),
      crc32Combine(a, zz, 2 * zeros.byteLength),
    );
    assert.equal(zz, crc32(Buffer.alloc(2 << 20)));
  });
});

describe("gzip bodies from cached parts", () => {
  test("the encoding of any parts decompresses to their concatenation", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.string({ maxLength: 300 }),
            fc.uint8Array({ maxLength: 3000 }).map((b) => Buffer.from(b)),
            fc.constant(Buffer.from('{"id":"x","state":"TASK_RUNNING"},'.repeat(200))),
          ),
          { maxLength: 12 },
        ),
        async (parts) => {
          const cache = new GzipPartCache();
          const encoded = Buffer.concat(await cache.encode(parts));
          const plain = Buffer.concat(
            parts.map((p) => (typeof p === "string" ? Buffer.from(p) : p)),
          );
          assert.deepEqual(gunzipSync(encoded), plain);
        },
      ),
      { numRuns: 100 },
    );
  });

  test("a part is compressed once, however many documents it is in", async () => {
    const cache = new GzipPartCache();
    const a = Buffer.from("a".repeat(5000));
    const b = Buffer.from("b".repeat(7000));
    await cache.encode([a, "[", b]);
    assert.equal(cache.deflatedBytes, 12001);
    const again = Buffer.concat(await cache.encode([b, ",", a]));
    // Only the string was compressed again.
    assert.equal(cache.deflatedBytes, 12002);
    assert.equal(gunzipSync(again).toString(), `${"b".repeat(7000)},${"a".repeat(5000)}`);
  });

  test("small parts (the glue between runs) are compressed once per text, whatever Buffer holds them", async () => {
    const cache = new GzipPartCache();
    const glue = '],"completed_tasks":['.repeat(10);
    await cache.encode([Buffer.from(glue)]);
    const before = cache.deflatedBytes;
    const encoded = Buffer.concat(await cache.encode([Buffer.from(glue), Buffer.from(glue)]));
    assert.equal(cache.deflatedBytes, before);
    assert.equal(gunzipSync(encoded).toString(), glue + glue);
  });

  test("big parts come out in order, each compressed once, with two encodings of them at once", async () => {
    const cache = new GzipPartCache();
    const big = (c: string, n: number) => Buffer.from(`{"id":"${c}"},`.repeat(n));
    const parts = [big("a", 9000), "[", big("b", 12000), big("c", 7000), "]", big("d", 10000)];
    const shared = parts[2] as Buffer;
    const [one, two] = await Promise.all([
      cache.encode([...parts, shared]),
      cache.encode([shared, ...parts]),
    ]);
    const plain = (list: (string | Buffer)[]) =>
      Buffer.concat(list.map((p) => (typeof p === "string" ? Buffer.from(p) : p)));
    assert.deepEqual(gunzipSync(Buffer.concat(one)), plain([...parts, shared]));
    assert.deepEqual(gunzipSync(Buffer.concat(two)), plain([shared, ...parts]));
    const total = parts.reduce((n, p) => n + (typeof p === "string" ? p.length : p.byteLength), 0);
    // Every part once (the short strings too: small parts are cached by content).
    assert.equal(cache.deflatedBytes, total);
  });

  test("the trailer carries the length and CRC of the whole", async () => {
    const parts = [Buffer.from("hello "), Buffer.from("world")];
    const encoded = Buffer.concat(await new GzipPartCache().encode(parts));
    assert.equal(encoded.readUInt32LE(encoded.length - 4), 11);
    assert.equal(encoded.readUInt32LE(encoded.length - 8), crc32(Buffer.from("hello world")));
    assert.deepEqual([...encoded.subarray(0, 3)], [0x1f, 0x8b, 8]);
  });
});

describe("the HTTP server's compressed bodies", () => {
  const servers: HttpServer[] = [];
  after(async () => {
    for (const s of servers) await s.close();
  });

  const BIG = JSON.stringify({ tasks: Array.from({ length: 200 }, (_, i) => ({ id: `t${i}` })) });

  async function serve(
    dispatch: (r: HttpRequest) => HttpResponse,
    maxBodyBytes?: number,
  ): Promise<number> {
    const server = new HttpServer(dispatch, {
      logger: silentLogger,
      clock: systemClock,
      ...(maxBodyBytes === undefined ? {} : { maxBodyBytes }),
    });
    servers.push(server);
    return server.listen("127.0.0.1", 0);
  }

  function get(port: number, path: string, acceptEncoding?: string): Promise<RawAnswer> {
    const headers: Record<string, string> =
      acceptEncoding === undefined ? {} : { "Accept-Encoding": acceptEncoding };
    return rawExchange(port, "GET", path, headers);
  }

  const send = (
    port: number,
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: Uint8Array,
  ): Promise<RawAnswer> => rawExchange(port, method, path, headers, body);

  test("a gzip-encoded request body reaches the route decoded, as libprocess decodes it", async () => {
    const port = await serve(
      (r) => ok(`${r.header("content-encoding") ?? "plain"}:${r.body.byteLength}:${r.text()}`),
      1000,
    );
    const call = JSON.stringify({ type: "GET_HEALTH" });
    const decoded = await send(
      port,
      "POST",
      "/api/v1",
      { "Content-Encoding": "gzip", "Content-Type": "application/json" },
      gzipSync(call),
    );
    assert.equal(decoded.status, 200);
    assert.equal(decoded.body.toString(), `plain:${call.length}:${call}`);
    const broken = await send(
      port,
      "POST",
      "/api/v1",
      { "Content-Encoding": "gzip" },
      Buffer.from("not gzip"),
    );
    assert.equal(broken.status, 400);
    assert.match(broken.body.toString(), /Failed to decompress the gzip-encoded body/);
    // Small on the wire, too big once inflated: refused like any body over the limit.
    const bomb = await send(
      port,
      "POST",
      "/api/v1",
      { "Content-Encoding": "gzip" },
      gzipSync(Buffer.alloc(5000)),
    );
    assert.equal(bomb.status, 413);
  });

  test("a body of 1 KiB or more goes out gzip-encoded to a client that accepts gzip", async () => {
    const port = await serve(() => ok(BIG, "application/json"));
    const zipped = await get(port, "/big", "gzip, deflate");
    assert.equal(zipped.headers["content-encoding"], "gzip");
    assert.equal(Number(zipped.headers["content-length"]), zipped.body.byteLength);
    assert.ok(zipped.body.byteLength < BIG.length);
    assert.equal(gunzipSync(zipped.body).toString(), BIG);
    const plain = await get(port, "/big");
    assert.equal(plain.headers["content-encoding"], undefined);
    assert.equal(plain.body.toString(), BIG);
    const refused = await get(port, "/big", "gzip;q=0");
    assert.equal(refused.headers["content-encoding"], undefined);
    assert.equal(refused.body.toString(), BIG);
  });

  test("small bodies, bodies with their own encoding and streams go out as they are", async () => {
    const port = await serve((r) => {
      if (r.path === "/small") return ok("x".repeat(1023));
      if (r.path === "/encoded") return response(200, BIG, { "Content-Encoding": "identity" });
      return streaming(200, { "Content-Type": "text/plain" }, (stream) => {
        stream.write(BIG);
        stream.end();
      });
    });
    for (const path of ["/small", "/encoded", "/stream"]) {
      const answer = await get(port, path, "gzip");
      assert.notEqual(answer.headers["content-encoding"], "gzip", path);
      assert.ok(answer.body.toString().startsWith(path === "/small" ? "xxx" : '{"tasks"'), path);
    }
  });
});

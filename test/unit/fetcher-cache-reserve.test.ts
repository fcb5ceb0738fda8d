/**
 * The fetcher cache's Mesos-style space reservation: the size is asked for
 * before downloading; an unknown size, a file that cannot fit, or a shared
 * download that failed send the fetch around the cache; a download larger
 * than announced is used once and dropped.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fetchUris } from "../../src/agent/containerizer/fetcher.js";
import { FetcherCache } from "../../src/agent/containerizer/fetcher-cache.js";
import { execFileRunner } from "../harness/fetcher-runner.js";
import { closeServer, listenOnLoopback } from "../harness/loopback-server.js";
import { ScratchDirs } from "../harness/scratch-dirs.js";

const scratch = new ScratchDirs();
const temp = (prefix: string) => scratch.make(prefix);

const run = execFileRunner;

const gets = new Map<string, number>();
/** `/fail-shared` answers its first GET with 500, slowly, so a second fetch can wait for it. */
const server = createServer((req, res) => {
  const path = req.url ?? "/";
  const n = (gets.get(path) ?? 0) + (req.method === "GET" ? 1 : 0);
  gets.set(path, n);
  const body = `${path.slice(1)}:${"y".repeat(100)}`;
  if (path === "/no-length") {
    // HEAD without Content-Length: the size is unknown.
    res.writeHead(200);
    res.end(req.method === "HEAD" ? undefined : body);
    return;
  }
  if (path === "/grows") {
    // Announces 10 bytes, sends more.
    if (req.method === "HEAD") {
      res.writeHead(200, { "content-length": 10 });
      res.end();
    } else {
      res.writeHead(200);
      res.end(body);
    }
    return;
  }
  if (path === "/fail-shared" && req.method === "GET" && n === 1) {
    setTimeout(() => res.writeHead(500).end(), 2000);
    return;
  }
  res.writeHead(200, { "content-length": Buffer.byteLength(body) });
  res.end(req.method === "HEAD" ? undefined : body);
});
let base = "";

before(async () => {
  base = await listenOnLoopback(server);
});

after(async () => {
  await closeServer(server);
  scratch.removeAll();
});

async function newCache(maxBytes: number): Promise<FetcherCache> {
  const cache = new FetcherCache({ dir: join(temp("fetch-cache-"), "cache"), maxBytes });
  await cache.reset();
  return cache;
}

async function fetchInto(cache: FetcherCache, path: string) {
  const sandbox = temp("sandbox-");
  const lines: string[] = [];
  await fetchUris([{ value: `${base}${path}`, cache: true, extract: false }], {
    sandbox,
    run,
    cache,
    log: async (line) => {
      lines.push(line);
    },
  });
  return { sandbox, lines };
}

test("fetcher cache: a URI without a Content-Length bypasses the cache", async () => {
  const cache = await newCache(10_000);
  const { sandbox, lines } = await fetchInto(cache, "/no-length");
  assert.match(readFileSync(join(sandbox, "no-length"), "utf8"), /^no-length:/);
  assert.ok(
    lines.some((l) =>
      /Reverting to fetching directly .* with error: Could not determine size of cache file for '.*no-length' with error: No URL content-length available/.test(
        l,
      ),
    ),
    lines.join("\n"),
  );
  assert.equal(cache.size, 0);
  assert.equal(cache.totalBytes, 0);
});

test("fetcher cache: a download larger than announced is delivered once and not kept", async () => {
  const cache = await newCache(10_000);
  const { sandbox } = await fetchInto(cache, "/grows");
  assert.match(readFileSync(join(sandbox, "grows"), "utf8"), /^grows:y+$/);
  assert.equal(cache.size, 0);
  assert.equal(cache.totalBytes, 0);
  await fetchInto(cache, "/grows");
  assert.equal(gets.get("/grows"), 2);
});

test("fetcher cache: a fetch waiting for a shared download that fails fetches directly", async () => {
  const cache = await newCache(10_000);
  const results = await Promise.allSettled([
    fetchInto(cache, "/fail-shared"),
    fetchInto(cache, "/fail-shared"),
  ]);
  // The fetch that made the download fails as a direct one would; the one
  // that waited for it goes around the cache.
  const failed = results.filter((r) => r.status === "rejected");
  const done = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  assert.equal(failed.length, 1);
  assert.match(
    String((failed[0] as PromiseRejectedResult).reason),
    /received HTTP return code 500/,
  );
  const [{ sandbox, lines }] = done as [{ sandbox: string; lines: string[] }];
  assert.match(readFileSync(join(sandbox, "fail-shared"), "utf8"), /^fail-shared:/);
  assert.ok(
    lines.some((l) =>
      /Reverting to fetching directly .* the download into the cache failed/.test(l),
    ),
    lines.join("\n"),
  );
  assert.equal(gets.get("/fail-shared"), 2);
});

test("fetcher cache: reserving space evicts only what it needs, least recently used first", async () => {
  // Bodies are about 105 bytes: three fit in 330.
  const cache = await newCache(330);
  for (const p of ["/r1", "/r2", "/r3"]) await fetchInto(cache, p);
  await fetchInto(cache, "/r1"); // r2 is now the least recently used
  await fetchInto(cache, "/r4"); // evicts r2 only
  assert.equal(cache.size, 3);
  await fetchInto(cache, "/r1");
  await fetchInto(cache, "/r3");
  assert.equal(gets.get("/r1"), 1);
  assert.equal(gets.get("/r3"), 1);
  await fetchInto(cache, "/r2");
  assert.equal(gets.get("/r2"), 2);
  assert.ok(cache.totalBytes <= 330);
});

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
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

/**
 * A local HTTP server that counts downloads (GETs) per path; the cache's size
 * probes (HEAD) are not counted. `/fail` answers the first GET with 500.
 */
const requests = new Map<string, number>();
const server = createServer((req, res) => {
  const path = req.url ?? "/";
  const n = (requests.get(path) ?? 0) + (req.method === "GET" ? 1 : 0);
  requests.set(path, n);
  if (path === "/fail" && n === 1 && req.method === "GET") {
    res.statusCode = 500;
    res.end();
    return;
  }
  // A little delay so concurrent fetches really overlap.
  const body = `${path.slice(1)}:${"x".repeat(90)}`;
  // The size the cache reserves before downloading, for GET and HEAD alike.
  res.setHeader("content-length", Buffer.byteLength(body));
  setTimeout(() => res.end(req.method === "HEAD" ? undefined : body), 50);
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

function fetchInto(cache: FetcherCache, path: string, user?: string, useCache = true) {
  const sandbox = temp("sandbox-");
  return fetchUris([{ value: `${base}${path}`, cache: useCache, extract: false }], {
    sandbox,
    run,
    cache,
    user,
    log: async () => {},
  }).then(() => sandbox);
}

test("fetcher cache: concurrent fetches of one URI download it once; every sandbox gets the file", async () => {
  const cache = await newCache(10_000);
  const sandboxes = await Promise.all([1, 2, 3, 4].map(() => fetchInto(cache, "/shared")));
  assert.equal(requests.get("/shared"), 1);
  for (const s of sandboxes) assert.match(readFileSync(join(s, "shared"), "utf8"), /^shared:x+$/);
  // A later fetch is a hit too.
  await fetchInto(cache, "/shared");
  assert.equal(requests.get("/shared"), 1);
});

test("fetcher cache: entries are per user; cache=false fetches directly every time", async () => {
  const cache = await newCache(10_000);
  await fetchInto(cache, "/per-user", "alice");
  await fetchInto(cache, "/per-user", "bob");
  await fetchInto(cache, "/per-user", "alice");
  assert.equal(requests.get("/per-user"), 2);
  await fetchInto(cache, "/direct", undefined, false);
  await fetchInto(cache, "/direct", undefined, false);
  assert.equal(requests.get("/direct"), 2);
  assert.equal(cache.size, 2);
});

test("fetcher cache: least recently used entries are evicted to stay within the size", async () => {
  // Each body is ~95 bytes: room for two.
  const cache = await newCache(200);
  await fetchInto(cache, "/a");
  await fetchInto(cache, "/b");
  await fetchInto(cache, "/a"); // a is now more recent than b
  await fetchInto(cache, "/c"); // evicts b
  assert.ok(cache.totalBytes <= 200);
  await fetchInto(cache, "/a");
  assert.equal(requests.get("/a"), 1);
  await fetchInto(cache, "/b");
  assert.equal(requests.get("/b"), 2);
});

test("fetcher cache: a file larger than the cache is fetched but not kept", async () => {
  const cache = await newCache(10);
  const sandbox = await fetchInto(cache, "/big");
  assert.ok(existsSync(join(sandbox, "big")));
  assert.equal(cache.size, 0);
  assert.equal(cache.totalBytes, 0);
});

test("fetcher cache: a failed download leaves no entry, the next fetch retries", async () => {
  const cache = await newCache(10_000);
  await assert.rejects(fetchInto(cache, "/fail"), /Failed to fetch/);
  assert.equal(cache.size, 0);
  const sandbox = await fetchInto(cache, "/fail");
  assert.match(readFileSync(join(sandbox, "fail"), "utf8"), /^fail:/);
  assert.equal(requests.get("/fail"), 2);
});

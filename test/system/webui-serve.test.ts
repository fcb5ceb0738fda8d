/**
 * Serving the web UI's files (src/master/http/webui.ts): index.html at the
 * root, content types, cache headers and validators, 404s, the built
 * `dist/` of a source checkout, and no way out of the directory.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { HttpRequest } from "../../src/common/http/request.js";
import type { HttpResponse } from "../../src/common/http/response.js";
import type { RouteHandler, RouteOptions } from "../../src/common/http/route-table.js";
import {
  contentTypeFor,
  installWebui,
  resolveWebuiDir,
  safeSegments,
} from "../../src/master/http/webui.js";
import { getJson, startMaster, stopAll } from "../harness/processes.js";

const dirs: string[] = [];
function tempUi(): string {
  const dir = mkdtempSync(join(tmpdir(), "webui-serve-"));
  dirs.push(dir);
  mkdirSync(join(dir, "assets"));
  mkdirSync(join(dir, "app"));
  writeFileSync(join(dir, "index.html"), "<!doctype html><div id=app></div>");
  writeFileSync(join(dir, "assets", "index-Abc123_x.js"), "console.log(1)");
  writeFileSync(join(dir, "assets", "style.css"), "body{}");
  writeFileSync(join(dir, "app", "home.html"), "<p>home</p>");
  writeFileSync(join(dir, "secret.txt"), "outside the static folders");
  return dir;
}

after(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await stopAll();
});

/** Routes installed by installWebui, callable like the router would. */
function serve(dir: string) {
  const routes = new Map<string, RouteHandler>();
  const sink = {
    route(path: string, _options: RouteOptions, handler: RouteHandler) {
      routes.set(path, handler);
    },
  };
  installWebui(sink, { dir });
  return async (
    route: string,
    remainder = "",
    headers: Record<string, string> = {},
  ): Promise<HttpResponse & { kind: "body" }> => {
    const handler = routes.get(route);
    assert.ok(handler, `route ${route} is declared`);
    const request = new HttpRequest({
      method: "GET",
      path: `/master${route}${remainder}`,
      rawQuery: "",
      headers,
      body: new Uint8Array(),
      remoteAddress: "127.0.0.1",
      remotePort: 1,
    });
    request.remainder = remainder;
    const response = await handler(request);
    assert.equal(response.kind, "body");
    return response as HttpResponse & { kind: "body" };
  };
}

const text = (r: { body: string | Uint8Array }): string =>
  typeof r.body === "string" ? r.body : Buffer.from(r.body).toString("utf8");

describe("webui serving", () => {
  it("webui: / answers index.html as text/html, revalidated on each use", async () => {
    const get = serve(tempUi());
    const r = await get("/");
    assert.equal(r.status, 200);
    assert.equal(r.headers["Content-Type"], "text/html; charset=utf-8");
    assert.equal(r.headers["Cache-Control"], "no-cache");
    assert.match(text(r), /id=app/);
  });

  it("webui: hashed assets are cached for good, others revalidated, both with the right type", async () => {
    const get = serve(tempUi());
    const js = await get("/assets", "/index-Abc123_x.js");
    assert.equal(js.status, 200);
    assert.equal(js.headers["Content-Type"], "text/javascript; charset=utf-8");
    assert.match(js.headers["Cache-Control"] ?? "", /immutable/);
    assert.equal(js.headers["X-Content-Type-Options"], "nosniff");
    const css = await get("/assets", "/style.css");
    assert.equal(css.headers["Content-Type"], "text/css; charset=utf-8");
    assert.equal(css.headers["Cache-Control"], "no-cache");
    const app = await get("/app", "/home.html");
    assert.equal(app.status, 200);
    assert.equal(text(app), "<p>home</p>");
  });

  it("webui: a matching ETag or If-Modified-Since answers 304 without a body", async () => {
    const dir = tempUi();
    const when = new Date("2024-01-02T03:04:05Z");
    utimesSync(join(dir, "assets", "style.css"), when, when);
    const get = serve(dir);
    const first = await get("/assets", "/style.css");
    const etag = first.headers.ETag;
    assert.ok(etag);
    const again = await get("/assets", "/style.css", { "if-none-match": etag });
    assert.equal(again.status, 304);
    assert.equal(text(again), "");
    const since = await get("/assets", "/style.css", { "if-modified-since": when.toUTCString() });
    assert.equal(since.status, 304);
    const stale = await get("/assets", "/style.css", { "if-none-match": 'W/"0-0"' });
    assert.equal(stale.status, 200);
  });

  it("webui: missing files, directories and hidden names answer 404", async () => {
    const dir = tempUi();
    writeFileSync(join(dir, "assets", ".hidden"), "x");
    const get = serve(dir);
    assert.equal((await get("/assets", "/nope.js")).status, 404);
    assert.equal((await get("/assets", "")).status, 404);
    assert.equal((await get("/assets", "/.hidden")).status, 404);
  });

  it("webui: paths that climb out of the directory answer 404, encoded or through symlinks", async () => {
    const dir = tempUi();
    symlinkSync(join(dir, "secret.txt"), join(dir, "assets", "link.txt"));
    symlinkSync("/etc", join(dir, "assets", "etc"));
    const get = serve(dir);
    for (const remainder of [
      "/../secret.txt",
      "/%2e%2e/secret.txt",
      "/..%2fsecret.txt",
      "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
      "/a%00b",
      "/%zz",
      "/link.txt",
      "/etc/passwd",
    ]) {
      assert.equal((await get("/assets", remainder)).status, 404, remainder);
    }
    assert.equal(safeSegments("/a/%2e%2e/b"), undefined);
    assert.deepEqual(safeSegments("/a/b%20c.js"), ["a", "b c.js"]);
  });

  it("webui: a source checkout's built dist/ is what gets served", async () => {
    const dir = tempUi();
    mkdirSync(join(dir, "dist"));
    writeFileSync(join(dir, "dist", "index.html"), "<p>built</p>");
    assert.equal(await resolveWebuiDir(dir), join(dir, "dist"));
    assert.equal(text(await serve(dir)("/")), "<p>built</p>");
    const plain = tempUi();
    assert.equal(await resolveWebuiDir(plain), plain);
  });

  it("webui: without a built UI, / answers 404 saying how to build it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "webui-empty-"));
    dirs.push(dir);
    const r = await serve(dir)("/");
    assert.equal(r.status, 404);
    assert.match(text(r), /npm run build:webui/);
  });

  it("webui: content types follow the file extension", () => {
    assert.equal(contentTypeFor("a.svg"), "image/svg+xml");
    assert.equal(contentTypeFor("favicon.ico"), "image/x-icon");
    assert.equal(contentTypeFor("f.woff2"), "font/woff2");
    assert.equal(contentTypeFor("blob.bin"), "application/octet-stream");
  });

  it("webui: bin/mesos-master serves --webui_dir at / and /master/, other routes unchanged", async () => {
    const dir = tempUi();
    const master = await startMaster({ flags: { webui_dir: dir } });
    const root = await fetch(`${master.url}/`);
    assert.equal(root.status, 200);
    assert.match(root.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(await root.text(), /id=app/);
    assert.equal((await fetch(`${master.url}/master/`)).status, 200);
    const js = await fetch(`${master.url}/assets/index-Abc123_x.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get("content-type") ?? "", /^text\/javascript/);
    assert.equal((await fetch(`${master.url}/master/assets/style.css`)).status, 200);
    assert.equal((await fetch(`${master.url}/assets/%2e%2e/secret.txt`)).status, 404);
    assert.ok(await getJson(`${master.url}/master/state`), "/master/state still answers");
  });
});

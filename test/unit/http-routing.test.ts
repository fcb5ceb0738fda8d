import assert from "node:assert/strict";
import { test } from "node:test";
import { isRelativePath, segments, splitTarget, trimSlashes } from "../../src/common/http/path.js";
import { HttpRequest } from "../../src/common/http/request.js";
import {
  type BodyResponse,
  type HttpResponse,
  methodNotAllowed,
  ok,
} from "../../src/common/http/response.js";
import { RouteTable } from "../../src/common/http/route-table.js";
import { ProcessBase } from "../../src/common/process/process-base.js";
import { libprocessSender, routeHttp } from "../../src/common/process/routing.js";

/** A master and an agent in one host, as in mesos-local; routes echo what they saw. */
function fixture(): Map<string, ProcessBase> {
  const master = new ProcessBase("master");
  const echo = (r: HttpRequest): HttpResponse =>
    ok(`${r.processId} ${r.routePath} [${r.remainder}] ${r.path}`);
  master.route("/state", { methods: ["GET"], help: "state" }, echo);
  master.route("/api/v1", { methods: ["POST"], help: "operator API" }, echo);
  master.route("/api/v1/scheduler", { methods: ["POST"], help: "scheduler API" }, echo);
  master.route("/", { methods: ["GET"], help: "web UI" }, echo);
  master.route("/static", { help: "assets, any method" }, echo);
  const agent = new ProcessBase("slave(1)");
  agent.route("/state", { methods: ["GET"], help: "agent state" }, echo);
  const metrics = new ProcessBase("metrics");
  metrics.route("/snapshot", { methods: ["GET"], help: "metrics" }, echo);
  return new Map([master, agent, metrics].map((p) => [p.id, p]));
}

function request(method: string, target: string): HttpRequest {
  const t = splitTarget(target);
  assert.ok(t !== undefined);
  return new HttpRequest({
    method,
    path: t.path,
    rawQuery: t.rawQuery,
    headers: {},
    body: new Uint8Array(0),
    remoteAddress: "127.0.0.1",
    remotePort: 1,
  });
}

function route(method: string, target: string, delegate: string | null = "master"): BodyResponse {
  const processes = fixture();
  const r = routeHttp(request(method, target), (id) => processes.get(id), delegate ?? undefined);
  assert.ok(!(r instanceof Promise) && r.kind === "body");
  return r;
}

function text(r: BodyResponse): string {
  return typeof r.body === "string" ? r.body : Buffer.from(r.body).toString();
}

test("routing: the first segment names the process", () => {
  assert.equal(text(route("GET", "/master/state")), "master /state [] /master/state");
  assert.equal(text(route("GET", "/slave(1)/state")), "slave(1) /state [] /slave(1)/state");
  assert.equal(text(route("GET", "/metrics/snapshot")), "metrics /snapshot [] /metrics/snapshot");
});

test("routing: a percent-encoded process id is decoded", () => {
  assert.equal(text(route("GET", "/slave%281%29/state")), "slave(1) /state [] /slave%281%29/state");
});

test("routing: unknown first segments are delegated to the main process", () => {
  assert.equal(text(route("GET", "/state")), "master /state [] /master/state");
  assert.equal(text(route("POST", "/api/v1")), "master /api/v1 [] /master/api/v1");
});

test("routing: / goes to the main process' root route", () => {
  assert.equal(text(route("GET", "/")), "master / [] /master");
  assert.equal(text(route("GET", "/master")), "master / [] /master");
  assert.equal(text(route("GET", "/master/")), "master / [] /master/");
});

test("routing: without a main process, unknown paths are 404", () => {
  assert.equal(route("GET", "/state", null).status, 404);
  assert.equal(route("GET", "/", null).status, 404);
  assert.equal(route("GET", "/master/state", null).status, 200);
});

test("routing: the longest declared prefix inside the process wins", () => {
  assert.equal(
    text(route("POST", "/api/v1/operator")),
    "master /api/v1 [/operator] /master/api/v1/operator",
  );
  assert.equal(
    text(route("POST", "/master/api/v1/scheduler")),
    "master /api/v1/scheduler [] /master/api/v1/scheduler",
  );
  assert.equal(
    text(route("GET", "/static/js/app.js?v=1")),
    "master /static [/js/app.js] /master/static/js/app.js",
  );
});

test("routing: a trailing slash is ignored", () => {
  assert.equal(text(route("GET", "/master/state/")), "master /state [] /master/state/");
  assert.equal(text(route("GET", "/state/")), "master /state [] /master/state");
  assert.equal(text(route("POST", "/api/v1/")), "master /api/v1 [] /master/api/v1");
});

test("routing: a path no route covers is 404", () => {
  assert.equal(route("GET", "/master/nothing").status, 404);
  assert.equal(route("GET", "/slave(1)/nothing").status, 404);
  // The root route only matches the process root, not every path.
  assert.equal(route("GET", "/master/x/y").status, 404);
});

test("routing: a route that exists without the method is 405 with Allow", () => {
  const r = route("DELETE", "/master/state");
  assert.equal(r.status, 405);
  assert.equal(r.headers.Allow, "GET");
  assert.equal(
    text(r),
    "405 Method Not Allowed. Expecting one of { 'GET' }, but received 'DELETE'.",
  );
  // The longest prefix decides: /api/v1/scheduler is POST only, so GET is 405, not /api/v1's.
  assert.equal(route("GET", "/api/v1/scheduler").status, 405);
});

test("routing: HEAD is served by a GET route", () => {
  assert.equal(route("HEAD", "/master/state").status, 200);
});

test("routing: paths containing /.. are 404", () => {
  assert.equal(route("GET", "/master/../slave(1)/state").status, 404);
  assert.equal(route("GET", "/static/..%2f..").status, 404); // a plain substring test, as libprocess does
  assert.equal(route("GET", "/static/a..b").status, 200);
  assert.equal(route("GET", "/static/../x").status, 404);
  assert.equal(route("GET", "/..").status, 404);
});

test("routing: a handler's promise is passed through", async () => {
  const p = new ProcessBase("master");
  p.route("/later", { methods: ["GET"], help: "" }, async () => ok("later"));
  const r = routeHttp(
    request("GET", "/later"),
    (id) => (id === "master" ? p : undefined),
    "master",
  );
  assert.ok(r instanceof Promise);
  assert.equal((await r).status, 200);
});

test("route table: declaring the same path and method twice is a bug", () => {
  const t = new RouteTable();
  t.add("/a", { methods: ["GET"], help: "" }, () => ok());
  t.add("/a/", { methods: ["POST"], help: "" }, () => ok());
  assert.throws(() => t.add("a", { methods: ["GET"], help: "" }, () => ok()), /already declared/);
  assert.throws(() => t.add("/a", { help: "" }, () => ok()), /already declared/);
  assert.deepEqual(
    t.list().map((r) => [r.path, r.methods]),
    [
      ["/a", ["GET"]],
      ["/a", ["POST"]],
    ],
  );
  const m = t.lookup("a", "PUT");
  assert.equal(m.kind, "method-not-allowed");
  assert.deepEqual(m.kind === "method-not-allowed" ? m.allowed : [], ["GET", "POST"]);
});

test("route table: help texts are kept for /help", () => {
  const p = new ProcessBase("master");
  p.route("/health", { methods: ["GET"], help: "Health check of the master." }, () => ok());
  assert.deepEqual(p.routes(), [
    { path: "/health", methods: ["GET"], help: "Health check of the master." },
  ]);
});

test("messages: a POST with Libprocess-From or a libprocess/ User-Agent is a message", () => {
  assert.equal(libprocessSender("POST", { "libprocess-from": "a@1.2.3.4:5" }), "a@1.2.3.4:5");
  assert.equal(libprocessSender("POST", { "user-agent": "libprocess/a@1.2.3.4:5" }), "a@1.2.3.4:5");
  assert.equal(
    libprocessSender("POST", {
      "user-agent": "libprocess/x@1.1.1.1:1",
      "libprocess-from": "a@1.2.3.4:5",
    }),
    "a@1.2.3.4:5",
  );
  assert.equal(libprocessSender("POST", { "user-agent": "curl/8.0" }), undefined);
  assert.equal(libprocessSender("GET", { "libprocess-from": "a@1.2.3.4:5" }), undefined);
  assert.equal(
    libprocessSender("POST", { "user-agent": "Mozilla libprocess/a@1.2.3.4:5" }),
    undefined,
  );
});

test("paths: targets, segments and trimming", () => {
  assert.deepEqual(splitTarget("/a/b?x=1&y=2#frag"), { path: "/a/b", rawQuery: "x=1&y=2" });
  assert.deepEqual(splitTarget("http://h:5050/state?jsonp=f"), {
    path: "/state",
    rawQuery: "jsonp=f",
  });
  assert.deepEqual(splitTarget("http://h:5050"), { path: "/", rawQuery: "" });
  assert.equal(splitTarget("*"), undefined);
  assert.deepEqual(segments("//a///b/"), ["a", "b"]);
  assert.equal(trimSlashes("//api/v1//"), "api/v1");
  assert.ok(isRelativePath("/a/../b"));
  assert.ok(!isRelativePath("/a/b..c"));
});

test("responses: 405 lists every allowed method", () => {
  const r = methodNotAllowed(["GET", "POST"]);
  assert.equal(r.headers.Allow, "GET, POST");
  assert.equal(r.body, "405 Method Not Allowed. Expecting one of { 'GET', 'POST' }.");
});

test("http request: a repeated query parameter keeps its last value, as libprocess decodes a query", () => {
  const r = request("GET", "/files/read?path=/a&offset=1&path=/b");
  assert.equal(r.query.get("path"), "/b");
  assert.equal(r.query.get("offset"), "1");
  assert.equal(request("GET", "/state?jsonp=cb").query.get("jsonp"), "cb");
});

test("http request: ';' separates query pairs too, '+' is a space, a bare key is empty, as libprocess decodes", () => {
  const r = request("GET", "/master/tasks?limit=0;jsonp=cb&order=asc;;task_id=a+b&flag");
  assert.equal(r.query.get("limit"), "0");
  assert.equal(r.query.get("jsonp"), "cb");
  assert.equal(r.query.get("order"), "asc");
  assert.equal(r.query.get("task_id"), "a b");
  assert.equal(r.query.get("flag"), "");
  assert.equal(request("GET", "/x?a=b=c").query.get("a"), "b=c");
  assert.equal(request("GET", "/x?p=%2Fa%20b").query.get("p"), "/a b");
});

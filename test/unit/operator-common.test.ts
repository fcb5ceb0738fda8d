import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { FilesHandlers, parseReadRange } from "../../src/common/files/files-http.js";
import { FilesError, modeString, VirtualFiles } from "../../src/common/files/virtual-files.js";
import { helpPage, serveHelp } from "../../src/common/http/help.js";
import { LoggingLevels } from "../../src/common/http/logging-toggle.js";
import { HttpRequest } from "../../src/common/http/request.js";
import type { BodyResponse, HttpResponse } from "../../src/common/http/response.js";
import { registerSystemMetrics } from "../../src/common/http/system-process.js";
import { GlogLogger } from "../../src/common/observability/glog.js";
import {
  MetricsRegistry,
  prometheusName,
  statisticsOf,
} from "../../src/common/observability/metrics.js";
import { ManualClock } from "../../src/common/time/clock.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "operator-common-"));
  dirs.push(d);
  return d;
}

function get(path: string, headers: Record<string, string> = {}, method = "GET"): HttpRequest {
  const q = path.indexOf("?");
  return new HttpRequest({
    method,
    path: q < 0 ? path : path.slice(0, q),
    rawQuery: q < 0 ? "" : path.slice(q + 1),
    headers,
    body: new Uint8Array(),
    remoteAddress: "127.0.0.1",
    remotePort: 1,
  });
}

function body(r: HttpResponse): string {
  assert.equal(r.kind, "body");
  const b = (r as BodyResponse).body;
  return typeof b === "string" ? b : Buffer.from(b).toString("utf8");
}

// ---- metrics --------------------------------------------------------------

test("metrics: a timer shows its last value and window statistics once it has two samples", async () => {
  const clock = new ManualClock();
  const m = new MetricsRegistry(clock);
  const t = m.timer("allocator/mesos/allocation_run");
  t.record(10);
  let snap = await m.snapshot();
  assert.equal(snap["allocator/mesos/allocation_run_ms"], 10);
  assert.equal(snap["allocator/mesos/allocation_run_ms/count"], undefined);
  t.record(20);
  snap = await m.snapshot();
  assert.equal(snap["allocator/mesos/allocation_run_ms/count"], 2);
  assert.equal(snap["allocator/mesos/allocation_run_ms/min"], 10);
  assert.equal(snap["allocator/mesos/allocation_run_ms/max"], 20);
  assert.equal(snap["allocator/mesos/allocation_run_ms/p50"], 15);
  for (const k of ["p90", "p95", "p99", "p999", "p9999"]) {
    assert.ok(`allocator/mesos/allocation_run_ms/${k}` in snap, k);
  }
});

test("metrics: samples older than the timer window are dropped", async () => {
  const clock = new ManualClock();
  const m = new MetricsRegistry(clock);
  const t = m.timer("x", 1000);
  t.record(1);
  t.record(2);
  clock.advance(2000);
  t.record(3);
  t.record(4);
  const snap = await m.snapshot();
  assert.equal(snap["x_ms/count"], 2);
  assert.equal(snap["x_ms/min"], 3);
});

test("metrics: counters, push and pull gauges; names come out sorted", async () => {
  const m = new MetricsRegistry(new ManualClock());
  const c = m.counter("b/count");
  c.inc();
  c.inc(2);
  m.pushGauge("a/gauge").set(7);
  let pulled = 1;
  m.gauge("c/pulled", () => pulled);
  pulled = 5;
  const snap = await m.snapshot();
  assert.deepEqual(Object.keys(snap), ["a/gauge", "b/count", "c/pulled"]);
  assert.deepEqual(snap, { "a/gauge": 7, "b/count": 3, "c/pulled": 5 });
});

test("metrics: a pulled gauge that does not answer within the timeout is left out", async () => {
  const clock = new ManualClock();
  const m = new MetricsRegistry(clock);
  m.gauge("slow", () => new Promise<number>(() => {}));
  m.gauge("fast", () => Promise.resolve(2));
  m.gauge("broken", () => {
    throw new Error("no");
  });
  const pending = m.snapshot(100);
  await new Promise((r) => setImmediate(r));
  clock.advance(100);
  assert.deepEqual(await pending, { fast: 2 });
});

test("metrics: Prometheus names are prefixed and sanitised; timers become summaries", async () => {
  assert.equal(prometheusName("master/tasks_running"), "mesos_master_tasks_running");
  assert.equal(
    prometheusName("master/frameworks/a%20b/id-1/calls"),
    "mesos_master_frameworks_a_20b_id_1_calls",
  );
  const m = new MetricsRegistry(new ManualClock());
  m.counter("master/messages_kill_task").inc();
  const t = m.timer("registrar/state_store");
  t.record(1);
  t.record(3);
  const text = await m.prometheus();
  assert.match(
    text,
    /^# TYPE mesos_master_messages_kill_task counter\nmesos_master_messages_kill_task 1$/m,
  );
  assert.match(text, /^# TYPE mesos_registrar_state_store_ms summary$/m);
  assert.match(text, /^mesos_registrar_state_store_ms\{quantile="0.5"\} 2$/m);
  assert.match(text, /^mesos_registrar_state_store_ms_count 2$/m);
  assert.match(text, /^mesos_registrar_state_store_ms_sum 4$/m);
});

test("metrics: the system gauges are there", async () => {
  const m = new MetricsRegistry(new ManualClock());
  registerSystemMetrics(m);
  const snap = await m.snapshot();
  for (const name of [
    "system/cpus_total",
    "system/load_1min",
    "system/load_5min",
    "system/load_15min",
    "system/mem_total_bytes",
    "system/mem_free_bytes",
  ]) {
    assert.equal(typeof snap[name], "number", name);
  }
  assert.ok((snap["system/mem_total_bytes"] ?? 0) > 0);
});

test("metrics: percentiles interpolate between ranks", () => {
  const s = statisticsOf([4, 1, 3, 2]);
  assert.ok(s !== undefined);
  assert.equal(s.p50, 2.5);
  assert.equal(s.min, 1);
  assert.equal(s.max, 4);
  assert.equal(statisticsOf([1]), undefined);
});

// ---- files ----------------------------------------------------------------

async function sandbox(): Promise<{ files: VirtualFiles; root: string; outside: string }> {
  const root = tempDir();
  const outside = tempDir();
  writeFileSync(join(root, "stdout"), "hello\nworld\n");
  mkdirSync(join(root, "sub"));
  writeFileSync(join(root, "sub", "a.txt"), "a");
  writeFileSync(join(outside, "secret"), "secret");
  symlinkSync(join(outside, "secret"), join(root, "escape"));
  symlinkSync(join(root, "stdout"), join(root, "inside"));
  const files = new VirtualFiles();
  await files.attach(root, "/frameworks/f/executors/e/runs/latest");
  return { files, root, outside };
}

test("files: browse lists entries with Mesos' fields and mode text", async () => {
  const { files } = await sandbox();
  const h = new FilesHandlers(files);
  const r = await h.browse(get("/files/browse?path=/frameworks/f/executors/e/runs/latest/"));
  const list = JSON.parse(body(r)) as Record<string, unknown>[];
  const names = list.map((e) => e.path);
  assert.deepEqual(names, [
    "/frameworks/f/executors/e/runs/latest/escape",
    "/frameworks/f/executors/e/runs/latest/inside",
    "/frameworks/f/executors/e/runs/latest/stdout",
    "/frameworks/f/executors/e/runs/latest/sub",
  ]);
  const stdout = list[2] as Record<string, unknown>;
  assert.deepEqual(Object.keys(stdout).sort(), [
    "gid",
    "mode",
    "mtime",
    "nlink",
    "path",
    "size",
    "uid",
  ]);
  assert.equal(stdout.size, 12);
  assert.match(String(stdout.mode), /^-[rwx-]{9}$/);
  assert.match(String((list[3] as Record<string, unknown>).mode), /^d/);
});

test("files: read honours offset and length; offset -1 or none answers the size", async () => {
  const { files } = await sandbox();
  const h = new FilesHandlers(files);
  const p = "/frameworks/f/executors/e/runs/latest/stdout";
  assert.deepEqual(JSON.parse(body(await h.read(get(`/files/read?path=${p}&offset=0`)))), {
    offset: 0,
    data: "hello\nworld\n",
  });
  assert.deepEqual(JSON.parse(body(await h.read(get(`/files/read?path=${p}&offset=6&length=3`)))), {
    offset: 6,
    data: "wor",
  });
  assert.deepEqual(JSON.parse(body(await h.read(get(`/files/read?path=${p}&offset=-1`)))), {
    offset: 12,
    data: "",
  });
  assert.deepEqual(JSON.parse(body(await h.read(get(`/files/read?path=${p}`)))), {
    offset: 12,
    data: "",
  });
  assert.deepEqual(JSON.parse(body(await h.read(get(`/files/read?path=${p}&offset=100`)))), {
    offset: 100,
    data: "",
  });
  const jsonp = await h.read(get(`/files/read?path=${p}&offset=0&length=1&jsonp=cb`));
  assert.equal(body(jsonp), 'cb({"offset":0,"data":"h"})');
  assert.equal((await h.read(get(`/files/read?path=${p}&offset=x`))).status, 400);
  assert.equal((await h.read(get(`/files/read?path=${p}&offset=-2`))).status, 400);
  assert.equal((await h.read(get("/files/read?offset=0"))).status, 400);
});

test("files: '..' and links to existing files outside the root are 400, unattached or missing paths 404 (as Mesos)", async () => {
  const { files } = await sandbox();
  const h = new FilesHandlers(files);
  const base = "/frameworks/f/executors/e/runs/latest";
  const status = async (p: string) => (await h.read(get(`/files/read?path=${p}&offset=0`))).status;
  assert.equal(await status(`${base}/../../../../../../etc/passwd`), 400);
  assert.equal(await status(`${base}/escape`), 400);
  assert.equal(await status(`${base}/../nonexistent`), 404);
  assert.equal(await status(`${base}/nothing-here`), 404);
  assert.equal(await status("/etc/passwd"), 404);
  assert.equal(await status(`${base}/inside`), 200);
  assert.equal(await status(`${base}/sub`), 400);
  assert.equal((await h.browse(get(`/files/browse?path=${base}/../..`))).status, 400);
  await assert.rejects(files.read(`${base}/escape`, 0), (e: unknown) => e instanceof FilesError);
});

test("files: download sends the file as an attachment; debug maps virtual to real paths", async () => {
  const { files, root } = await sandbox();
  const h = new FilesHandlers(files);
  const r = await h.download(
    get("/files/download?path=/frameworks/f/executors/e/runs/latest/sub/a.txt"),
  );
  assert.equal(r.kind, "stream");
  assert.equal(r.headers["Content-Disposition"], "attachment; filename=a.txt");
  assert.equal(r.headers["Content-Type"], "text/plain");
  assert.equal(
    (await h.download(get("/files/download?path=/frameworks/f/executors/e/runs/latest/sub")))
      .status,
    400,
  );
  const debug = JSON.parse(body(h.debug(get("/files/debug")))) as Record<string, string>;
  assert.ok(debug["/frameworks/f/executors/e/runs/latest"]?.endsWith(root.split("/").pop() ?? "?"));
});

test("files: an attached single file serves only itself", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "mesos-master.INFO"), "log line\n");
  const files = new VirtualFiles();
  await files.attach(join(dir, "mesos-master.INFO"), "/master/log");
  assert.equal((await files.read("/master/log", 0)).data.toString(), "log line\n");
  await assert.rejects(
    files.read("/master/log/x", 0),
    (e: unknown) => (e as FilesError).status === 404,
  );
});

test("files: mode text and range parsing follow Mesos", () => {
  assert.equal(modeString(0o040755), "drwxr-xr-x");
  assert.equal(modeString(0o100644), "-rw-r--r--");
  assert.equal(modeString(0o120777), "lrwxrwxrwx");
  assert.deepEqual(parseReadRange(new URLSearchParams("length=-1")), {
    ok: true,
    offset: -1,
    length: undefined,
  });
});

// ---- logging toggle -------------------------------------------------------

test("logging toggle: raises the verbosity for the duration, then reverts", () => {
  const clock = new ManualClock();
  const logger = new GlogLogger({ program: "t", stderr: { write: () => {} }, clock, verbosity: 1 });
  const levels = new LoggingLevels(logger);
  assert.equal(body(levels.toggle(get("/logging/toggle"))), "1\n");
  assert.equal(levels.toggle(get("/logging/toggle?level=3&duration=10secs")).status, 200);
  assert.equal(logger.verbosity, 3);
  assert.equal(levels.level, 3);
  clock.advance(9_999);
  assert.equal(logger.verbosity, 3);
  clock.advance(1);
  assert.equal(logger.verbosity, 1);
});

test("logging toggle: both parameters or neither; bad values are 400", () => {
  const clock = new ManualClock();
  const logger = new GlogLogger({ program: "t", stderr: { write: () => {} }, clock, verbosity: 1 });
  const levels = new LoggingLevels(logger);
  assert.equal(
    body(levels.toggle(get("/logging/toggle?level=2"))),
    "Expecting 'duration=value' in query.\n",
  );
  assert.equal(
    body(levels.toggle(get("/logging/toggle?duration=1secs"))),
    "Expecting 'level=value' in query.\n",
  );
  assert.equal(levels.toggle(get("/logging/toggle?level=0&duration=1secs")).status, 400);
  assert.equal(levels.toggle(get("/logging/toggle?level=x&duration=1secs")).status, 400);
  assert.equal(levels.toggle(get("/logging/toggle?level=2&duration=soon")).status, 400);
  // Any method, as Mesos' handler does not look at it.
  assert.equal(levels.toggle(get("/logging/toggle", {}, "PUT")).status, 200);
  assert.equal(logger.verbosity, 1);
});

// ---- help -----------------------------------------------------------------

const sources = [
  {
    id: "master",
    routes: () => [
      { path: "/state", methods: ["GET"], help: "Master state.\nEverything the master knows." },
      { path: "/teardown", methods: ["POST"], help: "Tears a framework down." },
    ],
  },
  { id: "metrics", routes: () => [{ path: "/snapshot", methods: ["GET"], help: "Metrics." }] },
  { id: "empty", routes: () => [] },
];

test("help: lists processes, their endpoints and one endpoint's usage", () => {
  const top = helpPage(sources, undefined, undefined);
  assert.ok(top.ok);
  assert.match(top.markdown, /\[\/master\]\(\/help\/master\)/);
  assert.doesNotMatch(top.markdown, /empty/);
  const master = helpPage(sources, "master", undefined);
  assert.ok(master.ok);
  assert.match(master.markdown, /\/master\/state.*Master state\./);
  assert.match(master.markdown, /\/master\/teardown/);
  const state = helpPage(sources, "master", "state");
  assert.ok(state.ok);
  assert.match(state.markdown, /### USAGE ###\n>\s+\/master\/state/);
  assert.match(state.markdown, /### DESCRIPTION ###\nEverything the master knows\./);
  assert.deepEqual(helpPage(sources, "nope", undefined), {
    ok: false,
    message: "No help available for '/nope'.",
  });
  assert.equal(helpPage(sources, "master", "nothing").ok, false);
});

test("help: browsers get HTML, other clients Markdown, ?format=json the whole map", () => {
  const html = serveHelp(
    get("/help/master", { accept: "text/html,application/xhtml+xml" }),
    sources,
    "master",
  );
  assert.match(String(html.headers["Content-Type"]), /^text\/html/);
  assert.match(body(html), /<a href="\/help\/master\/state">\/master\/state<\/a>/);
  const md = serveHelp(get("/help/master", { accept: "*/*" }), sources, "master");
  assert.match(String(md.headers["Content-Type"]), /^text\/x-markdown/);
  const json = JSON.parse(body(serveHelp(get("/help?format=json"), sources, ""))) as Record<
    string,
    unknown
  >;
  assert.deepEqual(Object.keys(json), ["master", "metrics"]);
  assert.equal(serveHelp(get("/help/nope"), sources, "nope").status, 400);
});

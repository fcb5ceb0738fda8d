/**
 * `/files` and `/logging/toggle` answer malformed input with Mesos' status
 * and one-line body: integer parameters in stout's syntax and wording, the
 * download Content-Type table, unresolvable sandbox paths, an empty v1 path.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  FilesHandlers,
  listFilesResult,
  parseReadRange,
  readFileResult,
} from "../../src/common/files/files-http.js";
import { numifyInteger } from "../../src/common/files/numify.js";
import { FilesError, VirtualFiles } from "../../src/common/files/virtual-files.js";
import { LoggingLevels } from "../../src/common/http/logging-toggle.js";
import { HttpRequest } from "../../src/common/http/request.js";
import type {
  BodyResponse,
  HttpResponse,
  StreamingResponse,
} from "../../src/common/http/response.js";
import type { LengthAwareStream } from "../../src/common/http/server.js";
import { GlogLogger } from "../../src/common/observability/glog.js";
import { ManualClock } from "../../src/common/time/clock.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function get(path: string): HttpRequest {
  const q = path.indexOf("?");
  return new HttpRequest({
    method: "GET",
    path: q < 0 ? path : path.slice(0, q),
    rawQuery: q < 0 ? "" : path.slice(q + 1),
    headers: {},
    body: new Uint8Array(),
    remoteAddress: "127.0.0.1",
    remotePort: 1,
  });
}

function text(r: HttpResponse): string {
  return Buffer.from((r as BodyResponse).body ?? "").toString();
}

const BASE = "/frameworks/f/executors/e/runs/latest";

async function sandbox(): Promise<VirtualFiles> {
  const root = mkdtempSync(join(tmpdir(), "files-conformance-"));
  const outside = mkdtempSync(join(tmpdir(), "files-conformance-out-"));
  dirs.push(root, outside);
  writeFileSync(join(root, "stdout"), "0123456789abcdefghij");
  writeFileSync(join(outside, "secret"), "secret");
  symlinkSync("loop", join(root, "loop"));
  symlinkSync("nowhere", join(root, "dangling"));
  symlinkSync(join(outside, "secret"), join(root, "escape"));
  const files = new VirtualFiles();
  await files.attach(root, BASE);
  return files;
}

test("files numify: integers in stout's syntax, sized like the C type", () => {
  assert.deepEqual(numifyInteger("0x10", 64), { ok: true, value: 16, decimal: "16" });
  assert.deepEqual(numifyInteger("-0x2", 64), { ok: true, value: -2, decimal: "-2" });
  assert.deepEqual(numifyInteger("+7", 64), { ok: true, value: 7, decimal: "7" });
  for (const bad of ["", " 5", "5 ", "1.5", "1e3", "abc", "0x", "+0x1", "--1"]) {
    assert.deepEqual(
      numifyInteger(bad, 64),
      { ok: false, error: `Failed to convert '${bad}' to number` },
      bad,
    );
  }
  assert.equal(numifyInteger("9223372036854775807", 64).ok, true);
  assert.equal(numifyInteger("9223372036854775808", 64).ok, false);
  assert.equal(numifyInteger("2147483647", 32).ok, true);
  assert.equal(numifyInteger("2147483648", 32).ok, false);
  assert.equal(numifyInteger("-0x80000000", 32).ok, false);
});

test("files read: a bad offset or length is a 400 with Mesos' wording", async () => {
  const h = new FilesHandlers(await sandbox());
  const p = `${BASE}/stdout`;
  const bad = async (query: string) => {
    const r = await h.read(get(`/files/read?path=${p}&${query}`));
    return [r.status, text(r)];
  };
  assert.deepEqual(await bad("offset=abc"), [
    400,
    "Failed to parse offset: Failed to convert 'abc' to number.\n",
  ]);
  assert.deepEqual(await bad("offset=0&length=1.5"), [
    400,
    "Failed to parse length: Failed to convert '1.5' to number.\n",
  ]);
  assert.deepEqual(await bad("offset="), [
    400,
    "Failed to parse offset: Failed to convert '' to number.\n",
  ]);
  assert.deepEqual(await bad("offset=-0x2"), [400, "Negative offset provided: -2.\n"]);
  assert.deepEqual(await bad("offset=0&length=-3"), [400, "Negative length provided: -3.\n"]);
  assert.deepEqual(await bad("offset=%205"), [
    400,
    "Failed to parse offset: Failed to convert ' 5' to number.\n",
  ]);
});

test("files read: hexadecimal and signed offsets are read as Mesos reads them", async () => {
  const h = new FilesHandlers(await sandbox());
  const r = await h.read(get(`/files/read?path=${BASE}/stdout&offset=0x10&length=%2B2`));
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(text(r)), { offset: 16, data: "gh" });
  assert.deepEqual(parseReadRange(new URLSearchParams("offset=-1&length=-1")), {
    ok: true,
    offset: -1,
    length: undefined,
  });
});

test("files read: an offset past the end beyond 2^53 is echoed with every digit, as Mesos' 64-bit offset", async () => {
  const h = new FilesHandlers(await sandbox());
  for (const offset of ["9223372036854775807", "0x7fffffffffffffff"]) {
    const r = await h.read(get(`/files/read?path=${BASE}/stdout&offset=${offset}`));
    assert.equal(r.status, 200);
    assert.equal(text(r), '{"offset":9223372036854775807,"data":""}', offset);
  }
  const small = await h.read(get(`/files/read?path=${BASE}/stdout&offset=9007199254740991`));
  assert.equal(text(small), '{"offset":9007199254740991,"data":""}');
});

test("files download: Content-Type comes from libprocess' table, by exact extension", async () => {
  const types: Record<string, string> = {
    stdout: "application/octet-stream",
    "a.txt": "text/plain",
    "b.TXT": "application/octet-stream",
    "mesos-agent.INFO": "application/octet-stream",
    "x.log": "application/octet-stream",
    "x.json": "application/octet-stream",
    "x.tar.gz": "application/octet-stream",
    "x.tar": "application/x-tar",
    "x.js": "application/x-javascript",
    "x.xml": "text/xml",
    "x.html": "text/html",
    "x.py": "text/x-python",
    "x.mp4": "video/mp4",
  };
  const root = mkdtempSync(join(tmpdir(), "files-conformance-types-"));
  dirs.push(root);
  for (const name of Object.keys(types)) writeFileSync(join(root, name), "x");
  const files = new VirtualFiles();
  await files.attach(root, BASE);
  const h = new FilesHandlers(files);
  for (const [name, type] of Object.entries(types)) {
    const r = await h.download(get(`/files/download?path=${BASE}/${name}`));
    assert.equal(r.status, 200, name);
    assert.equal(r.headers["Content-Type"], type, name);
    assert.equal(r.headers["Content-Disposition"], `attachment; filename=${name}`, name);
  }
});

/** Runs a streaming response into memory: the declared length and the bytes. */
function collect(
  r: StreamingResponse,
): Promise<{ declared?: number; body: string; aborted: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let declared: number | undefined;
    const done = (aborted: boolean) =>
      resolve({ declared, body: Buffer.concat(chunks).toString(), aborted });
    const stream: LengthAwareStream = {
      write: (chunk) => {
        chunks.push(Buffer.from(chunk));
        return true;
      },
      end: () => done(false),
      abort: () => done(true),
      declareLength: (n) => {
        declared = n;
      },
      onClose: () => {},
      onDrain: () => {},
      closed: false,
      remote: "test",
    };
    r.start(stream);
  });
}

test("files download: a file goes out with its size at the request, and only that much", async () => {
  const root = mkdtempSync(join(tmpdir(), "files-conformance-size-"));
  dirs.push(root);
  writeFileSync(join(root, "stdout"), "abc");
  writeFileSync(join(root, "empty"), "");
  const files = new VirtualFiles();
  await files.attach(root, BASE);
  const h = new FilesHandlers(files);
  const r = await h.download(get(`/files/download?path=${BASE}/stdout`));
  assert.equal(r.kind, "stream");
  const got = collect(r as StreamingResponse);
  appendFileSync(join(root, "stdout"), "def");
  assert.deepEqual(await got, { declared: 3, body: "abc", aborted: false });
  const empty = await h.download(get(`/files/download?path=${BASE}/empty`));
  assert.deepEqual(await collect(empty as StreamingResponse), {
    declared: 0,
    body: "",
    aborted: false,
  });
});

test("files: a FIFO in a sandbox reads and downloads as empty instead of hanging", {
  timeout: 10_000,
}, async () => {
  const root = mkdtempSync(join(tmpdir(), "files-conformance-fifo-"));
  dirs.push(root);
  execFileSync("mkfifo", [join(root, "pipe")]);
  const files = new VirtualFiles();
  await files.attach(root, BASE);
  const h = new FilesHandlers(files);
  const read = await h.read(get(`/files/read?path=${BASE}/pipe&offset=0`));
  assert.equal(read.status, 200);
  assert.deepEqual(JSON.parse(text(read)), { offset: 0, data: "" });
  const download = await h.download(get(`/files/download?path=${BASE}/pipe`));
  assert.equal(download.status, 200);
  assert.deepEqual(await collect(download as StreamingResponse), {
    declared: undefined,
    body: "",
    aborted: false,
  });
});

test("files: a symbolic link loop in a sandbox is a 400 naming the path, not a 500", async () => {
  const files = await sandbox();
  const h = new FilesHandlers(files);
  const root = files.debug()[BASE];
  for (const endpoint of ["read", "browse", "download"] as const) {
    const r = await h[endpoint](get(`/files/${endpoint}?path=${BASE}/loop&offset=0`));
    assert.equal(r.status, 400, endpoint);
    assert.equal(
      text(r),
      `Failed to determine canonical path of '${root}/loop': Too many levels of symbolic links.\n`,
      endpoint,
    );
  }
});

test("files browse: links that lead nowhere or loop are left out, as Mesos cannot stat them", async () => {
  const h = new FilesHandlers(await sandbox());
  const r = await h.browse(get(`/files/browse?path=${BASE}`));
  assert.equal(r.status, 200);
  const names = (JSON.parse(text(r)) as { path: string }[]).map((e) => e.path);
  assert.deepEqual(names, [`${BASE}/escape`, `${BASE}/stdout`]);
});

test("files: a link leaving the sandbox is Mesos' 400 naming the host path, on every endpoint", async () => {
  const files = await sandbox();
  const h = new FilesHandlers(files);
  const root = files.debug()[BASE];
  for (const endpoint of ["read", "browse", "download"] as const) {
    const r = await h[endpoint](get(`/files/${endpoint}?path=${BASE}/escape&offset=0`));
    assert.equal(r.status, 400, endpoint);
    assert.equal(text(r), `'${root}/escape' is inaccessible.\n`, endpoint);
  }
  for (const call of [
    listFilesResult(files, `${BASE}/escape`),
    readFileResult(files, `${BASE}/escape`, 0, undefined),
  ]) {
    await assert.rejects(
      call,
      (e: unknown) =>
        e instanceof FilesError &&
        e.status === 400 &&
        e.message === `'${root}/escape' is inaccessible.`,
    );
  }
});

test("files: an unknown path is a bare 404 (no body), as Mesos answers", async () => {
  const files = await sandbox();
  const h = new FilesHandlers(files);
  for (const path of [
    "/nothing/attached",
    `${BASE}/nosuch`,
    `${BASE}/dangling`,
    `${BASE}/stdout/x`,
  ]) {
    for (const endpoint of ["read", "browse", "download"] as const) {
      const r = await h[endpoint](
        get(`/files/${endpoint}?path=${encodeURIComponent(path)}&offset=0`),
      );
      assert.equal(r.status, 404, `${endpoint} ${path}`);
      assert.equal(text(r), "", `${endpoint} ${path}`);
    }
    await assert.rejects(
      listFilesResult(files, path),
      (e: unknown) => e instanceof FilesError && e.status === 404 && e.message === "",
    );
  }
});

test("files v1: LIST_FILES and READ_FILE of an empty path are 404, as nothing is attached there", async () => {
  const files = await sandbox();
  await assert.rejects(
    listFilesResult(files, ""),
    (e: unknown) => e instanceof FilesError && e.status === 404,
  );
  await assert.rejects(
    readFileResult(files, "", 0, undefined),
    (e: unknown) => e instanceof FilesError && e.status === 404,
  );
});

test("logging toggle: the level is an int in stout's syntax, with stout's error line", () => {
  const clock = new ManualClock();
  const logger = new GlogLogger({ program: "t", stderr: { write: () => {} }, clock, verbosity: 0 });
  const levels = new LoggingLevels(logger);
  const toggle = (query: string) => {
    const r = levels.toggle(get(`/logging/toggle?${query}`));
    return [r.status, text(r)];
  };
  assert.deepEqual(toggle("level=abc&duration=1secs"), [
    400,
    "Failed to convert 'abc' to number.\n",
  ]);
  assert.deepEqual(toggle("level=1.5&duration=1secs"), [
    400,
    "Failed to convert '1.5' to number.\n",
  ]);
  assert.deepEqual(toggle("level=4294967297&duration=1secs"), [
    400,
    "Failed to convert '4294967297' to number.\n",
  ]);
  assert.deepEqual(toggle("level=-1&duration=1secs"), [400, "Invalid level '-1'.\n"]);
  assert.deepEqual(toggle("level=1&duration=1"), [400, "Invalid duration '1'.\n"]);
  assert.equal(logger.verbosity, 0);
  assert.equal(toggle("level=0x2&duration=1secs")[0], 200);
  assert.equal(logger.verbosity, 2);
  clock.advance(1000);
  assert.equal(logger.verbosity, 0);
});

test("logging SET_LOGGING_LEVEL: a negative duration sets the level and reverts at once", () => {
  const clock = new ManualClock();
  const logger = new GlogLogger({ program: "t", stderr: { write: () => {} }, clock, verbosity: 1 });
  const levels = new LoggingLevels(logger);
  assert.equal(levels.set(3, -5000), undefined);
  assert.equal(levels.level, 3);
  clock.advance(0);
  assert.equal(levels.level, 1);
  assert.equal(levels.set(0, 1000), undefined, "a level below the starting one is allowed in v1");
  assert.equal(levels.level, 0);
  clock.advance(1000);
  assert.equal(levels.level, 1);
});

test("files: '..' is walked as the kernel walks it, after links, as Mesos resolves paths", async () => {
  const root = mkdtempSync(join(tmpdir(), "files-conformance-dots-"));
  dirs.push(root);
  writeFileSync(join(root, "stdout"), "root-stdout");
  mkdirSync(join(root, "data", "run1"), { recursive: true });
  writeFileSync(join(root, "data", "stdout"), "data-stdout");
  symlinkSync("data/run1", join(root, "work"));
  const files = new VirtualFiles();
  await files.attach(root, BASE);
  const h = new FilesHandlers(files);
  const read = async (p: string) => {
    const r = await h.read(get(`/files/read?path=${BASE}/${p}&offset=0`));
    return r.status === 200 ? (JSON.parse(text(r)) as { data: string }).data : r.status;
  };
  assert.equal(await read("work/../stdout"), "data-stdout");
  assert.equal(await read("data/run1/../../stdout"), "root-stdout");
  assert.equal(await read("nosuch/../stdout"), 404);
  // Something that exists outside is Mesos' 400 naming the joined host path;
  // nothing there, inside or out, is a bare 404.
  const r = await h.read(
    get(`/files/read?path=${BASE}/../../../../../../../../etc/passwd&offset=0`),
  );
  assert.equal(r.status, 400);
  assert.equal(
    text(r),
    `'${files.debug()[BASE]}/../../../../../../../../etc/passwd' is inaccessible.\n`,
  );
  assert.equal(await read("../nosuch-outside"), 404);
});

test("files read: a file that cannot be opened (a socket) is Mesos' 500 line", async () => {
  const root = mkdtempSync(join(tmpdir(), "files-conformance-sock-"));
  dirs.push(root);
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(join(root, "sock"), resolve));
  try {
    const files = new VirtualFiles();
    await files.attach(root, BASE);
    const r = await new FilesHandlers(files).read(get(`/files/read?path=${BASE}/sock&offset=0`));
    assert.equal(r.status, 500);
    assert.equal(text(r), `Failed to open file at '${BASE}/sock': No such device or address.\n`);
  } finally {
    server.close();
  }
});

test("files: attaching a missing file fails with Mesos' line and strerror's words", async () => {
  const files = new VirtualFiles();
  const missing = join(tmpdir(), `no-such-log-${process.pid}`, "mesos-master.INFO");
  await assert.rejects(files.attach(missing, "/master/log"), {
    message: `Failed to get realpath of '${missing}': No such file or directory`,
  });
  assert.equal(files.isAttached("/master/log"), false);
});

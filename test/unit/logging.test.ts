import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { pathToFileURL } from "node:url";
import { packageRoot } from "../../src/common/flags/install-paths.js";
import {
  createDaemonLogger,
  formatGlogLine,
  formatJsonLine,
  GlogLogger,
  type GlogOptions,
  preciseWallClock,
} from "../../src/common/observability/glog.js";
import { decodeLineTable } from "../../src/common/observability/glog-source.js";
import { logFileHeader, logFileName } from "../../src/common/observability/log-files.js";
import { ManualClock } from "../../src/common/time/clock.js";

/** 2024-12-28 07:29:16.367847 local time. */
const T = new Date(2024, 11, 28, 7, 29, 16, 367).getTime() + 0.847;

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "logging-test-"));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function capture(options: Partial<GlogOptions> = {}) {
  const lines: string[] = [];
  const logger = new GlogLogger({
    program: "mesos-test",
    stderr: { write: (s: string) => lines.push(s) },
    now: () => T,
    pid: 2900,
    ...options,
  });
  return { logger, lines };
}

/** The line in this test's TypeScript source that holds `marker`. */
function sourceLineOf(marker: string): number {
  const text = readFileSync(join(packageRoot(), "test", "unit", "logging.test.ts"), "utf8");
  return text.split("\n").findIndex((l) => l.includes(marker) && !l.includes("sourceLineOf")) + 1;
}

test("logging: a line has glog's layout", () => {
  assert.equal(
    formatGlogLine("INFO", T, 2900, "master.ts:318", "Elected as the leading master!"),
    "I1228 07:29:16.367847  2900 master.ts:318] Elected as the leading master!\n",
  );
  assert.equal(
    formatGlogLine("WARNING", T, 123456, "a.ts:1", "x\n"),
    "W1228 07:29:16.367847 123456 a.ts:1] x\n",
  );
  assert.match(
    formatGlogLine("ERROR", T, 7, "a.ts:1", "x"),
    /^E1228 07:29:16\.367847 {5}7 a\.ts:1\] x\n$/,
  );
});

test("logging: the JSON form carries the same fields", () => {
  const parsed = JSON.parse(formatJsonLine("WARNING", T, 9, "a.ts:2", "hi")) as Record<
    string,
    unknown
  >;
  assert.deepEqual(parsed, {
    time: new Date(T).toISOString(),
    level: "WARNING",
    pid: 9,
    source: "a.ts:2",
    message: "hi",
  });
});

test("logging: each line names the TypeScript file and line that logged it", () => {
  const { logger, lines } = capture();
  logger.info("from the test"); // SOURCE-MARKER-1
  const expected = sourceLineOf("SOURCE-MARKER-1");
  assert.ok(expected > 0);
  assert.equal(
    lines[0],
    `I1228 07:29:16.367847  2900 logging.test.ts:${expected}] from the test\n`,
  );
});

test("logging: a child logger prefixes messages and still names the caller", () => {
  const { logger, lines } = capture();
  const child = logger.child("Framework f1: ");
  child.warn("slow"); // SOURCE-MARKER-2
  assert.equal(
    lines[0],
    `W1228 07:29:16.367847  2900 logging.test.ts:${sourceLineOf("SOURCE-MARKER-2")}] Framework f1: slow\n`,
  );
});

test("logging: without lookup the fixed source is shown", () => {
  const { logger, lines } = capture({ sourceLookup: false, source: "agent.ts:0" });
  logger.error("boom");
  assert.equal(lines[0], "E1228 07:29:16.367847  2900 agent.ts:0] boom\n");
});

test("logging: --logging_level drops lower levels", () => {
  const { logger, lines } = capture({ minLevel: "WARNING" });
  logger.info("no");
  logger.verbose(0, "no");
  logger.warn("yes");
  logger.error("yes");
  assert.deepEqual(
    lines.map((l) => l[0]),
    ["W", "E"],
  );
});

test("logging: --quiet writes nothing to stderr", () => {
  const { logger, lines } = capture({ quiet: true });
  logger.error("nothing");
  assert.deepEqual(lines, []);
});

test("logging: verbose lines follow the verbosity (GLOG_v)", () => {
  const { logger, lines } = capture({ verbosity: 1 });
  logger.verbose(1, "shown");
  logger.verbose(2, "hidden");
  assert.equal(lines.length, 1);
  assert.match(lines[0] ?? "", /^I.*\] shown\n$/);
  assert.equal(logger.isVerbose(1), true);
  assert.equal(logger.isVerbose(2), false);
});

test("logging: setLevel raises the verbosity for a while, then restores it", () => {
  const clock = new ManualClock();
  const { logger, lines } = capture({ clock });
  logger.verbose(2, "before");
  logger.setLevel(3, 60_000);
  assert.equal(logger.verbosity, 3);
  logger.verbose(2, "during");
  clock.advance(30_000);
  logger.setLevel(2, 60_000);
  clock.advance(59_999);
  assert.equal(logger.verbosity, 2);
  clock.advance(1);
  assert.equal(logger.verbosity, 0);
  logger.verbose(2, "after");
  assert.equal(lines.length, 1);
  assert.match(lines[0] ?? "", /during/);
  assert.throws(() => logger.setLevel(-1, 1));
});

test("logging: JSON lines on stderr when asked", () => {
  const { logger, lines } = capture({ stderrFormat: "json" });
  logger.info("hi");
  assert.equal((JSON.parse(lines[0] ?? "{}") as { message: string }).message, "hi");
});

test("logging: log file names, links and headers follow glog", () => {
  const name = logFileName(
    { program: "mesos-master", hostname: "h1", user: "root", pid: 42 },
    "WARNING",
    T,
  );
  assert.equal(name, "mesos-master.h1.root.log.WARNING.20241228-072916.42");
  assert.equal(
    logFileHeader("h1", T),
    "Log file created at: 2024/12/28 07:29:16\nRunning on machine: h1\n" +
      "Log line format: [IWEF]mmdd hh:mm:ss.uuuuuu threadid file:line] msg\n",
  );
});

function fileLogger(dir: string, options: Partial<GlogOptions> = {}) {
  return capture({
    logDir: dir,
    hostname: "host1",
    user: "alice",
    pid: 4242,
    sourceLookup: false,
    source: "x.ts:1",
    ...options,
  });
}

test("logging: --log_dir gets one file per level, with links, and higher levels in lower files", async () => {
  const dir = join(tempDir(), "logs");
  const { logger } = fileLogger(dir);
  logger.info("one");
  logger.warn("two");
  logger.error("three");
  await logger.flush();
  logger.close();
  const names = readdirSync(dir).sort();
  assert.deepEqual(names, [
    "mesos-test.ERROR",
    "mesos-test.INFO",
    "mesos-test.WARNING",
    "mesos-test.host1.alice.log.ERROR.20241228-072916.4242",
    "mesos-test.host1.alice.log.INFO.20241228-072916.4242",
    "mesos-test.host1.alice.log.WARNING.20241228-072916.4242",
  ]);
  for (const level of ["INFO", "WARNING", "ERROR"]) {
    assert.equal(
      readlinkSync(join(dir, `mesos-test.${level}`)),
      `mesos-test.host1.alice.log.${level}.20241228-072916.4242`,
    );
  }
  const body = (level: string) =>
    readFileSync(join(dir, `mesos-test.${level}`), "utf8")
      .split("\n")
      .slice(3)
      .join("\n");
  assert.equal(
    body("INFO"),
    "I1228 07:29:16.367847  4242 x.ts:1] one\nW1228 07:29:16.367847  4242 x.ts:1] two\n" +
      "E1228 07:29:16.367847  4242 x.ts:1] three\n",
  );
  assert.equal(
    body("WARNING"),
    "W1228 07:29:16.367847  4242 x.ts:1] two\nE1228 07:29:16.367847  4242 x.ts:1] three\n",
  );
  assert.equal(body("ERROR"), "E1228 07:29:16.367847  4242 x.ts:1] three\n");
  assert.match(
    readFileSync(join(dir, "mesos-test.INFO"), "utf8"),
    /^Log file created at: 2024\/12\/28/,
  );
});

test("logging: a level's file appears only with its first line; --quiet still writes files", async () => {
  const dir = tempDir();
  const { logger, lines } = fileLogger(dir, { quiet: true });
  logger.info("only info");
  await logger.flush();
  assert.equal(logger.logFile(), join(dir, "mesos-test.host1.alice.log.INFO.20241228-072916.4242"));
  logger.close();
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.includes("WARNING")),
    [],
  );
  assert.deepEqual(lines, []);
});

test("logging: a restarted process moves the links to its new files", async () => {
  const dir = tempDir();
  const first = fileLogger(dir, { pid: 1 });
  first.logger.info("a");
  first.logger.close();
  const second = fileLogger(dir, { pid: 2 });
  second.logger.info("b");
  second.logger.close();
  assert.equal(
    readlinkSync(join(dir, "mesos-test.INFO")),
    "mesos-test.host1.alice.log.INFO.20241228-072916.2",
  );
});

test("logging: --logbufsecs holds INFO lines until the time passes; warnings flush at once", async () => {
  const dir = tempDir();
  const clock = new ManualClock();
  const { logger } = fileLogger(dir, { clock, logbufsecs: 5 });
  const info = join(dir, "mesos-test.INFO");
  const body = () => readFileSync(info, "utf8").split("\n").slice(3).join("\n");
  // As glog, the first line goes out at once (the manual clock never fires
  // the buffering timer here) and starts the buffering time.
  logger.info("first");
  for (let i = 0; i < 200 && !body().includes("first"); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.match(body(), /first\n$/);
  // Lets that write finish (a line logged under a write in progress follows it).
  await logger.flush();
  logger.info("held");
  await new Promise((r) => setTimeout(r, 50));
  assert.doesNotMatch(body(), /held/);
  clock.advance(5000);
  await logger.flush();
  assert.match(body(), /first\n.*held\n$/);
  logger.info("held again");
  logger.warn("urgent");
  await logger.flush();
  assert.match(body(), /held again\n.*urgent\n$/);
  logger.close();
});

test("logging: lines still pending at exit are written", () => {
  const dir = tempDir();
  const glog = pathToFileURL(
    join(packageRoot(), "dist", "src", "common", "observability", "glog.js"),
  ).href;
  const script =
    `import { GlogLogger } from ${JSON.stringify(glog)};\n` +
    `const l = new GlogLogger({ program: "p", logDir: ${JSON.stringify(dir)}, logbufsecs: 600, quiet: true });\n` +
    'l.info("last words");\nprocess.exit(0);\n';
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(readFileSync(join(dir, "p.INFO"), "utf8"), /last words\n$/);
});

test("logging: a log directory that cannot be written is reported once on stderr", () => {
  const blocker = join(tempDir(), "file");
  writeFileSync(blocker, "");
  const { logger, lines } = fileLogger(join(blocker, "sub"), { quiet: true });
  logger.info("a");
  logger.info("b");
  logger.close();
  assert.equal(lines.length, 1);
  assert.match(lines[0] ?? "", /^Could not create log file/);
});

test("logging: the daemon logger starts the log file as Mesos does", async () => {
  const dir = tempDir();
  const lines: string[] = [];
  const logger = createDaemonLogger(
    "mesos-master",
    { quiet: false, logging_level: "WARNING", log_dir: dir, logbufsecs: 0 },
    { GLOG_v: "1" },
    { stderr: { write: (s: string) => lines.push(s) }, hostname: "h", user: "u" },
  );
  await logger.flush();
  logger.close();
  assert.equal(lines.length, 1);
  assert.match(lines[0] ?? "", /^W.*\] WARNING level logging started!\n$/);
  assert.ok(existsSync(join(dir, "mesos-master.WARNING")));
  assert.ok(existsSync(join(dir, "mesos-master.INFO")));
});

test("logging: GLOG_v=1 shows where the daemon logs", () => {
  const lines: string[] = [];
  const logger = createDaemonLogger(
    "mesos-agent",
    { quiet: false, logging_level: "INFO", logbufsecs: 0 },
    { GLOG_v: "1" },
    { stderr: { write: (s: string) => lines.push(s) } },
  );
  logger.close();
  assert.match(lines.join(""), /\] Logging to STDERR\n$/);
});

test("logging: source maps decode to the first mapped source line of each generated line", () => {
  // Generated line 1 -> source line 1, line 2 unmapped, line 3 -> source line 4 (of b.ts).
  const table = decodeLineTable("AAAA,CAAC;;CCGA", ["a.ts", "b.ts"]);
  assert.equal(table.lines[0], 1);
  assert.equal(table.files[0], "a.ts");
  assert.equal(table.lines[1], 0);
  assert.equal(table.lines[2], 4);
  assert.equal(table.files[2], "b.ts");
});

test("logging: the line clock keeps its microseconds after a quiet second, and follows a wall clock that was set", () => {
  let mono = 10.25;
  let wallMs = 1_000_000;
  const now = preciseWallClock(
    () => Math.floor(wallMs),
    () => mono,
  );
  const first = now();
  // Two quiet seconds: the monotonic and wall clocks agree to the millisecond.
  mono += 2000.123;
  wallMs += 2000.123;
  const later = now();
  assert.ok(Math.abs(later - first - 2000.123) < 1e-6, `${later - first}`);
  assert.notEqual(Math.round(later * 1000) % 1000, 0, "sub-millisecond digits kept");
  // The wall clock was set an hour ahead: the next reading after a second follows it.
  mono += 1500;
  wallMs += 1500 + 3_600_000;
  const stepped = now();
  assert.ok(stepped >= Math.floor(wallMs) && stepped < Math.floor(wallMs) + 1, `${stepped}`);
});

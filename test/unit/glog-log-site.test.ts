import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { packageRoot } from "../../src/common/flags/install-paths.js";
import { formatGlogLine, GlogLogger } from "../../src/common/observability/glog.js";
import { LogSite } from "../../src/common/observability/logger.js";

/** 2024-12-28 07:29:16.367847 local time. */
const T = new Date(2024, 11, 28, 7, 29, 16, 367).getTime() + 0.847;

function capture(now: () => number = () => T) {
  const lines: string[] = [];
  const logger = new GlogLogger({
    program: "mesos-test",
    stderr: { write: (s: string) => lines.push(s) },
    now,
    pid: 2900,
  });
  return { logger, lines };
}

/** The line in this test's TypeScript source that holds `marker`. */
function sourceLineOf(marker: string): number {
  const text = readFileSync(join(packageRoot(), "test", "unit", "glog-log-site.test.ts"), "utf8");
  return text.split("\n").findIndex((l) => l.includes(marker) && !l.includes("sourceLineOf")) + 1;
}

const FIRST = new LogSite();
const SECOND = new LogSite();

function logFromFirstSite(logger: GlogLogger, n: number): void {
  logger.info(`update ${n}`, FIRST); // SITE-MARKER-1
}

test("logging: a LogSite names the line that logs through it, looked up once", () => {
  const { logger, lines } = capture();
  logFromFirstSite(logger, 1);
  const expected = `glog-log-site.test.ts:${sourceLineOf("SITE-MARKER-1")}`;
  assert.equal(FIRST.where, expected);
  logFromFirstSite(logger, 2);
  assert.deepEqual(lines, [
    `I1228 07:29:16.367847  2900 ${expected}] update 1\n`,
    `I1228 07:29:16.367847  2900 ${expected}] update 2\n`,
  ]);
});

test("logging: each call site keeps its own LogSite, and a child logger passes it on", () => {
  const { logger, lines } = capture();
  logger.child("Framework f1: ").warn("slow", SECOND); // SITE-MARKER-2
  logger.error("no site"); // SITE-MARKER-3
  assert.equal(SECOND.where, `glog-log-site.test.ts:${sourceLineOf("SITE-MARKER-2")}`);
  assert.equal(lines[0], `W1228 07:29:16.367847  2900 ${SECOND.where}] Framework f1: slow\n`);
  assert.equal(
    lines[1],
    `E1228 07:29:16.367847  2900 glog-log-site.test.ts:${sourceLineOf("SITE-MARKER-3")}] no site\n`,
  );
});

test("logging: the date and time are right across a second boundary and for other pids", () => {
  const before = new Date(2024, 11, 28, 7, 29, 59, 999).getTime() + 0.5;
  const after = new Date(2024, 11, 28, 7, 30, 0, 0).getTime() + 0.25;
  assert.equal(
    formatGlogLine("INFO", before, 1, "a.ts:1", "x"),
    "I1228 07:29:59.999500     1 a.ts:1] x\n",
  );
  assert.equal(
    formatGlogLine("INFO", after, 1, "a.ts:1", "x"),
    "I1228 07:30:00.000250     1 a.ts:1] x\n",
  );
  assert.equal(
    formatGlogLine("WARNING", after, 77, "a.ts:1", "x"),
    "W1228 07:30:00.000250    77 a.ts:1] x\n",
  );
  assert.equal(
    formatGlogLine("INFO", before, 1, "a.ts:1", "x"),
    "I1228 07:29:59.999500     1 a.ts:1] x\n",
  );
});

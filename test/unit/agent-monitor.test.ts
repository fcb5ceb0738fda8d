import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { executorVirtualPath } from "../../src/agent/http/sandbox-files.js";
import { parseUsage, sumUsage, treeUsages } from "../../src/agent/monitor/process-usage.js";

// A /proc/<pid>/stat line whose command name holds spaces and parentheses.
const STAT =
  "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 3 0 " +
  "123456 10000000 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";

describe("agent monitor: /proc usage", () => {
  test("agent monitor: utime, stime, threads and rss are read after the command name", () => {
    assert.deepEqual(parseUsage(STAT), {
      userTicks: 250,
      systemTicks: 75,
      threads: 3,
      rssPages: 2048,
    });
  });

  test("agent monitor: a stat line without a command name is rejected", () => {
    assert.equal(parseUsage("garbage"), undefined);
    assert.equal(parseUsage("1 (x) S a b"), undefined);
  });

  test("agent monitor: a tree's usage is the sum in seconds and bytes", () => {
    const one = { userTicks: 250, systemTicks: 75, threads: 3, rssPages: 2048 };
    const sum = sumUsage([one, { ...one, threads: 1 }]);
    assert.deepEqual(sum, {
      processes: 2,
      threads: 4,
      cpusUserTimeSecs: 5,
      cpusSystemTimeSecs: 1.5,
      memRssBytes: 2 * 2048 * 4096,
    });
  });

  test("agent monitor: the test process itself has a non-empty tree with memory", async () => {
    const usage = (await treeUsages([process.pid])).get(process.pid);
    assert.ok(usage !== undefined);
    assert.ok(usage.processes >= 1);
    assert.ok(usage.threads >= 1);
    assert.ok(usage.memRssBytes > 0);
  });

  test("agent files: the virtual sandbox path is Mesos' runs/latest form", () => {
    assert.equal(
      executorVirtualPath("fw-1", "ex-1"),
      "/frameworks/fw-1/executors/ex-1/runs/latest",
    );
  });
});

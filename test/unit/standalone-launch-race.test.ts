/**
 * Two LAUNCH_CONTAINER calls of one standalone container at once (a
 * client's retry): one container is started, the other call answers 202
 * as for a container that exists; before, both started a process and the
 * first one's was no longer known to the agent (never killed).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import type { LauncherClient } from "../../src/agent/containerizer/launcher.js";
import { NestedContainers } from "../../src/agent/containerizer/nested-containers.js";
import { ProcessSweeper } from "../../src/agent/containerizer/process-sweeper.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import { endLauncherTest } from "../harness/nested-containers-fixture.js";

const root = mkdtempSync(join(tmpdir(), "mesos-standalone-race-"));
const started: ChildProcess[] = [];
after(() => endLauncherTest(started, root));

test("two launches of one standalone container at once start it once; the other is 202", async () => {
  const launcher = {
    async spawn(req: { cwd?: string }) {
      const c = spawn("sleep", ["1000"], { cwd: req.cwd ?? root, stdio: "ignore" });
      started.push(c);
      return { id: 0, pid: c.pid ?? -1 };
    },
  } as unknown as LauncherClient;
  const nested = new NestedContainers({
    launcher,
    logger: silentLogger,
    isolators: [],
    sweeper: new ProcessSweeper(silentLogger),
    workDir: root,
    parentOf: () => undefined,
  });
  try {
    const launch = () => nested.launchStandalone({ containerId: "sa", command: { value: "x" } });
    const results = await Promise.all([launch(), launch()]);
    assert.equal(started.length, 1, "one process for one container");
    assert.ok(results.some((r) => "ok" in r));
    assert.ok(
      results.some((r) => !("ok" in r) && r.status === 202),
      JSON.stringify(results),
    );
    assert.equal(nested.listStandalone()[0]?.pid, started[0]?.pid);
  } finally {
    nested.stop();
  }
});

test("a LAUNCH_CONTAINER during the REMOVE_CONTAINER of the same ended standalone container keeps its new sandbox", async () => {
  const workDir = join(root, "remove-launch");
  let spawned = 0;
  const launcher = {
    async spawn(req: { cwd?: string }) {
      spawned++;
      const c = spawn("sleep", ["1000"], { cwd: req.cwd ?? root, stdio: "ignore" });
      started.push(c);
      return { id: 0, pid: c.pid ?? -1 };
    },
  } as unknown as LauncherClient;
  const nested = new NestedContainers({
    launcher,
    logger: silentLogger,
    isolators: [],
    sweeper: new ProcessSweeper(silentLogger),
    workDir,
    parentOf: () => undefined,
  });
  try {
    const launch = () => nested.launchStandalone({ containerId: "again", command: { value: "x" } });
    assert.ok("ok" in (await launch()));
    const first = started.at(-1);
    assert.ok(first?.pid !== undefined);
    first.kill("SIGKILL");
    assert.equal(nested.processExited(first.pid, { code: null, signal: "SIGKILL" }), true);
    const end = nested.wait(undefined, "again");
    assert.ok(end !== undefined);
    await end;
    const [removed, relaunched, removedAgain] = await Promise.all([
      nested.removeStandalone("again"),
      launch(),
      nested.removeStandalone("again"),
    ]);
    assert.equal(removed, "removed");
    assert.equal(removedAgain, "removed");
    assert.ok("ok" in relaunched, JSON.stringify(relaunched));
    assert.equal(spawned, 2);
    const sandbox = join(workDir, "containers", "again");
    assert.ok(existsSync(sandbox), "the relaunched container's sandbox is there");
    assert.equal(nested.listStandalone()[0]?.pid, started.at(-1)?.pid);
  } finally {
    nested.stop();
  }
});

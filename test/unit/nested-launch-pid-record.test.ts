/**
 * A nested container's launch is answered only once its pid is
 * checkpointed, as Mesos checkpoints the pid before its launch completes: a
 * record still marked `launching` makes a restarted agent destroy the
 * container, so an agent killed just after answering must not leave one.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  endLauncherTest,
  nestedContainersFixture,
  sleepingLauncher,
} from "../harness/nested-containers-fixture.js";

const started: ChildProcess[] = [];
const root = mkdtempSync(join(tmpdir(), "mesos-nested-pid-record-"));

after(() => endLauncherTest(started, root));

test("a nested container's launch resolves with its pid already in its record", async () => {
  const sandbox = join(root, "exec-sandbox");
  mkdirSync(sandbox, { recursive: true });
  const launcher = sleepingLauncher(started, root);
  const nested = nestedContainersFixture(launcher, sandbox, { workDir: root });
  try {
    const launched = await nested.launch({
      parentId: "exec",
      childId: "task",
      command: { value: "sleep 1000" },
    });
    assert.ok("ok" in launched, JSON.stringify(launched));
    const record = JSON.parse(
      readFileSync(join(root, "meta", "nested-containers", "exec", "task.json"), "utf8"),
    ) as { pid?: number; launching?: boolean };
    assert.equal(record.launching, undefined, "not marked launching any more");
    assert.equal(record.pid, started[0]?.pid);
  } finally {
    nested.stop();
  }
});

/**
 * SIGUSR1 to the master. Mesos' master has no handler for it, so the signal
 * ends it; ours stops as on SIGTERM. Node must not open its inspector (a
 * debugger port) on that signal instead.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { startMaster, stopAll, waitLong } from "../harness/processes.js";

after(stopAll);

test("master: SIGUSR1 stops it (exit 0), no inspector is opened", async () => {
  const master = await startMaster();
  let exitCode: number | null | undefined;
  void master.exited.then((code) => {
    exitCode = code;
  });
  master.kill("SIGUSR1");
  await waitLong("the master to exit", () => exitCode !== undefined);
  assert.equal(exitCode, 0, master.logs());
  assert.match(master.logs(), /Received SIGUSR1; shutting down/);
  assert.doesNotMatch(master.logs(), /Debugger listening/);
});

/**
 * Paced launches through the real launcher helper (`--executor_launch_concurrency`):
 * a paced spawn waits while the limit of started-but-not-ready processes is
 * reached; a process frees its slot by writing to its ready pipe, by exiting,
 * or by being cancelled before it started.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { LauncherClient } from "../../src/agent/containerizer/launcher.js";
import {
  READY_FD_VARIABLE as PROTOCOL_READY_FD_VARIABLE,
  type SpawnReply,
} from "../../src/agent/containerizer/launcher-protocol.js";
import type { Logger } from "../../src/common/observability/logger.js";
import { READY_FD_VARIABLE, readySignal } from "../../src/executor/command-executor-main.js";
import { waitFor } from "../harness/processes.js";

const silentLogger: Logger = { info() {}, warn() {}, error() {}, verbose() {} };
const dirs: string[] = [];
const pids: number[] = [];

after(() => {
  for (const pid of pids) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A script that records its environment, waits for `<name>.go`, then signals ready and sleeps. */
function waiter(name: string): string {
  return [
    `env > ${name}.env`,
    `while [ ! -e ${name}.go ]; do sleep 0.02; done`,
    `if [ -n "$${READY_FD_VARIABLE}" ]; then echo ready >&$${READY_FD_VARIABLE}; fi`,
    `exec 3>&-`,
    `touch ${name}.started`,
    "exec sleep 30",
  ].join("; ");
}

function spawnWaiter(
  launcher: LauncherClient,
  box: string,
  name: string,
  paceLimit: number | undefined,
  signal?: AbortSignal,
): Promise<SpawnReply> {
  const reply = launcher.spawn(
    {
      op: "spawn",
      file: "/bin/sh",
      args: ["sh", "-c", waiter(name)],
      env: { PATH: "/usr/bin:/bin" },
      cwd: box,
      stdout: join(box, `${name}.out`),
      stderr: join(box, `${name}.err`),
      ...(paceLimit === undefined ? {} : { paceLimit }),
    },
    signal,
  );
  reply.then(
    (r) => pids.push(r.pid),
    () => {},
  );
  return reply;
}

/** Resolves to "pending" if `p` has not settled once the helper answered a later request. */
async function settledBy(launcher: LauncherClient, p: Promise<unknown>): Promise<string> {
  let state = "pending";
  p.then(
    () => {
      state = "resolved";
    },
    () => {
      state = "rejected";
    },
  );
  // One round trip through the helper: anything it would start at once has been answered.
  await launcher.run({ op: "run", file: "true", args: [] });
  await launcher.run({ op: "run", file: "true", args: [] });
  return state;
}

describe("launcher helper: paced launches", () => {
  it("the protocol and the executor agree on the ready variable", () => {
    assert.equal(PROTOCOL_READY_FD_VARIABLE, READY_FD_VARIABLE);
  });

  it("starts a paced spawn only when the one before signalled ready; unpaced ones at once", async () => {
    const box = mkdtempSync(join(tmpdir(), "pacing-"));
    dirs.push(box);
    const launcher = new LauncherClient(
      silentLogger,
      () => {},
      () => {},
    );
    try {
      const a = spawnWaiter(launcher, box, "a", 1);
      const b = spawnWaiter(launcher, box, "b", 1);
      await a;
      assert.equal(await settledBy(launcher, b), "pending", "b waits while a is starting");
      // An unpaced spawn does not wait and gets no ready pipe.
      await spawnWaiter(launcher, box, "u", undefined);
      await waitFor("u's environment", () => existsSync(join(box, "u.env")));
      writeFileSync(join(box, "a.go"), "");
      await b;
      await waitFor("a and b's environments", () => existsSync(join(box, "b.env")));
      assert.match(
        readFileSync(join(box, "a.env"), "utf8"),
        new RegExp(`^${READY_FD_VARIABLE}=3$`, "m"),
      );
      assert.doesNotMatch(readFileSync(join(box, "u.env"), "utf8"), new RegExp(READY_FD_VARIABLE));
    } finally {
      launcher.stop();
    }
  });

  it("an exit frees the slot, and a cancelled spawn never starts", async () => {
    const box = mkdtempSync(join(tmpdir(), "pacing-"));
    dirs.push(box);
    const launcher = new LauncherClient(
      silentLogger,
      () => {},
      () => {},
    );
    try {
      const a = await spawnWaiter(launcher, box, "a", 1);
      const abort = new AbortController();
      const c = spawnWaiter(launcher, box, "c", 1, abort.signal);
      const d = spawnWaiter(launcher, box, "d", 1);
      assert.equal(await settledBy(launcher, c), "pending");
      abort.abort();
      await assert.rejects(c, /cancelled before it started/);
      assert.equal(await settledBy(launcher, d), "pending", "d still waits for a");
      process.kill(-a.pid, "SIGKILL");
      await d;
      await waitFor("d's environment", () => existsSync(join(box, "d.env")));
      assert.equal(existsSync(join(box, "c.env")), false, "the cancelled spawn never ran");
    } finally {
      launcher.stop();
    }
  });

  it("the executor's ready signal takes the variable out of the environment and writes once", () => {
    const env: NodeJS.ProcessEnv = { [READY_FD_VARIABLE]: "not-a-fd", OTHER: "x" };
    const signal = readySignal(env);
    assert.deepEqual(env, { OTHER: "x" });
    signal();
    signal();
    const none: NodeJS.ProcessEnv = {};
    readySignal(none)();
    assert.deepEqual(none, {});
  });
});

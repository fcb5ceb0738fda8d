/**
 * The executor host's pieces: the launch/event lines between launcher helper
 * and host, the stand-in recognition the monitor uses, and the host loop
 * itself with fake executors (real stand-in processes).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { type HostedExecutor, serveExecutorHost } from "../../src/executor/executor-host.js";
import {
  HOSTED_BY_VARIABLE,
  type HostEvent,
  hostKey,
  parseHostEvent,
  parseHostLaunch,
  standInOfEnvironment,
} from "../../src/executor/host-protocol.js";
import { alive } from "../harness/proc-scan.js";

const launchLine = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    op: "launch",
    id: 7,
    env: { MESOS_DIRECTORY: "/sb", MESOS_EXECUTOR_ID: "e1" },
    cwd: "/sb",
    stdout: "/sb/stdout",
    stderr: "/sb/stderr",
    ...over,
  });

test("host protocol: a launch line is parsed, bad ones get a reason", () => {
  const ok = parseHostLaunch(launchLine());
  assert.ok(!("error" in ok));
  assert.equal(ok.id, 7);
  assert.equal(ok.env.MESOS_EXECUTOR_ID, "e1");
  assert.equal(ok.stderr, "/sb/stderr");
  assert.deepEqual(parseHostLaunch("{"), { error: "not JSON" });
  assert.deepEqual(parseHostLaunch(launchLine({ op: "spawn" })), { error: "not a launch" });
  assert.deepEqual(parseHostLaunch(launchLine({ id: 0 })), {
    error: "the launch has no valid id",
  });
  assert.deepEqual(parseHostLaunch(launchLine({ env: { A: 1 } })), {
    error: "the launch's env is not a map of strings",
  });
  assert.deepEqual(parseHostLaunch(launchLine({ cwd: "" })), { error: "the launch has no cwd" });
  assert.deepEqual(parseHostLaunch(launchLine({ stdout: undefined })), {
    error: "the launch has no stdout",
  });
});

test("host protocol: events are parsed; malformed ones are not events", () => {
  assert.deepEqual(parseHostEvent('{"event":"started","id":3,"pid":99,"startTime":1234}'), {
    event: "started",
    id: 3,
    pid: 99,
    startTime: 1234,
  });
  assert.deepEqual(parseHostEvent('{"event":"started","id":3,"pid":99}'), {
    event: "started",
    id: 3,
    pid: 99,
  });
  assert.deepEqual(parseHostEvent('{"event":"failed","id":3,"error":"no"}'), {
    event: "failed",
    id: 3,
    error: "no",
  });
  assert.deepEqual(parseHostEvent('{"event":"exit","pid":5,"code":3,"signal":null}'), {
    event: "exit",
    pid: 5,
    code: 3,
    signal: null,
  });
  assert.deepEqual(parseHostEvent('{"event":"exit","pid":5,"code":null,"signal":"SIGKILL"}'), {
    event: "exit",
    pid: 5,
    code: null,
    signal: "SIGKILL",
  });
  for (const bad of [
    "",
    "x",
    "[]",
    '{"event":"exit","pid":5}',
    '{"event":"started","id":3}',
    '{"event":"started","id":-1,"pid":4}',
    '{"event":"failed","id":3}',
    '{"event":"other","id":3}',
  ]) {
    assert.equal(parseHostEvent(bad), undefined, bad);
  }
});

test("host protocol: hosts are shared only by the same program, arguments and user", () => {
  const base = { file: "/node", args: ["node", "/x.cjs"] };
  assert.equal(hostKey(base), hostKey({ ...base, args: ["node", "/x.cjs"] }));
  assert.notEqual(hostKey(base), hostKey({ ...base, uid: 1000, gid: 1000 }));
  assert.notEqual(
    hostKey({ ...base, uid: 1000, gid: 1000 }),
    hostKey({ ...base, uid: 1001, gid: 1000 }),
  );
  assert.notEqual(hostKey(base), hostKey({ ...base, args: ["node", "/y.cjs"] }));
});

test("host protocol: a stand-in is recognised by its environment", () => {
  const env = (vars: string[]) => Buffer.from(`${vars.join("\0")}\0`);
  assert.deepEqual(
    standInOfEnvironment(env([`${HOSTED_BY_VARIABLE}=42`, "MESOS_DIRECTORY=/w/sb", "PATH=/bin"])),
    { hostPid: 42, directory: "/w/sb" },
  );
  assert.equal(standInOfEnvironment(env(["MESOS_DIRECTORY=/w/sb"])), undefined);
  assert.equal(
    standInOfEnvironment(env([`${HOSTED_BY_VARIABLE}=x`, "MESOS_DIRECTORY=/a"])),
    undefined,
  );
  assert.equal(standInOfEnvironment(env([`${HOSTED_BY_VARIABLE}=42`])), undefined);
});

async function until(what: string, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A fake executor the test ends by hand. */
function fakeExecutor(): HostedExecutor & { finish(code: number): void; calls: string[] } {
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => {
    finish = resolve;
  });
  const calls: string[] = [];
  return {
    done,
    calls,
    finish: (code) => finish(code),
    shutdown: () => calls.push("shutdown"),
    abandon: () => {
      calls.push("abandon");
      finish(137);
    },
  };
}

for (const mode of ["shell", "spawn"] as const) {
  test(`executor host: each launch gets a stand-in whose life is the executor's (${mode})`, async () => {
    const input = new PassThrough();
    const events: HostEvent[] = [];
    const executors = new Map<string, ReturnType<typeof fakeExecutor>>();
    const served = serveExecutorHost({
      input,
      report: (line) => events.push(parseHostEvent(line.trim()) as HostEvent),
      log: () => {},
      standIns: mode,
      start: (l) => {
        if (l.env.MESOS_EXECUTOR_ID === "bad") return { error: "refused" };
        const e = fakeExecutor();
        executors.set(l.env.MESOS_EXECUTOR_ID ?? "", e);
        return e;
      },
    });
    const send = (id: number, executor: string) =>
      input.write(
        `${launchLine({ id, env: { MESOS_DIRECTORY: `/sb/${executor}`, MESOS_EXECUTOR_ID: executor } })}\n`,
      );
    send(1, "a");
    send(2, "b");
    send(3, "bad");
    input.write("not json\n");
    await until("two started, one failed", () => events.length >= 3);
    const started = events.filter((e) => e.event === "started");
    assert.equal(started.length, 2);
    assert.deepEqual(
      events.filter((e) => e.event === "failed"),
      [{ event: "failed", id: 3, error: "refused" }],
    );
    const pidOf = (id: number) => {
      const e = started.find((s) => s.event === "started" && s.id === id);
      assert.ok(e !== undefined && e.event === "started");
      return e.pid;
    };
    const [a, b] = [pidOf(1), pidOf(2)];
    assert.ok(alive(a) && alive(b), "stand-ins run");
    const environ = readFileSync(`/proc/${a}/environ`, "latin1");
    assert.match(environ, new RegExp(`${HOSTED_BY_VARIABLE}=${process.pid}`));
    assert.match(environ, /MESOS_DIRECTORY=\/sb\/a/);

    // The executor ends: its exit code is reported, then its stand-in goes.
    executors.get("a")?.finish(3);
    await until("a's exit", () => events.some((e) => e.event === "exit" && e.pid === a));
    assert.deepEqual(
      events.find((e) => e.event === "exit" && e.pid === a),
      { event: "exit", pid: a, code: 3, signal: null },
    );
    await until("a's stand-in to end", () => !alive(a));
    assert.ok(alive(b), "b's stand-in is untouched");

    // The stand-in is killed (the agent destroys the container): the executor is abandoned.
    process.kill(b, "SIGKILL");
    await until("b's exit", () => events.some((e) => e.event === "exit" && e.pid === b));
    assert.deepEqual(executors.get("b")?.calls, ["abandon"]);
    assert.deepEqual(
      events.find((e) => e.event === "exit" && e.pid === b),
      { event: "exit", pid: b, code: null, signal: "SIGKILL" },
    );

    // Input ends with nothing running: the host is done.
    input.end();
    assert.equal(await served, 0);
  });
}

test("executor host: a signal shuts every executor down; the host waits for them after its input ends", async () => {
  const input = new PassThrough();
  const events: HostEvent[] = [];
  const executor = fakeExecutor();
  let done = false;
  const served = serveExecutorHost({
    input,
    report: (line) => events.push(parseHostEvent(line.trim()) as HostEvent),
    log: () => {},
    start: () => executor,
  });
  void served.then(() => {
    done = true;
  });
  input.write(`${launchLine({ id: 1 })}\n`);
  await until("started", () => events.length === 1);
  input.end();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(done, false, "the host stays while an executor runs");
  process.emit("SIGTERM", "SIGTERM");
  assert.deepEqual(executor.calls, ["shutdown"]);
  executor.finish(0);
  assert.equal(await served, 0);
  const first = events[0];
  assert.ok(first?.event === "started");
  await until("the stand-in to end", () => !alive(first.pid));
});

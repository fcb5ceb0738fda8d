/**
 * The default executor's COMMAND checks of a task in a nested container:
 * each probe is a session nested in the task's container, as Mesos' checker
 * runs it (nested-command-prober.ts), against a scripted agent.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../src/common/time/clock.js";
import { Checker } from "../../src/executor/checks/checker.js";
import {
  type CheckContainers,
  nestedCommandProber,
} from "../../src/executor/checks/nested-command-prober.js";
import type { ProbeResult } from "../../src/executor/checks/probe.js";
import { ProbeLoop } from "../../src/executor/checks/probe-loop.js";
import {
  type CallResult,
  type ContainerEnd,
  nestedContainerId,
  type SessionOutput,
  sessionOutput,
} from "../../src/executor/default-executor-containers.js";

const TASK = "exec.task";

/** An agent whose check containers end with the scripted wait statuses (`hang`: only when killed). */
function fakeAgent(statuses: (number | "hang")[]) {
  const calls: string[] = [];
  const ends = new Map<string, (end: ContainerEnd) => void>();
  const ended = new Map<string, ContainerEnd>();
  let launched = 0;
  const end = (id: string, e: ContainerEnd) => {
    ended.set(id, e);
    ends.get(id)?.(e);
  };
  const containers: CheckContainers = {
    async launchSession(parent, child, command, signal): Promise<CallResult<SessionOutput>> {
      calls.push(`launch ${parent}.${child} ${command.value ?? ""}`);
      const status = statuses[launched++] ?? 0;
      if (status !== "hang") {
        end(child, { exit_status: status });
        return { ok: true, value: { stdout: "out", stderr: "" } };
      }
      // The session lasts until the container ends; closing it kills the container.
      return new Promise((resolve) => {
        signal?.addEventListener("abort", () => {
          end(child, { exit_status: 9 });
          resolve({ ok: false, status: 0, error: "aborted", unsupported: false });
        });
      });
    },
    async wait(parent, child): Promise<CallResult<ContainerEnd>> {
      calls.push(`wait ${parent}.${child}`);
      const done = ended.get(child);
      if (done !== undefined) return { ok: true, value: done };
      return new Promise((resolve) => ends.set(child, (e) => resolve({ ok: true, value: e })));
    },
    async kill(parent, child, signal) {
      calls.push(`kill ${parent}.${child} ${signal}`);
      return { ok: true, value: undefined };
    },
    async remove(parent, child) {
      calls.push(`remove ${parent}.${child}`);
      return { ok: true, value: undefined };
    },
  };
  return { containers, calls };
}

let counter = 0;
const newId = () => `id${++counter}`;

test("nested checks: a probe runs in check-<uuid> nested in the task's container; the exit code is the result; the previous check container is removed before the next", async () => {
  counter = 0;
  const agent = fakeAgent([1 << 8, 0]);
  const prober = nestedCommandProber(
    { containers: agent.containers, taskContainer: TASK, newId },
    { value: "test -f /x" },
  );
  assert.deepEqual(await prober.start().result, { exitCode: 1 });
  assert.deepEqual(await prober.start().result, { exitCode: 0 });
  assert.deepEqual(agent.calls, [
    "launch exec.task.check-id1 test -f /x",
    "wait exec.task.check-id1",
    "remove exec.task.check-id1",
    "launch exec.task.check-id2 test -f /x",
    "wait exec.task.check-id2",
  ]);
});

test("nested checks: a check container killed with SIGKILL gives no result; another signal is a failure", async () => {
  counter = 0;
  const agent = fakeAgent([9, 15]);
  const prober = nestedCommandProber(
    { containers: agent.containers, taskContainer: TASK, newId },
    { value: "true" },
  );
  assert.ok((await prober.start().result).transient !== undefined);
  assert.match((await prober.start().result).error ?? "", /signal 15/);
});

test("nested checks: a timed-out probe is killed; the next one starts once that container has ended and is removed; no result is reported for it", async () => {
  counter = 0;
  const agent = fakeAgent(["hang", 0]);
  const clock = new ManualClock();
  const reported: unknown[] = [];
  const prober = nestedCommandProber(
    { containers: agent.containers, taskContainer: TASK, newId },
    { value: "sleep 100" },
  );
  const checker = new Checker(
    clock,
    prober,
    { delayMs: 0, intervalMs: 100, timeoutMs: 1000 },
    (s) => reported.push(s),
  );
  checker.start();
  clock.advance(0);
  await settle();
  clock.advance(1000); // the timeout
  await settle();
  assert.ok(agent.calls.includes("kill exec.task.check-id1 9"), agent.calls.join("\n"));
  clock.advance(100); // the next probe
  await settle();
  checker.stop();
  const next = agent.calls.indexOf("launch exec.task.check-id2 sleep 100");
  assert.ok(next > agent.calls.indexOf("remove exec.task.check-id1"), agent.calls.join("\n"));
  assert.ok(agent.calls.indexOf("remove exec.task.check-id1") >= 0, agent.calls.join("\n"));
  // The timeout's result is the empty status the checker starts with (not reported again).
  assert.deepEqual(reported, [{ type: "COMMAND", command: { exit_code: 0 } }]);
});

test("nested checks: container ids nest below a dotted parent; a session's ProcessIO records give its output", () => {
  assert.deepEqual(nestedContainerId("exec.task", "check-1"), {
    value: "check-1",
    parent: { value: "task", parent: { value: "exec" } },
  });
  assert.deepEqual(nestedContainerId("exec", "task"), { value: "task", parent: { value: "exec" } });
  const record = (o: unknown) => {
    const json = JSON.stringify(o);
    return `${Buffer.byteLength(json)}\n${json}`;
  };
  const body = Buffer.from(
    record({
      type: "DATA",
      data: { type: "STDOUT", data: Buffer.from("hi ").toString("base64") },
    }) +
      record({ type: "CONTROL", control: { type: "HEARTBEAT" } }) +
      record({
        type: "DATA",
        data: { type: "STDERR", data: Buffer.from("oops").toString("base64") },
      }) +
      record({
        type: "DATA",
        data: { type: "STDOUT", data: Buffer.from("there").toString("base64") },
      }),
  );
  assert.deepEqual(sessionOutput(body), { stdout: "hi there", stderr: "oops" });
});

/** Lets pending promise callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

test("nested checks: after a timeout the interval starts once the killed check container has ended, so the next probe's timeout is its own", async () => {
  counter = 0;
  const calls: string[] = [];
  let endKilled: (() => void) | undefined;
  let launched = 0;
  const containers: CheckContainers = {
    async launchSession(_parent, child, _command, signal) {
      calls.push(`launch ${child}`);
      if (launched++ > 0) return { ok: true, value: { stdout: "", stderr: "" } };
      // The first probe hangs; once killed, its container takes a while to end.
      return new Promise((resolve) =>
        signal?.addEventListener("abort", () =>
          resolve({ ok: false, status: 0, error: "aborted", unsupported: false }),
        ),
      );
    },
    async wait(_parent, child): Promise<CallResult<ContainerEnd>> {
      calls.push(`wait ${child}`);
      if (child !== "check-id1") return { ok: true, value: { exit_status: 0 } };
      return new Promise((resolve) => {
        endKilled = () => resolve({ ok: true, value: { exit_status: 9 } });
      });
    },
    async kill(_parent, child) {
      calls.push(`kill ${child}`);
      return { ok: true, value: undefined };
    },
    async remove(_parent, child) {
      calls.push(`remove ${child}`);
      return { ok: true, value: undefined };
    },
  };
  const clock = new ManualClock();
  const results: ProbeResult[] = [];
  const loop = new ProbeLoop(
    clock,
    nestedCommandProber({ containers, taskContainer: TASK, newId }, { value: "check" }),
    { delayMs: 0, intervalMs: 100, timeoutMs: 1000 },
    (r) => results.push(r),
  );
  loop.start();
  clock.advance(0);
  await settle();
  clock.advance(1000); // the first probe times out and is killed
  await settle();
  assert.equal(results.length, 1);
  assert.match(results[0]?.error ?? "", /timed out/);
  // Its container has not ended: no probe starts, none times out meanwhile.
  clock.advance(100);
  await settle();
  clock.advance(1000);
  await settle();
  assert.equal(results.length, 1, JSON.stringify(results));
  assert.ok(!calls.includes("launch check-id2"), calls.join("\n"));
  endKilled?.();
  await settle();
  clock.advance(100); // the interval, from the end of the killed container
  await settle();
  loop.stop();
  assert.ok(
    calls.indexOf("launch check-id2") > calls.indexOf("remove check-id1"),
    calls.join("\n"),
  );
  assert.deepEqual(results[1], { exitCode: 0 });
});

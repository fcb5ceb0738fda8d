import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TaskStatusUpdateManager } from "../../src/agent/status-updates/manager.js";
import { createStatusUpdate } from "../../src/agent/status-updates/status-update.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import type { StatusUpdate } from "../../src/common/protocol/generated/mesos-internal.js";
import type { TaskState } from "../../src/common/protocol/generated/mesos-v1.js";
import { isTerminalState } from "../../src/common/protocol/task-states.js";
import { ManualClock } from "../../src/common/time/clock.js";

let counter = 0;
function update(taskId: string, state: TaskState, frameworkId = "f1"): StatusUpdate {
  counter++;
  const uuid = new Uint8Array(16);
  uuid[0] = counter & 0xff;
  uuid[1] = counter >> 8;
  return createStatusUpdate({
    frameworkId,
    agentId: "a1",
    taskId,
    state,
    source: "SOURCE_EXECUTOR",
    uuid,
    timestamp: 1,
  });
}

function setup() {
  const clock = new ManualClock();
  const sent: StatusUpdate[] = [];
  const sum = new TaskStatusUpdateManager({
    clock,
    logger: silentLogger,
    forward: (u) => sent.push(u),
  });
  sum.resume();
  return { clock, sent, sum };
}

const states = (list: StatusUpdate[]) => list.map((u) => u.status.state);

describe("agent status update manager", () => {
  it("forwards the first update of a task at once and holds the next until it is acknowledged", () => {
    const { sent, sum } = setup();
    const running = update("t1", "TASK_RUNNING");
    const finished = update("t1", "TASK_FINISHED");
    sum.update(running);
    sum.update(finished);
    assert.deepEqual(states(sent), ["TASK_RUNNING"]);
    const ack = sum.acknowledgement("f1", "t1", running.uuid as Uint8Array);
    assert.ok(ack.ok);
    assert.equal(ack.streamTerminated, false);
    assert.deepEqual(states(sent), ["TASK_RUNNING", "TASK_FINISHED"]);
  });

  it("keeps streams of different tasks independent", () => {
    const { sent, sum } = setup();
    sum.update(update("t1", "TASK_RUNNING"));
    sum.update(update("t2", "TASK_RUNNING"));
    assert.equal(sent.length, 2);
  });

  it("re-sends an unacknowledged update with doubling intervals from 10 s, capped at 10 min", () => {
    const { clock, sent, sum } = setup();
    sum.update(update("t1", "TASK_RUNNING"));
    assert.equal(sent.length, 1);
    clock.advance(9_999);
    assert.equal(sent.length, 1);
    clock.advance(1);
    assert.equal(sent.length, 2, "first retry after 10 s");
    clock.advance(19_999);
    assert.equal(sent.length, 2);
    clock.advance(1);
    assert.equal(sent.length, 3, "second retry 20 s later");
    // 40, 80, 160, 320, then 600 (capped) each.
    clock.advance(40_000 + 80_000 + 160_000 + 320_000);
    assert.equal(sent.length, 7);
    clock.advance(599_999);
    assert.equal(sent.length, 7);
    clock.advance(1);
    assert.equal(sent.length, 8, "interval capped at 10 minutes");
    assert.ok(sent.every((u) => u.status.state === "TASK_RUNNING"));
  });

  it("stops retrying once acknowledged", () => {
    const { clock, sent, sum } = setup();
    const u = update("t1", "TASK_RUNNING");
    sum.update(u);
    sum.acknowledgement("f1", "t1", u.uuid as Uint8Array);
    clock.advance(3_600_000);
    assert.equal(sent.length, 1);
  });

  it("ignores a duplicate update and refuses an update without uuid", () => {
    const { sent, sum } = setup();
    const u = update("t1", "TASK_RUNNING");
    assert.deepEqual(sum.update(u), { ok: true, kind: "accepted" });
    assert.deepEqual(sum.update(u), { ok: true, kind: "duplicate" });
    const { uuid: _uuid, ...noUuid } = update("t1", "TASK_RUNNING");
    assert.equal(sum.update(noUuid).ok, false);
    assert.equal(sent.length, 1);
  });

  it("rejects an acknowledgement that is not for the update in flight", () => {
    const { sent, sum } = setup();
    const first = update("t1", "TASK_RUNNING");
    const second = update("t1", "TASK_FINISHED");
    sum.update(first);
    sum.update(second);
    const wrong = sum.acknowledgement("f1", "t1", second.uuid as Uint8Array);
    assert.equal(wrong.ok, false);
    assert.equal(sent.length, 1, "nothing new goes out");
    assert.equal(sum.acknowledgement("f1", "t1", first.uuid as Uint8Array).ok, true);
    assert.equal(sum.acknowledgement("f1", "t1", first.uuid as Uint8Array).ok, false);
  });

  it("ends the stream when a terminal update is acknowledged", () => {
    const { sum } = setup();
    const u = update("t1", "TASK_FINISHED");
    sum.update(u);
    const ack = sum.acknowledgement("f1", "t1", u.uuid as Uint8Array);
    assert.ok(ack.ok && ack.streamTerminated);
    assert.equal(sum.hasStream("f1", "t1"), false);
    assert.equal(sum.acknowledgement("f1", "t1", u.uuid as Uint8Array).ok, false);
  });

  it("sends nothing while paused and re-sends the head of each stream on resume", () => {
    const { clock, sent, sum } = setup();
    sum.pause();
    const u = update("t1", "TASK_RUNNING");
    sum.update(u);
    sum.update(update("t1", "TASK_FINISHED"));
    clock.advance(60_000);
    assert.equal(sent.length, 0);
    sum.resume();
    assert.deepEqual(states(sent), ["TASK_RUNNING"]);
    sum.pause();
    clock.advance(60_000);
    assert.equal(sent.length, 1, "no retries while paused");
  });

  it("forgets a framework's streams on cleanup", () => {
    const { clock, sent, sum } = setup();
    sum.update(update("t1", "TASK_RUNNING", "f2"));
    sum.cleanup("f2");
    clock.advance(60_000);
    assert.equal(sent.length, 1);
    assert.equal(sum.streamCount, 0);
  });

  it("knows the terminal task states", () => {
    assert.equal(isTerminalState("TASK_FINISHED"), true);
    assert.equal(isTerminalState("TASK_LOST"), true);
    assert.equal(isTerminalState("TASK_RUNNING"), false);
    assert.equal(isTerminalState("TASK_UNREACHABLE"), false);
  });
});

/**
 * The operation status update manager on its own (manual clock, records
 * "written" when the test says so): an update goes out only once its
 * record is durable and carries `latest_status`; it is resent with a
 * doubling interval capped at 10 minutes until acknowledged; the next
 * update waits for the ACK record; duplicates and out-of-order
 * acknowledgements are refused; pausing stops sending and resuming sends
 * the head again; recovery keeps what was not acknowledged.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  OperationStatusUpdateManager,
  type OperationStreamRecord,
} from "../../src/agent/operations/status-update-manager.js";
import { uuidKey } from "../../src/agent/status-updates/stream.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import type { UpdateOperationStatusMessage } from "../../src/common/protocol/generated/mesos-internal.js";
import type { OperationState } from "../../src/common/protocol/generated/mesos-v1.js";
import { ManualClock } from "../../src/common/time/clock.js";

const OP = new Uint8Array(16).fill(1);
const uuid = (n: number): Uint8Array => new Uint8Array(16).fill(n);

const update = (state: OperationState, n: number): UpdateOperationStatusMessage => ({
  framework_id: { value: "F1" },
  slave_id: { value: "S1" },
  status: { state, operation_id: { value: "op" }, uuid: { value: uuid(n) } },
  operation_uuid: { value: OP },
});

function setup() {
  const clock = new ManualClock();
  const sent: UpdateOperationStatusMessage[] = [];
  const records: { record: OperationStreamRecord; done: () => void }[] = [];
  const manager = new OperationStatusUpdateManager({
    clock,
    logger: silentLogger,
    forward: (u) => sent.push(u),
    checkpoint: (record) =>
      new Promise<void>((resolve) => {
        records.push({ record, done: resolve });
      }),
  });
  /** Completes every record write asked so far. */
  const flush = async () => {
    for (const r of records.splice(0)) r.done();
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  };
  return { clock, sent, records, manager, flush };
}

describe("operation status update manager", () => {
  it("sends an update once durable, with latest_status, and resends it with a capped backoff", async () => {
    const { clock, sent, records, manager, flush } = setup();
    manager.resume();
    const outcome = manager.update(update("OPERATION_FINISHED", 2));
    assert.ok(outcome.ok && outcome.kind === "accepted");
    assert.equal(records[0]?.record.kind, "update");
    assert.equal(sent.length, 0, "not before the record is on disk");
    await flush();
    assert.equal(sent.length, 1);
    assert.equal(sent[0]?.latest_status?.state, "OPERATION_FINISHED");
    const gaps = [10, 20, 40, 80, 160, 320, 600, 600].map((s) => s * 1000);
    for (const [i, gap] of gaps.entries()) {
      clock.advance(gap - 1);
      assert.equal(sent.length, i + 1, `no resend before ${gap} ms`);
      clock.advance(1);
      assert.equal(sent.length, i + 2, `resend after ${gap} ms`);
    }
  });

  it("the next update waits for the acknowledgement and its record; a terminal ACK ends the stream", async () => {
    const { clock, sent, records, manager, flush } = setup();
    manager.resume();
    manager.update(update("OPERATION_PENDING", 2));
    manager.update(update("OPERATION_FINISHED", 3));
    await flush();
    assert.equal(sent.length, 1, "one in flight");
    assert.equal(sent[0]?.status.state, "OPERATION_PENDING");
    assert.equal(sent[0]?.latest_status?.state, "OPERATION_FINISHED", "latest is the newest");

    const wrong = manager.acknowledgement(OP, uuid(3));
    assert.ok(!wrong.ok && /^Unexpected operation status update acknowledgement/.test(wrong.error));
    const first = manager.acknowledgement(OP, uuid(2));
    assert.ok(first.ok && !first.streamTerminated);
    assert.equal(records[0]?.record.kind, "ack");
    clock.advance(60_000);
    assert.equal(sent.length, 1, "nothing until the ACK record is durable");
    await flush();
    assert.equal(sent.length, 2);
    assert.equal(sent[1]?.status.state, "OPERATION_FINISHED");
    const again = manager.acknowledgement(OP, uuid(2));
    assert.ok(!again.ok && again.error === "Duplicate operation status update acknowledgement");

    const last = manager.acknowledgement(OP, uuid(3));
    assert.ok(last.ok && last.streamTerminated);
    assert.equal(manager.hasStream(OP), false, "the stream is gone");
    await flush();
    clock.advance(600_000);
    assert.equal(sent.length, 2);
  });

  it("the head goes out once its own record is durable, whatever later records do", async () => {
    const { sent, records, manager } = setup();
    manager.resume();
    manager.update(update("OPERATION_PENDING", 2));
    manager.update(update("OPERATION_FINISHED", 3));
    records.shift()?.done();
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    assert.equal(sent.length, 1, "the second record is still being written");
    assert.equal(sent[0]?.status.state, "OPERATION_PENDING");
  });

  it("refuses updates without uuids or with latest_status, and ignores duplicates", async () => {
    const { manager, sent, flush } = setup();
    manager.resume();
    const noUuid = update("OPERATION_FINISHED", 2);
    delete noUuid.status.uuid;
    assert.deepEqual(manager.update(noUuid), {
      ok: false,
      error: "Operation status update is missing 'status.uuid'",
    });
    const withLatest = {
      ...update("OPERATION_FINISHED", 2),
      latest_status: { state: "OPERATION_FINISHED" as const },
    };
    assert.equal(manager.update(withLatest).ok, false);
    manager.update(update("OPERATION_FINISHED", 2));
    const dup = manager.update(update("OPERATION_FINISHED", 2));
    assert.ok(dup.ok && dup.kind === "duplicate");
    await flush();
    assert.equal(sent.length, 1);
  });

  it("paused, nothing goes out; resuming sends the head at once", async () => {
    const { clock, manager, sent, flush } = setup();
    manager.update(update("OPERATION_FINISHED", 2));
    await flush();
    assert.equal(sent.length, 0, "starts paused");
    manager.resume();
    assert.equal(sent.length, 1);
    manager.pause();
    clock.advance(600_000);
    assert.equal(sent.length, 1, "no retries while paused");
    manager.resume();
    assert.equal(sent.length, 2);
  });

  it("recovery keeps the unacknowledged updates and drops a stream whose terminal update was acknowledged", () => {
    const { manager, sent } = setup();
    const pending = manager.recover(OP, {
      updates: [update("OPERATION_PENDING", 2), update("OPERATION_FINISHED", 3)],
      acks: new Set([uuidKey(uuid(2))]),
    });
    assert.deepEqual(pending, { terminated: false, pending: 1 });
    assert.ok(manager.hasUpdate(OP, uuid(2)) && manager.hasUpdate(OP, uuid(3)));
    manager.resume();
    assert.equal(sent.length, 1);
    assert.equal(sent[0]?.status.state, "OPERATION_FINISHED");

    const other = uuid(7);
    const done = manager.recover(other, {
      updates: [{ ...update("OPERATION_FINISHED", 8), operation_uuid: { value: other } }],
      acks: new Set([uuidKey(uuid(8))]),
    });
    assert.equal(done.terminated, true);
    assert.equal(manager.hasStream(other), false);
  });
});

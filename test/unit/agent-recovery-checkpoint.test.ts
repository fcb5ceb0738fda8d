import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { FileCheckpointer } from "../../src/agent/checkpoint/checkpointer.js";
import { checkAgentInfoCompatible } from "../../src/agent/checkpoint/compatibility.js";
import { frameRecord, scanRecords } from "../../src/agent/checkpoint/framing.js";
import {
  CheckpointError,
  readCheckpoints,
  readUpdatesFile,
} from "../../src/agent/checkpoint/state.js";
import { CheckpointWriter, writeFileAtomically } from "../../src/agent/checkpoint/writer.js";
import { taskUpdatesPath } from "../../src/agent/paths.js";
import { TaskStatusUpdateManager } from "../../src/agent/status-updates/manager.js";
import { createStatusUpdate } from "../../src/agent/status-updates/status-update.js";
import { uuidKey } from "../../src/agent/status-updates/stream.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import type {
  SlaveInfo,
  StatusUpdate,
} from "../../src/common/protocol/generated/mesos-internal.js";
import type { TaskState } from "../../src/common/protocol/generated/mesos-v1.js";
import { ManualClock } from "../../src/common/time/clock.js";

const dirs: string[] = [];
function temp(): string {
  const d = mkdtempSync(join(tmpdir(), "checkpoint-unit-"));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

let counter = 0;
function update(taskId: string, state: TaskState): StatusUpdate & { uuid: Uint8Array } {
  counter++;
  const uuid = new Uint8Array(16);
  uuid[0] = counter & 0xff;
  uuid[1] = counter >> 8;
  return createStatusUpdate({
    frameworkId: "F",
    agentId: "A",
    taskId,
    state,
    source: "SOURCE_EXECUTOR",
    uuid,
    timestamp: 1,
  }) as StatusUpdate & { uuid: Uint8Array };
}

const ids = { agentId: "A", frameworkId: "F", executorId: "E", containerId: "C" };
const agentInfo: SlaveInfo & { id: { value: string } } = {
  hostname: "h",
  port: 5051,
  resources: [{ name: "cpus", type: "SCALAR", scalar: { value: 2 } }],
  checkpoint: true,
  id: { value: "A" },
};

async function checkpointedAgent(workDir: string) {
  const c = new FileCheckpointer(workDir);
  const running = update("T", "TASK_RUNNING");
  const finished = update("T", "TASK_FINISHED");
  await Promise.all([
    c.agent(agentInfo),
    c.framework("A", { user: "u", name: "fw", id: { value: "F" }, checkpoint: true }, "sched@1:2"),
    c.executor(ids, { executor_id: { value: "E" } }, true),
    c.task(ids, {
      name: "t",
      task_id: { value: "T" },
      framework_id: { value: "F" },
      agent_id: { value: "A" },
      state: "TASK_STAGING",
      resources: [],
    }),
  ]);
  await c.update(ids, "T", running);
  await c.acknowledgement(ids, "T", running.uuid);
  await c.update(ids, "T", finished);
  return { running, finished, updatesFile: taskUpdatesPath(workDir, ids, "T") };
}

describe("agent checkpoint store", () => {
  it("atomic writes replace the whole file and leave no temporary file behind", async () => {
    const dir = temp();
    const path = join(dir, "a", "b", "file.info");
    await writeFileAtomically(path, "first");
    await writeFileAtomically(path, "second, longer");
    assert.equal(readFileSync(path, "utf8"), "second, longer");
    assert.deepEqual(readdirSync(join(dir, "a", "b")), ["file.info"]);
  });

  it("appends of one tick share one batch and one fsync per file, in order", async () => {
    const dir = temp();
    const writer = new CheckpointWriter();
    const path = join(dir, "log");
    await Promise.all(Array.from({ length: 100 }, (_, i) => writer.append(path, Buffer.from([i]))));
    assert.equal(writer.stats.batches, 1);
    assert.equal(writer.stats.appendSyncs, 1);
    assert.deepEqual(
      [...readFileSync(path)],
      Array.from({ length: 100 }, (_, i) => i),
    );
  });

  it("framing reports a record cut short at the end as torn, not as an error", () => {
    const data = Buffer.concat([frameRecord(Buffer.from("abc")), frameRecord(Buffer.from("de"))]);
    const whole = scanRecords(data);
    assert.equal(whole.records.length, 2);
    assert.equal(whole.torn, false);
    const cut = scanRecords(data.subarray(0, data.length - 1));
    assert.equal(cut.records.length, 1);
    assert.equal(cut.torn, true);
    assert.equal(cut.validLength, 7);
  });

  it("reads back the checkpoint in the Mesos layout", async () => {
    const workDir = temp();
    const { running, finished } = await checkpointedAgent(workDir);
    const state = readCheckpoints(workDir, true, "boot");
    assert.equal(state.agent?.id, "A");
    assert.equal(state.agent?.info?.hostname, "h");
    const framework = state.agent?.frameworks.get("F");
    assert.equal(framework?.info?.checkpoint, true);
    assert.equal(framework?.pid, "sched@1:2");
    const executor = framework?.executors.get("E");
    assert.equal(executor?.latest, "C");
    assert.equal(executor?.generatedForCommandTask, true);
    const task = executor?.runs.get("C")?.tasks.get("T");
    assert.equal(task?.info?.state, "TASK_STAGING");
    assert.deepEqual(
      task?.updates.map((u) => u.status.state),
      ["TASK_RUNNING", "TASK_FINISHED"],
    );
    assert.ok(task?.acks.has(uuidKey(running.uuid)));
    assert.ok(!task?.acks.has(uuidKey(finished.uuid)));
  });

  it("cuts a torn last record off task.updates and keeps the records before it", async () => {
    const workDir = temp();
    const { updatesFile } = await checkpointedAgent(workDir);
    const size = statSync(updatesFile).size;
    appendFileSync(updatesFile, Buffer.from([50, 0, 0, 0, 1, 2]));
    const read = readUpdatesFile(updatesFile);
    assert.equal(read.error, undefined);
    assert.equal(read.updates.length, 2);
    assert.equal(read.truncatedBytes, 6);
    assert.equal(statSync(updatesFile).size, size);
  });

  it("a corrupted record stops strict recovery naming the file; without strict it is skipped", async () => {
    const workDir = temp();
    const { updatesFile } = await checkpointedAgent(workDir);
    appendFileSync(updatesFile, Buffer.from([3, 0, 0, 0, 0xff, 0xff, 0xff]));
    assert.throws(
      () => readCheckpoints(workDir, true, "boot"),
      (e: unknown) =>
        e instanceof CheckpointError &&
        e.path === updatesFile &&
        e.message.includes(updatesFile) &&
        e.message.includes("record 4 is corrupted"),
    );
    const lenient = readCheckpoints(workDir, false, "boot");
    assert.equal(lenient.errors.length, 1);
    assert.equal(lenient.agent?.frameworks.get("F")?.executors.get("E")?.latest, "C");
  });

  it("a truncated small file is reported with its path", async () => {
    const workDir = temp();
    await checkpointedAgent(workDir);
    const info = join(workDir, "meta", "slaves", "A", "slave.info");
    const data = readFileSync(info);
    rmSync(info);
    appendFileSync(info, data.subarray(0, data.length - 2));
    assert.throws(
      () => readCheckpoints(workDir, true, "boot"),
      (e: unknown) => e instanceof CheckpointError && e.message.includes(info),
    );
  });

  it("pids recorded before a reboot are ignored", async () => {
    const workDir = temp();
    await checkpointedAgent(workDir);
    appendFileSync(join(workDir, "meta", "boot_id"), "old-boot");
    const state = readCheckpoints(workDir, true, "new-boot");
    assert.equal(state.rebooted, true);
  });
});

describe("agent info compatibility", () => {
  const grown: SlaveInfo = {
    ...agentInfo,
    resources: [
      { name: "cpus", type: "SCALAR", scalar: { value: 4 } },
      { name: "mem", type: "SCALAR", scalar: { value: 10 } },
    ],
  };
  it("equal refuses any change and shows both infos", () => {
    assert.equal(checkAgentInfoCompatible(agentInfo, { ...agentInfo }, "equal"), undefined);
    const problem = checkAgentInfoCompatible(agentInfo, grown, "equal");
    assert.match(problem ?? "", /Incompatible agent info detected/);
  });
  it("additive allows more resources but not fewer, nor a new hostname", () => {
    assert.equal(checkAgentInfoCompatible(agentInfo, grown, "additive"), undefined);
    assert.match(checkAgentInfoCompatible(grown, agentInfo, "additive") ?? "", /additive/);
    assert.match(
      checkAgentInfoCompatible(agentInfo, { ...agentInfo, hostname: "other" }, "additive") ?? "",
      /hostname changed/,
    );
  });
});

describe("durable status update streams", () => {
  function setup() {
    const clock = new ManualClock();
    const sent: StatusUpdate[] = [];
    const writes: { resolve: () => void; kind: string }[] = [];
    const sum = new TaskStatusUpdateManager({
      clock,
      logger: silentLogger,
      forward: (u) => sent.push(u),
      checkpoint: (record) =>
        new Promise<void>((resolve) => writes.push({ resolve, kind: record.kind })),
    });
    sum.resume();
    return { sent, sum, writes };
  }
  const tick = () => new Promise((r) => setImmediate(r));

  it("an update is sent only once it is on disk, and the caller learns when", async () => {
    const { sent, sum, writes } = setup();
    const outcome = sum.update(update("T", "TASK_RUNNING"));
    assert.ok(outcome.ok && outcome.durable !== undefined);
    assert.equal(sent.length, 0);
    writes[0]?.resolve();
    await outcome.durable;
    assert.equal(sent.length, 1);
  });

  it("after an acknowledgement the next update waits for the ACK record", async () => {
    const { sent, sum, writes } = setup();
    const running = update("T", "TASK_RUNNING");
    sum.update(running);
    sum.update(update("T", "TASK_FINISHED"));
    for (const w of writes.splice(0)) w.resolve();
    await tick();
    assert.deepEqual(
      sent.map((u) => u.status.state),
      ["TASK_RUNNING"],
    );
    assert.ok(sum.acknowledgement("F", "T", running.uuid).ok);
    await tick();
    assert.equal(sent.length, 1);
    assert.equal(writes[0]?.kind, "ack");
    writes[0]?.resolve();
    await tick();
    assert.deepEqual(
      sent.map((u) => u.status.state),
      ["TASK_RUNNING", "TASK_FINISHED"],
    );
  });

  it("an update that becomes durable while an ACK is being written waits for the ACK", async () => {
    const { sent, sum, writes } = setup();
    const running = update("T", "TASK_RUNNING");
    sum.update(running);
    writes[0]?.resolve();
    await tick();
    sum.update(update("T", "TASK_FINISHED"));
    assert.ok(sum.acknowledgement("F", "T", running.uuid).ok);
    const [finishedWrite, ackWrite] = [writes[1], writes[2]];
    assert.equal(ackWrite?.kind, "ack");
    finishedWrite?.resolve();
    await tick();
    assert.deepEqual(
      sent.map((u) => u.status.state),
      ["TASK_RUNNING"],
      "not sent before the acknowledgement is on disk",
    );
    ackWrite?.resolve();
    await tick();
    assert.deepEqual(
      sent.map((u) => u.status.state),
      ["TASK_RUNNING", "TASK_FINISHED"],
    );
  });

  it("recovered streams replay what was not acknowledged, once resumed", () => {
    const sent: StatusUpdate[] = [];
    const sum = new TaskStatusUpdateManager({
      clock: new ManualClock(),
      logger: silentLogger,
      forward: (u) => sent.push(u),
    });
    const running = update("T", "TASK_RUNNING");
    const finished = update("T", "TASK_FINISHED");
    assert.equal(sum.recover("F", "T", [running, finished], new Set([uuidKey(running.uuid)])), 1);
    assert.equal(sent.length, 0);
    sum.resume();
    assert.deepEqual(
      sent.map((u) => u.status.state),
      ["TASK_FINISHED"],
    );
    const outcome = sum.update(running);
    assert.ok(outcome.ok && outcome.kind === "already-acknowledged");
    assert.equal(
      sum.recover("F", "T2", [finished], new Set([uuidKey(finished.uuid)])),
      0,
      "a stream whose terminal update was acknowledged is over",
    );
  });
});

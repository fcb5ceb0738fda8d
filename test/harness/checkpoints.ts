/**
 * Waits on an agent's checkpoints before a test kills the agent: what a
 * restarted agent recovers is what was on disk at the kill, and the
 * checkpoints trail the events a test sees (TASK_RUNNING, output) by an
 * fsync or two, more on a loaded machine.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { scanRecords } from "../../src/agent/checkpoint/framing.js";
import type { StatusUpdateRecord } from "../../src/common/protocol/generated/mesos-internal.js";
import { codecFor } from "../../src/common/protocol/index.js";
import { waitLong } from "./processes.js";

const updateRecordCodec = codecFor<StatusUpdateRecord>("mesos.internal.StatusUpdateRecord");

/** Checkpoint files under `<workDir>/meta` ending in `suffix` (not through `latest` links). */
export function metaFiles(workDir: string, suffix: string): string[] {
  const root = join(workDir, "meta");
  if (!existsSync(root)) return [];
  return (readdirSync(root, { recursive: true }) as string[])
    .filter((p) => p.endsWith(suffix) && !p.split("/").includes("latest"))
    .map((p) => join(root, p));
}

/**
 * Waits until `count` executors have their pid checkpointed (a forked.pid
 * means a restarted agent can recover the executor).
 */
export function executorsCheckpointed(workDir: string, count = 1): Promise<string[]> {
  return waitLong(`${count} executor pid(s) checkpointed in ${workDir}`, () => {
    const files = metaFiles(workDir, "pids/forked.pid");
    return files.length >= count ? files : undefined;
  });
}

/** The records of one `task.updates` file: updates and acknowledgements. */
export function updateRecords(file: string): StatusUpdateRecord[] {
  return scanRecords(readFileSync(file)).records.map((record) => {
    const decoded = updateRecordCodec.decodeProtobuf(record);
    if (!decoded.ok) throw new Error(`${file} holds a record that is not a StatusUpdateRecord`);
    return decoded.value;
  });
}

/**
 * Waits until every checkpointed task has `state` among its updates and
 * every update is acknowledged on disk (an acknowledgement still in flight
 * at a kill is appended, or the update re-sent, after the restart).
 */
export function updatesAcknowledged(workDir: string, state = "TASK_RUNNING"): Promise<void> {
  return waitLong(`every ${state} update acknowledged on disk in ${workDir}`, () => {
    const files = metaFiles(workDir, "task.updates");
    if (files.length === 0) return false;
    return files.every((file) => {
      const records = updateRecords(file);
      const updates = records.filter((r) => r.type === "UPDATE");
      return (
        updates.some((r) => r.update?.status?.state === state) &&
        records.length - updates.length === updates.length
      );
    });
  }).then(() => undefined);
}

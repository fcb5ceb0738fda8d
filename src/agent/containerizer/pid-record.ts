/**
 * Recording an executor's process under the agent's checkpoint directory:
 * `pids/forked.pid` holds the pid as Mesos writes it, and
 * `pids/forked.identity` (ours) adds the process start time and the boot id,
 * so that a restarted agent can tell its executor from a process that
 * happens to reuse the pid, or from a previous boot. Files are written
 * atomically and durably (temporary file, fsync, rename, directory fsync).
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { writeFileAtomically } from "../checkpoint/writer.js";
import { forkedIdentityPath, forkedPidPath, type RunIds } from "../paths.js";

/** Who an executor process is. */
export interface ProcessIdentity {
  pid: number;
  /** Clock ticks after boot (`/proc/<pid>/stat` field 22), if it could be read. */
  startTime?: number;
  /** `/proc/sys/kernel/random/boot_id` when it started. */
  bootId: string;
}

/**
 * Tests only: `MESOS_TS_TESTING_PID_RECORD_DELAY_MS=<ms>` holds every pid
 * record back, widening the window between an executor's start and its
 * record (a slow disk's fsync) so that tests can crash the agent inside it.
 */
const TEST_DELAY_MS = Number(process.env.MESOS_TS_TESTING_PID_RECORD_DELAY_MS ?? "0") || 0;

/**
 * Writes `forked.pid` and `forked.identity` for an executor run. They are
 * fsynced for checkpointing frameworks (`ids` may be the whole launch, whose
 * `checkpoint` says so); for the others they only help a restarted agent
 * kill leftovers, so a plain atomic rename is enough and launch storms do
 * not pay two fsyncs per executor.
 */
export async function recordExecutorProcess(
  workDir: string,
  ids: RunIds & { checkpoint?: boolean },
  identity: ProcessIdentity,
): Promise<void> {
  if (TEST_DELAY_MS > 0) await new Promise((r) => setTimeout(r, TEST_DELAY_MS));
  const pidPath = forkedPidPath(workDir, ids);
  const identityPath = forkedIdentityPath(workDir, ids);
  const identityText = `${JSON.stringify(identity)}\n`;
  if (ids.checkpoint !== false) {
    // The identity (what recovery checks) first: a forked.pid on disk means
    // a restarted agent can recover the executor.
    await writeFileAtomically(identityPath, identityText);
    await writeFileAtomically(pidPath, `${identity.pid}`);
    return;
  }
  // Both files live in one directory: create it once, write both at once.
  await mkdir(dirname(pidPath), { recursive: true });
  await Promise.all([
    writeFileQuickly(pidPath, `${identity.pid}`),
    writeFileQuickly(identityPath, identityText),
  ]);
}

async function writeFileQuickly(path: string, text: string): Promise<void> {
  const temp = `${path}.tmp`;
  await writeFile(temp, text);
  await rename(temp, path);
}

/** Reads back an executor run's identity, if recorded. */
export async function readExecutorProcess(
  workDir: string,
  ids: RunIds,
): Promise<ProcessIdentity | undefined> {
  try {
    const parsed = JSON.parse(await readFile(forkedIdentityPath(workDir, ids), "utf8")) as unknown;
    if (typeof parsed !== "object" || parsed === null) return undefined;
    const o = parsed as Record<string, unknown>;
    if (typeof o.pid !== "number" || typeof o.bootId !== "string") return undefined;
    const out: ProcessIdentity = { pid: o.pid, bootId: o.bootId };
    if (typeof o.startTime === "number") out.startTime = o.startTime;
    return out;
  } catch {
    return undefined;
  }
}

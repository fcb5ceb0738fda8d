/** Which of several real masters leads (tests of ZooKeeper-backed high availability). */
import { type DaemonHandle, getJson, waitFor } from "./processes.js";

/** Whether `m` still runs (neither exited nor killed). */
export function running(m: DaemonHandle): boolean {
  return m.child.exitCode === null && m.child.signalCode === null;
}

/** Whether `m` runs and its `/metrics/snapshot` says `master/elected` is 1. */
export async function elected(m: DaemonHandle): Promise<boolean> {
  if (!running(m)) return false;
  const snapshot = await getJson<Record<string, number>>(`${m.url}/metrics/snapshot`).catch(
    () => undefined,
  );
  return snapshot?.["master/elected"] === 1;
}

/** The elected master among `candidates`, waiting up to `timeoutMs` for one. */
export function leaderOf(candidates: DaemonHandle[], timeoutMs = 30_000): Promise<DaemonHandle> {
  return waitFor(
    "a leading master",
    async () => {
      for (const m of candidates) if (await elected(m)) return m;
      return undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

/** Which of several real masters leads (tests of ZooKeeper-backed high availability). */
import { type DaemonHandle, getJson, waitFor } from "./processes.js";

/** Whether `m` still runs (neither exited nor killed). */
export function running(m: DaemonHandle): boolean {
  return m.child.exitCode === null && m.child.signalCode === null;
}

/**
 * Whether `m` runs, leads (`master/elected` is 1 from the election on) and
 * has recovered its registry: a v1 GET_HEALTH answers 200 only then (as in
 * Mesos, `/master/state` already answers from an empty master before).
 * `recovered: false` asks only whether it won the election.
 */
export async function elected(m: DaemonHandle, recovered = true): Promise<boolean> {
  if (!running(m)) return false;
  const snapshot = await getJson<Record<string, number>>(`${m.url}/metrics/snapshot`).catch(
    () => undefined,
  );
  if (snapshot?.["master/elected"] !== 1) return false;
  if (!recovered) return true;
  return (await v1Status(m).catch(() => undefined)) === 200;
}

/**
 * The status of a v1 GET_HEALTH: 503 until the registry is recovered (as
 * Mesos, `/master/state` answers from the empty master before that).
 */
export async function v1Status(m: DaemonHandle): Promise<number> {
  const r = await fetch(`${m.url}/api/v1`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: '{"type":"GET_HEALTH"}',
    redirect: "manual",
  });
  await r.arrayBuffer();
  return r.status;
}

/**
 * The elected, recovered master among `candidates`, waiting up to
 * `timeoutMs` for one (`recovered: false`: elected, recovered or not). Election
 * and recovery on a loaded 2-core machine can take tens of seconds.
 */
export function leaderOf(
  candidates: DaemonHandle[],
  timeoutMs = 60_000,
  recovered = true,
): Promise<DaemonHandle> {
  return waitFor(
    "a leading master",
    async () => {
      for (const m of candidates) if (await elected(m, recovered)) return m;
      return undefined;
    },
    { timeoutMs, intervalMs: 100 },
  ).catch(async (error: unknown) => {
    // Say what each candidate was doing: a rare election or recovery stall
    // is otherwise only "timed out".
    const states = await Promise.all(candidates.map((m) => candidateState(m)));
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}\n${states.join("\n")}`,
    );
  });
}

async function candidateState(m: DaemonHandle): Promise<string> {
  const snapshot = await getJson<Record<string, number>>(`${m.url}/metrics/snapshot`).catch(
    () => undefined,
  );
  const status = await v1Status(m).catch((e: unknown) => String(e));
  const tail = m.logs().split("\n").slice(-40).join("\n");
  return `--- ${m.url}: running=${running(m)} master/elected=${snapshot?.["master/elected"]} GET_HEALTH=${status}; log tail:\n${tail}`;
}

/** What the tests read of a daemon's metrics. */
import { type DaemonHandle, getJson } from "./processes.js";

/** `daemon`'s /metrics/snapshot; empty when it answers other than 200. */
export async function metricsSnapshot(daemon: DaemonHandle): Promise<Record<string, number>> {
  return (await getJson<Record<string, number>>(`${daemon.url}/metrics/snapshot`)) ?? {};
}

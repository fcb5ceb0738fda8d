/**
 * Daemons (bin/mesos-master, bin/mesos-agent) started inside a host of a
 * VirtualNetwork (test/harness/netns.ts), on that host's own IP.
 *
 *   const m = await startOn(net.host("m1"), "mesos-master", 5050, { registry: "in_memory" });
 *   ... m.url, m.logs(), await m.exited
 *   after(() => stopHostDaemons());
 */
import type { ChildProcess } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { NetHost } from "./netns.js";
import { agentFetcherCacheDir, binPath, tempDir, waitFor } from "./processes.js";

export interface HostDaemon {
  readonly host: NetHost;
  readonly url: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  logs(): string;
}

const daemons: HostDaemon[] = [];

/** Starts bin/<binary> inside `host` on `port` of its own IP and waits for /health. */
export async function startOn(
  host: NetHost,
  binary: string,
  port: number,
  flags: Record<string, string | number>,
): Promise<HostDaemon> {
  const workDir = tempDir(`${binary}-${host.name}-`);
  const log = join(workDir, "out.log");
  const out = openSync(log, "a");
  const own = binary === "mesos-agent" ? { fetcher_cache_dir: agentFetcherCacheDir() } : {};
  const args = Object.entries({ ip: host.ip, port, work_dir: workDir, ...own, ...flags }).map(
    ([k, v]) => `--${k}=${v}`,
  );
  const child = host.spawn(process.execPath, [binPath(binary), ...args], {
    stdio: ["ignore", out, out],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const d: HostDaemon = {
    host,
    url: `http://${host.ip}:${port}`,
    child,
    exited,
    logs: () => readFileSync(log, "utf8"),
  };
  daemons.push(d);
  await waitFor(
    `${binary} on ${host.name}`,
    async () => (await fetchJson<unknown>(`${d.url}/health`, true)) !== undefined,
    { timeoutMs: 60_000 },
  );
  return d;
}

/** GET JSON with a short timeout (a partitioned host would hang a plain fetch). */
export async function fetchJson<T>(url: string, anyBody = false): Promise<T | undefined> {
  const r = await fetch(url, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
  if (r?.status !== 200) return undefined;
  if (anyBody) return (await r.arrayBuffer().catch(() => undefined)) as T | undefined;
  return (await r.json().catch(() => undefined)) as T | undefined;
}

/** SIGKILLs every daemon started with startOn and waits for them to exit. */
export async function stopHostDaemons(): Promise<void> {
  const all = daemons.splice(0);
  for (const d of all) d.child.kill("SIGKILL");
  await Promise.all(all.map((d) => d.exited));
}

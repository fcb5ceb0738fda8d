/**
 * Finding the master from `--master`: `host:port` or `ip:port` (the
 * hostname is resolved), `master@ip:port`, or a comma-separated list of
 * those (the first is used: without ZooKeeper there is no election to pick
 * another), or `zk://hosts/path`: the leader elected in ZooKeeper, followed
 * as it changes (`followMaster`). A `file://` value was already read by the
 * flag loader.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { Logger } from "../common/observability/logger.js";
import type { Clock } from "../common/time/clock.js";
import { MasterDetector } from "../common/zookeeper/detector.js";
import { masterInfoPid } from "../common/zookeeper/master-info-json.js";
import { ZkSession } from "../common/zookeeper/session.js";
import { parseZkUrl } from "../common/zookeeper/url.js";

/** The master's UPID text (`master@ip:port`) or a one-line reason it cannot be found. */
export type MasterAddress = { ok: true; pid: string } | { ok: false; error: string };

/** Splits `host:port` (IPv6 in brackets). */
function splitHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(text);
  if (m === null || m[1] === undefined) return undefined;
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host: m[1], port };
}

/** Parses `--master` without resolving names: the master's host, port and process id. */
export function parseMasterFlag(
  value: string,
): { ok: true; id: string; host: string; port: number } | { ok: false; error: string } {
  const text = value.trim();
  if (text.startsWith("zk://")) {
    return {
      ok: false,
      error: "--master=zk://... names ZooKeeper, not a master: use followMaster",
    };
  }
  const first = (text.split(",")[0] ?? "").trim();
  let id = "master";
  let rest = first;
  const at = first.indexOf("@");
  if (at >= 0) {
    id = first.slice(0, at);
    rest = first.slice(at + 1);
  }
  const hostPort = splitHostPort(rest);
  if (hostPort === undefined || id === "") {
    return {
      ok: false,
      error: `Failed to parse --master '${value}': expected host:port, ip:port or master@ip:port`,
    };
  }
  return { ok: true, id, ...hostPort };
}

/** Resolves `--master` to the master's UPID text. */
export async function resolveMaster(value: string): Promise<MasterAddress> {
  const parsed = parseMasterFlag(value);
  if (!parsed.ok) return parsed;
  let ip = parsed.host;
  if (isIP(ip) === 0) {
    try {
      ip = (await lookup(parsed.host, { family: 4 })).address;
    } catch (e) {
      return {
        ok: false,
        error: `Failed to resolve the master's hostname '${parsed.host}': ${(e as Error).message}`,
      };
    }
  }
  const address = isIP(ip) === 6 ? `[${ip}]:${parsed.port}` : `${ip}:${parsed.port}`;
  return { ok: true, pid: `${parsed.id}@${address}` };
}

/** The leading master as the agent follows it. */
export interface MasterFollower {
  /** The leading master's UPID text (`master@ip:port`); undefined while none is known. */
  readonly pid: string | undefined;
  /** Called with the UPID text of each leader detected from now on. */
  onNewLeader(fn: (pid: string) => void): void;
  /** Called when no leader is known any more (ZooKeeper names none). */
  onLost(fn: () => void): void;
  /** Stops following (closes the ZooKeeper session). */
  stop(): void;
}

export interface FollowOptions {
  readonly logger: Logger;
  readonly clock: Clock;
  /** `--zk_session_timeout` in ms. */
  readonly sessionTimeoutMs: number;
}

/**
 * Follows `--master`: a fixed master for `host:port` forms; for `zk://`,
 * waits (logging) until a leader is elected, then reports every new leader,
 * so the agent re-registers with it (Mesos' agent does the same through its
 * master detector).
 */
export async function followMaster(
  value: string,
  options: FollowOptions,
): Promise<{ ok: true; value: MasterFollower } | { ok: false; error: string }> {
  if (!value.trim().startsWith("zk://")) {
    const fixed = await resolveMaster(value);
    if (!fixed.ok) return fixed;
    return {
      ok: true,
      value: { pid: fixed.pid, onNewLeader: () => {}, onLost: () => {}, stop: () => {} },
    };
  }
  const url = parseZkUrl(value);
  if (!url.ok) return { ok: false, error: `Failed to parse --master: ${url.error}` };
  const { logger, clock, sessionTimeoutMs } = options;
  const session = new ZkSession({ url: url.value, sessionTimeoutMs, logger, clock });
  const detector = new MasterDetector({ session, groupPath: url.value.path, logger, clock });
  // As Mesos' agent, it serves and recovers while the detector looks for a
  // leader: the caller learns of it through onNewLeader.
  let current: string | undefined;
  let stopped = false;
  const fns: ((pid: string) => void)[] = [];
  const lostFns: (() => void)[] = [];
  detector.onChange((next) => {
    if (next === undefined) {
      if (current === undefined) return;
      logger.warn("Lost the leading master; waiting for a new one to be elected");
      // As Mesos' agent: whoever is detected next (even the same master,
      // e.g. after our own ZooKeeper session expired) is a new detection,
      // and the agent re-registers with it.
      current = undefined;
      for (const fn of lostFns) fn();
      return;
    }
    const pid = masterInfoPid(next.info);
    if (pid === current) return;
    current = pid;
    for (const fn of fns) fn(pid);
  });
  session.start();
  detector.start();
  void (async () => {
    let leader = await detector.waitForLeader(sessionTimeoutMs);
    while (leader === undefined && !stopped) {
      logger.info("Waiting for a leading master to be elected in ZooKeeper");
      leader = await detector.waitForLeader(sessionTimeoutMs);
    }
  })();
  return {
    ok: true,
    value: {
      get pid() {
        return current;
      },
      onNewLeader: (fn) => {
        fns.push(fn);
      },
      onLost: (fn) => {
        lostFns.push(fn);
      },
      stop: () => {
        stopped = true;
        detector.stop();
        session.close();
      },
    },
  };
}

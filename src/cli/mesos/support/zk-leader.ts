/**
 * `zk://` master addresses for the CLI: the leading master elected in
 * ZooKeeper, read once (a short-lived session, closed before returning).
 */

import { silentLogger } from "../../../common/observability/logger.js";
import type { MasterInfo } from "../../../common/protocol/generated/mesos-v1.js";
import { SystemClock } from "../../../common/time/clock.js";
import { MasterDetector } from "../../../common/zookeeper/detector.js";
import { masterInfoAddress, masterInfoPid } from "../../../common/zookeeper/master-info-json.js";
import { ZkSession } from "../../../common/zookeeper/session.js";
import { parseZkUrl } from "../../../common/zookeeper/url.js";
import { CliError } from "./cli-error.js";

/** The leader found in ZooKeeper. */
export interface ZkLeader {
  /** `ip:port` */
  readonly address: string;
  /** `master@ip:port` */
  readonly pid: string;
  readonly info: MasterInfo;
}

/**
 * Reads the leader from the group at `text` (`zk://...`); waits up to
 * `timeoutMs`. `timedOut` makes the error thrown when no leader was found
 * in time (default: a line saying whether ZooKeeper answered).
 */
export async function zkLeader(
  text: string,
  timeoutMs: number,
  timedOut?: () => CliError,
): Promise<ZkLeader> {
  const url = parseZkUrl(text);
  if (!url.ok) throw new CliError(url.error);
  const clock = new SystemClock();
  const session = new ZkSession({
    url: url.value,
    sessionTimeoutMs: Math.max(timeoutMs, 4000),
    logger: silentLogger,
    clock,
  });
  const detector = new MasterDetector({
    session,
    groupPath: url.value.path,
    logger: silentLogger,
    clock,
  });
  session.start();
  detector.start();
  try {
    const leader = await detector.waitForLeader(timeoutMs);
    if (leader === undefined) {
      if (timedOut !== undefined) throw timedOut();
      throw new CliError(
        session.connected
          ? `no leading master is elected in ${text}`
          : `cannot reach ZooKeeper at ${text} (waited ${Math.round(timeoutMs / 1000)} s)`,
      );
    }
    const { host, port } = masterInfoAddress(leader.info);
    return {
      address: `${host.includes(":") ? `[${host}]` : host}:${port}`,
      pid: masterInfoPid(leader.info),
      info: leader.info,
    };
  } finally {
    detector.stop();
    session.close();
  }
}

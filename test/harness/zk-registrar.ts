/**
 * A ZooKeeper registrar as a leading master holds it, for registry tests
 * that play several masters in one process: a session, an election znode in
 * `group`, and the registrar writing under it.
 */
import assert from "node:assert/strict";
import { SystemClock } from "../../src/common/time/clock.js";
import { joinGroup } from "../../src/common/zookeeper/group.js";
import { ZkSession } from "../../src/common/zookeeper/session.js";
import { parseZkUrl } from "../../src/common/zookeeper/url.js";
import { ZooKeeperRegistrar } from "../../src/master/registrar/zookeeper.js";
import type { ZooKeeper } from "./zookeeper.js";

const clock = new SystemClock();
const quiet = { info: () => {}, warn: () => {}, error: () => {}, verbose: () => {} };

/**
 * Joins `group` on `zk` as master `id` and returns its session and
 * registrar; the session is added to `sessions` for the test to close.
 */
export async function zkRegistrarLeader(
  zk: ZooKeeper,
  sessions: ZkSession[],
  id: string,
  group: string,
  options: { shards?: number; onDeposed?: (message: string) => void } = {},
): Promise<{ session: ZkSession; memberPath: string; registrar: ZooKeeperRegistrar }> {
  const url = parseZkUrl(zk.url(group));
  assert.ok(url.ok);
  const session = new ZkSession({ url: url.value, sessionTimeoutMs: 4000, logger: quiet, clock });
  session.start();
  sessions.push(session);
  const member = await joinGroup(session, group, "json.info", Buffer.from("{}"), quiet, clock);
  const registrar = new ZooKeeperRegistrar({
    session,
    groupPath: group,
    ownZnode: member.path,
    masterId: id,
    logger: quiet,
    ...(options.shards === undefined ? {} : { shards: options.shards }),
    onDeposed: options.onDeposed ?? (() => {}),
  });
  return { session, memberPath: member.path, registrar };
}

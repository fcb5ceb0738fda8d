/**
 * Group membership in ZooKeeper, as Mesos keeps it: each member is an
 * ephemeral sequential znode `<path>/<label>_<10-digit sequence>` whose data
 * describes it; the znodes vanish with the session that created them.
 * Masters use the label `json.info` and a MasterInfo in JSON (see
 * master-info-json.ts), which is what Mesos' detectors and tools read.
 */
import type { Logger } from "../observability/logger.js";
import type { Clock } from "../time/clock.js";
import { ZK_NO_NODE, type ZkSession, zkErrorCode, zkErrorText } from "./session.js";
import { zkJoin } from "./url.js";

/** The label Mesos masters put in front of their sequence numbers. */
export const MASTER_INFO_JSON_LABEL = "json.info";

/** One member of the group. */
export interface GroupMember {
  /** The znode name (`json.info_0000000003`). */
  readonly name: string;
  /** The full znode path. */
  readonly path: string;
  readonly sequence: number;
  /** The label before `_`, when there is one. */
  readonly label: string | undefined;
}

/** Parses a child name into a member; undefined for znodes that are not members. */
export function parseMemberName(groupPath: string, name: string): GroupMember | undefined {
  const m = /^(?:(.+)_)?(\d{10})$/.exec(name);
  if (m === null || m[2] === undefined) return undefined;
  return { name, path: zkJoin(groupPath, name), sequence: Number(m[2]), label: m[1] };
}

/** The members under `groupPath`, lowest sequence first, optionally only those with `label`. */
export async function listMembers(
  session: ZkSession,
  groupPath: string,
  label: string | undefined,
  watch?: () => void,
): Promise<GroupMember[]> {
  const names = await session.getChildren(groupPath, watch);
  const members: GroupMember[] = [];
  for (const name of names) {
    const member = parseMemberName(groupPath, name);
    if (member === undefined) continue;
    if (label !== undefined && member.label !== label) continue;
    members.push(member);
  }
  return members.sort((a, b) => a.sequence - b.sequence);
}

/** Creates the group's znode path when it is missing (Mesos' group does too). */
export async function ensureGroupPath(session: ZkSession, groupPath: string): Promise<void> {
  if (groupPath === "/") return;
  await session.mkdirp(groupPath);
}

/**
 * Joins the group: an ephemeral sequential znode with `data`, named
 * `<label>_<sequence>`, or just `<sequence>` without a label (Mesos'
 * replicated-log replicas join that way). Retries
 * (with the logger told) until the session can do it. The member returned
 * was made by the session current when this resolves (`sessionNumber`), so
 * it lives as long as that session.
 *
 * A create whose answer was lost may still have made the znode: before
 * trying again, a member of the same session with the same data is taken
 * as ours. Without that, the master kept an orphan znode below its own,
 * which named it leader while it waited as the next candidate, for good.
 */
export async function joinGroup(
  session: ZkSession,
  groupPath: string,
  label: string | undefined,
  data: Buffer,
  logger: Logger,
  clock: Clock,
): Promise<GroupMember & { readonly sessionNumber: number }> {
  let uncertainIn: number | undefined;
  for (;;) {
    await session.whenConnected();
    const sessionNumber = session.sessionNumber;
    try {
      await ensureGroupPath(session, groupPath);
      if (uncertainIn === sessionNumber) {
        const mine = await findMember(session, groupPath, label, data);
        if (session.sessionNumber !== sessionNumber) continue;
        if (mine !== undefined) return { ...mine, sessionNumber };
      }
      uncertainIn = sessionNumber;
      const created = await session.create(
        zkJoin(groupPath, label === undefined ? "" : `${label}_`),
        data,
        "ephemeral-sequential",
      );
      // Made by a session that is gone since: the znode went with it.
      if (session.sessionNumber !== sessionNumber) continue;
      const name = created.slice(created.lastIndexOf("/") + 1);
      const member = parseMemberName(groupPath, name);
      if (member === undefined) throw new Error(`unexpected znode name '${created}'`);
      return { ...member, sessionNumber };
    } catch (error) {
      if (zkErrorCode(error) === ZK_NO_NODE) continue;
      logger.warn(`Failed to join the group at ${groupPath}: ${zkErrorText(error)}; retrying`);
      await new Promise<void>((resolve) => clock.setTimer(1000, resolve));
      await session.whenConnected();
    }
  }
}

/**
 * A member with exactly `data` (the caller's own, e.g. its MasterInfo with
 * its unique id) that the current session owns; undefined when none.
 */
async function findMember(
  session: ZkSession,
  groupPath: string,
  label: string | undefined,
  data: Buffer,
): Promise<GroupMember | undefined> {
  for (const member of await listMembers(session, groupPath, label)) {
    const got = await session.getData(member.path);
    if (got?.data.equals(data) && (await session.ownsEphemeral(member.path))) {
      return member;
    }
  }
  return undefined;
}

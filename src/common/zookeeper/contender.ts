/**
 * The master's candidacy: one `json.info_*` member in the group. The
 * candidacy is lost when the session that holds the znode expires or the
 * znode is deleted; a master that leads must then stop (see
 * src/master/leadership).
 */
import type { Logger } from "../observability/logger.js";
import type { MasterInfo } from "../protocol/generated/mesos-v1.js";
import type { Clock } from "../time/clock.js";
import { type GroupMember, joinGroup, MASTER_INFO_JSON_LABEL } from "./group.js";
import { encodeMasterInfoJson } from "./master-info-json.js";
import { type ZkSession, zkErrorText } from "./session.js";

export interface ContenderOptions {
  readonly session: ZkSession;
  readonly groupPath: string;
  readonly info: MasterInfo;
  readonly logger: Logger;
  readonly clock: Clock;
}

export class MasterContender {
  private member: GroupMember | undefined;
  private lostFns = new Set<(why: string) => void>();
  private offExpired: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly options: ContenderOptions) {}

  /** Our znode while we are a candidate. */
  get membership(): GroupMember | undefined {
    return this.member;
  }

  /** Called (once per candidacy) when the candidacy is lost. */
  onLost(fn: (why: string) => void): () => void {
    this.lostFns.add(fn);
    return () => this.lostFns.delete(fn);
  }

  /** Joins the group; resolves with our member once the znode exists. */
  async contend(): Promise<GroupMember> {
    const { session, groupPath, info, logger, clock } = this.options;
    const data = encodeMasterInfoJson(info);
    // Called from an "expired" listener, the old session is still current
    // here: wait for the new one.
    await session.whenConnected();
    const joined = await joinGroup(session, groupPath, MASTER_INFO_JSON_LABEL, data, logger, clock);
    // The session that made the znode (a session that expired while an
    // earlier attempt waited is not this one: comparing with the session at
    // the start made a live znode count as lost, and the master contended
    // again below its own orphan, never to be elected).
    const sessionNumber = joined.sessionNumber;
    const member: GroupMember = {
      name: joined.name,
      path: joined.path,
      sequence: joined.sequence,
      label: joined.label,
    };
    this.member = member;
    logger.info(`Contending for leadership as ${member.path} (sequence ${member.sequence})`);
    this.offExpired?.();
    this.offExpired = session.on("expired", () => this.lose("the ZooKeeper session expired"));
    if (session.sessionNumber !== sessionNumber) {
      // The session that created the znode may already be gone.
      this.lose("the ZooKeeper session expired while joining");
      return member;
    }
    this.watchOwn(member);
    return member;
  }

  private watchOwn(member: GroupMember): void {
    const { session, logger } = this.options;
    const check = (): void => {
      if (this.member !== member || this.stopped) return;
      session.exists(member.path, check).then(
        (exists) => {
          if (!exists) this.lose(`our znode ${member.path} was deleted`);
        },
        (error: unknown) => logger.verbose(1, `Watching ${member.path}: ${zkErrorText(error)}`),
      );
    };
    check();
  }

  private lose(why: string): void {
    if (this.member === undefined || this.stopped) return;
    this.member = undefined;
    this.offExpired?.();
    this.offExpired = undefined;
    for (const fn of [...this.lostFns]) fn(why);
  }

  /** Leaves the group (deletes our znode) and stops watching. */
  async withdraw(): Promise<void> {
    this.stopped = true;
    this.offExpired?.();
    const member = this.member;
    this.member = undefined;
    if (member !== undefined && this.options.session.connected) {
      await this.options.session.remove(member.path).catch(() => {});
    }
  }
}

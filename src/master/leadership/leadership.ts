/**
 * A master's part in the election (`--zk`): it contends with its
 * MasterInfo, watches who leads, and
 * - when its own znode becomes the lowest: it is elected (`onElected`
 *   starts the real master: registry recovery, agents, frameworks);
 * - while another master leads: it stays a standby (`onLeader` points the
 *   standby's redirects at the leader);
 * - when it leads and loses its candidacy (session expired, znode gone) or
 *   sees another leader: it must stop at once (`fatal`), as Mesos' master
 *   "commits suicide": its in-memory state may be stale and another master
 *   may already be writing the registry.
 * A standby that loses its candidacy contends again.
 */
import type { Logger } from "../../common/observability/logger.js";
import type { MasterInfo } from "../../common/protocol/generated/mesos-v1.js";
import type { Clock } from "../../common/time/clock.js";
import { MasterContender } from "../../common/zookeeper/contender.js";
import { type Leader, MasterDetector } from "../../common/zookeeper/detector.js";
import type { GroupMember } from "../../common/zookeeper/group.js";
import { ZkSession } from "../../common/zookeeper/session.js";
import type { ZkUrl } from "../../common/zookeeper/url.js";
import { leaderRegionConflict } from "../fault-domain.js";

export interface LeadershipOptions {
  readonly url: ZkUrl;
  readonly sessionTimeoutMs: number;
  readonly info: MasterInfo;
  readonly logger: Logger;
  readonly clock: Clock;
  /** This master won: start leading (resolves once the master runs). */
  readonly onElected: (member: GroupMember) => Promise<void>;
  /** Another master leads (or none: undefined); called only while a standby. */
  readonly onLeader: (leader: MasterInfo | undefined) => void;
  /** The master must exit now, with this message. */
  readonly fatal: (message: string) => void;
}

export class Leadership {
  readonly session: ZkSession;
  private readonly contender: MasterContender;
  private readonly detector: MasterDetector;
  private isElected = false;
  private stopped = false;

  constructor(private readonly options: LeadershipOptions) {
    const { url, sessionTimeoutMs, logger, clock, info } = options;
    this.session = new ZkSession({ url, sessionTimeoutMs, logger, clock });
    this.contender = new MasterContender({
      session: this.session,
      groupPath: url.path,
      info,
      logger,
      clock,
    });
    this.detector = new MasterDetector({
      session: this.session,
      groupPath: url.path,
      logger,
      clock,
      createPath: true,
    });
  }

  /** True once this master has been elected (it never goes back: it exits instead). */
  get elected(): boolean {
    return this.isElected;
  }

  /** Our znode while we are a candidate. */
  get membership(): GroupMember | undefined {
    return this.contender.membership;
  }

  /** The leader as last detected. */
  get leader(): Leader | undefined {
    return this.detector.leader;
  }

  start(): void {
    this.contender.onLost((why) => this.lostCandidacy(why));
    this.detector.onChange((leader) => this.detected(leader));
    this.session.start();
    this.detector.start();
    this.contend();
  }

  private contend(): void {
    this.contender.contend().then(
      () => this.detected(this.detector.leader),
      (error: unknown) => this.options.fatal(`Failed to contend for leadership: ${String(error)}`),
    );
  }

  private lostCandidacy(why: string): void {
    if (this.stopped) return;
    if (this.isElected) {
      this.options.fatal(`Lost candidacy as a leader (${why})... committing suicide!`);
      return;
    }
    this.options.logger.info(`Lost candidacy as a follower (${why})... Contend again`);
    this.contend();
  }

  private detected(leader: Leader | undefined): void {
    if (this.stopped) return;
    const { logger, fatal } = this.options;
    const own = this.contender.membership;
    if (leader !== undefined && own !== undefined && leader.member.path === own.path) {
      if (this.isElected) return;
      this.isElected = true;
      this.options
        .onElected(own)
        .catch((error: unknown) =>
          fatal(
            `Failed to start leading: ${error instanceof Error ? error.message : String(error)}`,
          ),
        );
      return;
    }
    if (this.isElected) {
      fatal(
        leader === undefined
          ? "Lost leadership after indecisive election... committing suicide!"
          : `Conceded leadership to another master (${leader.info.pid ?? leader.info.id})... committing suicide!`,
      );
      return;
    }
    if (leader === undefined) logger.info("No master was elected");
    else {
      logger.info(
        `The newly elected leader is ${leader.info.pid ?? "?"} with id ${leader.info.id}`,
      );
      // Masters of one cluster must share a region (a configuration error otherwise).
      const conflict = leaderRegionConflict(leader.info, this.options.info);
      if (conflict !== undefined) {
        fatal(conflict);
        return;
      }
    }
    this.options.onLeader(leader?.info);
  }

  /** Leaves the election (SIGTERM): the znode goes, so another master can lead at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.detector.stop();
    await this.contender.withdraw();
    this.session.close();
  }
}

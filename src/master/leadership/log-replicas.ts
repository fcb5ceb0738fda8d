/**
 * The masters' "log replica" group, `<zk path>/log_replicas`, as Mesos'
 * replicated log keeps it: every master (standby or leader) joins with an
 * ephemeral sequential znode `<10 digits>` whose data is its replica's
 * UPID (`log-replica(1)@ip:port`), and rejoins when its session expired.
 *
 * Our registry lives in ZooKeeper rather than in a replicated log, but
 * `--quorum` keeps Mesos' availability rule: the elected master recovers
 * the registry only once `--quorum` masters are in the group (all
 * `2 * quorum - 1` of them while the registry was never written, as Mesos'
 * log auto-initializes only when every replica is there). Until then it
 * waits, bounded by `--registry_fetch_timeout`.
 *
 * `registrar/log/ensemble_size` (members in the group) and
 * `registrar/log/recovered` (1 once a quorum was seen) are its metrics.
 */
import type { Logger } from "../../common/observability/logger.js";
import type { Clock } from "../../common/time/clock.js";
import { type GroupMember, joinGroup, listMembers } from "../../common/zookeeper/group.js";
import {
  ZK_NO_NODE,
  type ZkSession,
  zkErrorCode,
  zkErrorText,
} from "../../common/zookeeper/session.js";
import { zkJoin } from "../../common/zookeeper/url.js";

/** The group's znode below the `--zk` path (Mesos' name). */
export function logReplicasPath(zkPath: string): string {
  return zkJoin(zkPath, "log_replicas");
}

export interface LogReplicasOptions {
  readonly session: ZkSession;
  /** The `--zk` path; the group is `<path>/log_replicas`. */
  readonly zkPath: string;
  /** This master's replica UPID, written as the member's data. */
  readonly pid: string;
  /** `--quorum`. */
  readonly quorum: number;
  readonly logger: Logger;
  readonly clock: Clock;
}

export class LogReplicas {
  private member: GroupMember | undefined;
  private joining = false;
  private members = 0;
  private quorumSeen = false;
  private seenOwn = false;
  private stopped = false;
  private running = false;
  private again = false;
  private readonly waiters = new Set<{ needed: number; resolve: () => void }>();
  private readonly offs: (() => void)[] = [];
  private readonly joinedFns = new Set<() => void>();
  readonly path: string;

  constructor(private readonly options: LogReplicasOptions) {
    this.path = logReplicasPath(options.zkPath);
  }

  /** Members in the group as last read (`registrar/log/ensemble_size`). */
  get ensembleSize(): number {
    return this.members;
  }

  /** True once a quorum of replicas was seen (`registrar/log/recovered`; it stays 1). */
  get recovered(): boolean {
    return this.quorumSeen;
  }

  start(): void {
    const { session } = this.options;
    this.offs.push(session.on("connected", () => this.refresh()));
    this.offs.push(
      session.on("expired", () => {
        // The member went with the session; from here nothing is known until the new one reads.
        this.member = undefined;
        this.seenOwn = false;
        this.members = 0;
        this.join();
      }),
    );
    this.join();
  }

  /** Resolves once our own member is in the group as read (so the count includes us). */
  whenJoined(): Promise<void> {
    if (this.isJoined()) return Promise.resolve();
    return new Promise((resolve) => this.joinedFns.add(resolve));
  }

  private isJoined(): boolean {
    return this.member !== undefined && this.seenOwn;
  }

  /** Resolves once `needed` replicas are in the group. */
  waitFor(needed: number): Promise<void> {
    if (this.members >= needed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.add({ needed, resolve }));
  }

  private join(): void {
    if (this.joining || this.stopped) return;
    this.joining = true;
    const { session, pid, logger, clock } = this.options;
    joinGroup(session, this.path, undefined, Buffer.from(pid), logger, clock).then(
      (member) => {
        this.joining = false;
        if (this.stopped) {
          session.remove(member.path).catch(() => {});
          return;
        }
        this.member = member;
        logger.info(`Joined the log replica group as ${member.path}`);
        this.refresh();
      },
      (error: unknown) => {
        this.joining = false;
        logger.warn(`Failed to join the log replica group: ${zkErrorText(error)}`);
      },
    );
  }

  private refresh(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.again = false;
    listMembers(this.options.session, this.path, undefined, () => this.refresh())
      .then(
        (members) => this.update(members),
        (error: unknown) => {
          // No group yet: our own join creates it and reads again.
          if (zkErrorCode(error) !== ZK_NO_NODE) {
            this.options.logger.verbose(1, `Reading ${this.path}: ${zkErrorText(error)}`);
          }
        },
      )
      .finally(() => {
        this.running = false;
        if (this.again) this.refresh();
      });
  }

  private update(members: GroupMember[]): void {
    this.members = members.length;
    const mine = this.member;
    this.seenOwn = mine !== undefined && members.some((m) => m.path === mine.path);
    if (this.isJoined()) {
      for (const fn of [...this.joinedFns]) fn();
      this.joinedFns.clear();
    }
    if (!this.quorumSeen && this.members >= this.options.quorum) {
      this.quorumSeen = true;
      this.options.logger.info(
        `${this.members} log replicas are in ${this.path}: a quorum (--quorum=${this.options.quorum})`,
      );
    }
    const own = this.member;
    if (own !== undefined && !members.some((m) => m.path === own.path) && !this.joining) {
      // Our znode is gone while the session lives on (deleted by hand): join again, as Mesos renews it.
      this.options.logger.info("Renewing the log replica group membership");
      this.member = undefined;
      this.join();
    }
    for (const waiter of [...this.waiters]) {
      if (this.members >= waiter.needed) {
        this.waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  /** Leaves the group (SIGTERM). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const off of this.offs) off();
    const member = this.member;
    this.member = undefined;
    if (member !== undefined && this.options.session.connected) {
      await this.options.session.remove(member.path).catch(() => {});
    }
  }
}

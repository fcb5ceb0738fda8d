/**
 * Finds the leading master: the `json.info_*` member with the lowest
 * sequence number under the group path, and its MasterInfo. It watches the
 * group and reports every change. A disconnection keeps the last known
 * leader (the session may come back). An expired session reports no leader
 * at once, as Mesos' group does (its memberships are gone from this
 * client's view, and ZooKeeper may stay unreachable for long): a standby
 * then answers 503 instead of redirecting to a leader that may be gone. The
 * new session reads the group again.
 */
import type { Logger } from "../observability/logger.js";
import type { MasterInfo } from "../protocol/generated/mesos-v1.js";
import type { Clock, TimerHandle } from "../time/clock.js";
import { ensureGroupPath, type GroupMember, listMembers } from "./group.js";
import { decodeMasterZnode } from "./master-info-json.js";
import { ZK_NO_NODE, type ZkSession, zkErrorCode, zkErrorText } from "./session.js";

/** The elected master. */
export interface Leader {
  readonly member: GroupMember;
  readonly info: MasterInfo;
}

export interface DetectorOptions {
  readonly session: ZkSession;
  readonly groupPath: string;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Create the group path when missing (masters do; read-only clients need not). */
  readonly createPath?: boolean;
}

export class MasterDetector {
  private current: Leader | undefined;
  private detectedOnce = false;
  private readonly fns = new Set<(leader: Leader | undefined) => void>();
  private running = false;
  private again = false;
  private stopped = false;
  private offConnected: (() => void) | undefined;
  private offExpired: (() => void) | undefined;
  private retryTimer: TimerHandle | undefined;

  constructor(private readonly options: DetectorOptions) {}

  /** The leader as last seen (undefined: none elected, or not known yet). */
  get leader(): Leader | undefined {
    return this.current;
  }

  /** True once the group has been read at least once. */
  get detected(): boolean {
    return this.detectedOnce;
  }

  /** Called on every leader change (undefined: no leader). */
  onChange(fn: (leader: Leader | undefined) => void): () => void {
    this.fns.add(fn);
    return () => this.fns.delete(fn);
  }

  /** Starts watching (the session may still be connecting). */
  start(): void {
    this.offConnected = this.options.session.on("connected", () => this.refresh());
    // Later than the session's other "expired" listeners (a leader's own
    // candidacy loss names the cause better than "no leader").
    this.offExpired = this.options.session.on("expired", () =>
      queueMicrotask(() => {
        if (!this.stopped && this.detectedOnce && this.current !== undefined) this.set(undefined);
      }),
    );
    if (this.options.session.connected) this.refresh();
  }

  stop(): void {
    this.stopped = true;
    this.offConnected?.();
    this.offExpired?.();
    if (this.retryTimer !== undefined) this.options.clock.cancelTimer(this.retryTimer);
  }

  /** The leader, waiting up to `timeoutMs` for one to be elected (undefined on timeout). */
  waitForLeader(timeoutMs: number): Promise<Leader | undefined> {
    if (this.current !== undefined) return Promise.resolve(this.current);
    return new Promise((resolve) => {
      const timer = this.options.clock.setTimer(timeoutMs, () => {
        off();
        resolve(undefined);
      });
      const off = this.onChange((leader) => {
        if (leader === undefined) return;
        off();
        this.options.clock.cancelTimer(timer);
        resolve(leader);
      });
    });
  }

  private refresh(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.again = false;
    this.readGroup().then(
      () => this.finish(),
      (error: unknown) => {
        this.options.logger.warn(`Failed to read the master group: ${zkErrorText(error)}`);
        this.finish();
        // Retry when connected (the "connected" listener) or after a moment.
        if (this.options.session.connected) {
          this.retryTimer = this.options.clock.setTimer(1000, () => this.refresh());
        }
      },
    );
  }

  private finish(): void {
    this.running = false;
    if (this.again) this.refresh();
  }

  private async readGroup(): Promise<void> {
    const { session, groupPath } = this.options;
    const watch = (): void => this.refresh();
    let members: GroupMember[];
    try {
      // Every member counts, whatever its label (older masters wrote `info_`
      // or unlabelled znodes): the lowest leads, as with Mesos' detector.
      members = await listMembers(session, groupPath, undefined, watch);
    } catch (error) {
      if (zkErrorCode(error) !== ZK_NO_NODE) throw error;
      if (this.options.createPath === true) {
        await ensureGroupPath(session, groupPath);
        this.again = true;
        return;
      }
      // No group yet: wait for the path to appear.
      if (!(await session.exists(groupPath, watch))) {
        this.set(undefined);
        return;
      }
      this.again = true;
      return;
    }
    const lowest = members[0];
    if (lowest === undefined) {
      this.set(undefined);
      return;
    }
    if (this.current?.member.path === lowest.path) {
      this.detectedOnce = true;
      return;
    }
    const read = await session.getData(lowest.path);
    if (read === undefined) {
      this.again = true; // it went away between the two reads
      return;
    }
    const info = decodeMasterZnode(lowest.label, read.data);
    if (!info.ok) {
      this.options.logger.error(
        `Leading master's znode ${lowest.path} is unreadable: ${info.error}`,
      );
      this.set(undefined);
      return;
    }
    this.set({ member: lowest, info: info.value });
  }

  private set(leader: Leader | undefined): void {
    const first = !this.detectedOnce;
    this.detectedOnce = true;
    if (!first && leader?.member.path === this.current?.member.path) return;
    this.current = leader;
    if (leader === undefined) this.options.logger.info("No master is currently leading");
    else {
      this.options.logger.info(
        `Detected a new leader: ${leader.info.pid ?? leader.info.id} (${leader.member.name})`,
      );
    }
    for (const fn of [...this.fns]) fn(leader);
  }
}

/**
 * Keeps the cluster view current and says how the UI is connected.
 *
 * It first reads the small `/master/state-summary` (and `/version`) for a
 * quick first view (counts, resources, agents, frameworks) while the full
 * `/master/state` is on its way, then opens the operator event stream
 * (`POST /api/v1` SUBSCRIBE). Events patch task states at once and schedule
 * a coalesced re-read for what they do not carry. When the master has no
 * event stream yet (404/405/501 or any non-stream answer), it polls
 * `/master/state` instead, less often for larger clusters. Losing the master
 * turns into a "disconnected" state and a reconnect loop with backoff; a
 * master that is not the leader sends the browser to the leader.
 */
import { type ClusterView, clusterFromState, clusterFromSummary } from "../model/cluster";
import { applyEvent } from "../model/events";
import { obj, str } from "../model/json";
import { RecordIoReader } from "./recordio";

export type Connection =
  | { status: "connecting" }
  | { status: "connected"; via: "stream" | "poll"; since: number }
  | { status: "disconnected"; reason: string; retryAt: number; since: number }
  | { status: "not-leader"; leader: string };

/** Timings of one read of `/master/state` through to the screen (ms). */
export interface RenderTiming {
  /** "first": the first view on screen (from the summary when it came first); "full": the first full state; "update": later reads. */
  kind: "first" | "full" | "update";
  fetchMs: number;
  parseMs: number;
  modelMs: number;
  renderMs: number;
  totalMs: number;
  bytes: number;
  /** When the render finished, ms since the page's navigation started. */
  doneAt: number;
}

type Listener = () => void;

const MAX_BACKOFF_MS = 10_000;
const DECODER = new TextDecoder();

/** How long to wait between polls of `/master/state` for a cluster this size. */
export function pollIntervalMs(agents: number): number {
  if (agents < 500) return 3000;
  if (agents < 1000) return 5000;
  if (agents < 5000) return 15_000;
  return 30_000;
}

export class ClusterStore {
  cluster: ClusterView | undefined;
  connection: Connection = { status: "connecting" };
  /** Bumped on every change, for views that memoise on it. */
  version = 0;
  readonly timings: RenderTiming[] = [];

  private readonly listeners = new Set<Listener>();
  private timer: number | undefined;
  private stream: AbortController | undefined;
  private backoffMs = 1000;
  private lastReadCostMs = 0;
  private resyncPending = false;
  private reading: Promise<boolean> | undefined;
  private heartbeatTimer: number | undefined;
  private stopped = false;

  constructor(private readonly base = "") {}

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimer();
    this.stream?.abort();
  }

  /** Reads `/master/state` now (reconnecting if needed). Resolves when it is on screen. */
  async refresh(): Promise<void> {
    if (this.connection.status === "disconnected" || this.connection.status === "connecting") {
      this.clearTimer();
      await this.connect();
      return;
    }
    await this.readState();
  }

  private notify(): void {
    this.version += 1;
    for (const l of this.listeners) l();
  }

  private setConnection(connection: Connection): void {
    this.connection = connection;
    this.notify();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) window.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(ms: number, run: () => void): void {
    this.clearTimer();
    if (this.stopped) return;
    this.timer = window.setTimeout(() => {
      this.timer = undefined;
      run();
    }, ms);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    // The summary first, alone: on a loaded machine a parallel full read slows it down.
    if (this.cluster === undefined) await this.readSummary();
    const ok = await this.readState();
    if (!ok) return;
    if (this.connection.status === "not-leader") return;
    this.backoffMs = 1000;
    await this.openStream();
  }

  /**
   * One read of `/master/state` into the view. Concurrent callers share one
   * read. On failure the store goes to "disconnected" and schedules a reconnect.
   */
  private readState(): Promise<boolean> {
    this.reading ??= this.readStateOnce().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  /**
   * The quick first view: `/master/state-summary` and `/version` are a small
   * fraction of `/master/state` on a big cluster. Used only while no full
   * state has arrived; failures are left to the full read to report.
   */
  private async readSummary(): Promise<void> {
    const t0 = performance.now();
    let summary: unknown;
    let version: unknown;
    let bytes = 0;
    try {
      const [s, v] = await Promise.all([
        fetch(`${this.base}/master/state-summary`, { cache: "no-store" }),
        fetch(`${this.base}/version`, { cache: "no-store" }),
      ]);
      if (!s.ok) return;
      const text = await s.text();
      bytes = text.length;
      const t1 = performance.now();
      summary = JSON.parse(text);
      version = v.ok ? await v.json() : {};
      if (this.cluster !== undefined) return;
      const t2 = performance.now();
      const cluster = clusterFromSummary(summary, version);
      const t3 = performance.now();
      this.cluster = cluster;
      this.notify();
      await nextFrame();
      const t4 = performance.now();
      this.timings.push({
        kind: "first",
        fetchMs: t1 - t0,
        parseMs: t2 - t1,
        modelMs: t3 - t2,
        renderMs: t4 - t3,
        totalMs: t4 - t0,
        bytes,
        doneAt: t4,
      });
    } catch {
      // The full read reports what is wrong.
    }
  }

  private async readStateOnce(): Promise<boolean> {
    const t0 = performance.now();
    let raw: ArrayBuffer;
    try {
      // Redirects are not followed: a standby master answers 307 to the leader on
      // another origin, which a fetch could not read; the browser follows it instead.
      const response = await fetch(`${this.base}/master/state`, {
        cache: "no-store",
        redirect: "manual",
      });
      if (response.type === "opaqueredirect") {
        this.goToLeader();
        return true;
      }
      if (response.status === 503) {
        this.lose("the master has no elected leader yet (HTTP 503)");
        return false;
      }
      if (!response.ok) {
        this.lose(`/master/state answered HTTP ${response.status}`);
        return false;
      }
      raw = await response.arrayBuffer();
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      this.lose(`the master does not answer (${why})`);
      return false;
    }
    const t1 = performance.now();
    let parsed: unknown;
    const text = DECODER.decode(raw);
    try {
      parsed = JSON.parse(text);
    } catch {
      this.lose("/master/state was not JSON");
      return false;
    }
    const t2 = performance.now();
    const cluster = clusterFromState(parsed);
    const t3 = performance.now();
    const first = this.cluster === undefined;
    const full = first || this.cluster?.partial === true;
    this.cluster = cluster;
    if (this.redirectToLeader(cluster)) return true;
    if (this.connection.status !== "connected") {
      this.connection = { status: "connected", via: "poll", since: Date.now() };
    }
    this.notify();
    await nextFrame();
    const t4 = performance.now();
    this.lastReadCostMs = t4 - t0;
    const timing: RenderTiming = {
      kind: first ? "first" : full ? "full" : "update",
      fetchMs: t1 - t0,
      parseMs: t2 - t1,
      modelMs: t3 - t2,
      renderMs: t4 - t3,
      totalMs: t4 - t0,
      bytes: text.length,
      doneAt: t4,
    };
    this.timings.push(timing);
    if (this.timings.length > 50) this.timings.shift();
    return true;
  }

  /** A follower master names the leader: go there (keeping the page). */
  private redirectToLeader(cluster: ClusterView): boolean {
    const m = cluster.master;
    if (m.leader === "" || m.pid === "" || m.leader === m.pid) return false;
    const leader = m.leaderHostname !== "" ? `${m.leaderHostname}:${m.leaderPort}` : m.leader;
    this.clearTimer();
    this.stream?.abort();
    this.setConnection({ status: "not-leader", leader });
    if (m.leaderHostname !== "") {
      window.setTimeout(() => {
        window.location.href = `//${m.leaderHostname}:${m.leaderPort}/${window.location.hash}`;
      }, 2000);
    }
    return true;
  }

  /** This master redirects to the leader: let the browser follow `/master/redirect` there. */
  private goToLeader(): void {
    this.clearTimer();
    this.stream?.abort();
    this.setConnection({ status: "not-leader", leader: "the leading master" });
    window.setTimeout(() => {
      window.location.href = `${this.base}/master/redirect${window.location.hash}`;
    }, 2000);
  }

  private lose(reason: string): void {
    this.stream?.abort();
    this.stream = undefined;
    this.stopHeartbeatWatch();
    const retryAt = Date.now() + this.backoffMs;
    const since = this.connection.status === "disconnected" ? this.connection.since : Date.now();
    this.setConnection({ status: "disconnected", reason, retryAt, since });
    this.schedule(this.backoffMs, () => void this.connect());
    this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs * 2);
  }

  private startPolling(): void {
    const interval = Math.max(
      pollIntervalMs(this.cluster?.agents.length ?? 0),
      Math.round(this.lastReadCostMs * 5),
    );
    this.schedule(interval, () => {
      void this.readState().then((ok) => {
        if (ok && this.connection.status === "connected") this.startPolling();
      });
    });
  }

  private async openStream(): Promise<void> {
    const controller = new AbortController();
    this.stream?.abort();
    this.stream = controller;
    let response: Response;
    try {
      response = await fetch(`${this.base}/api/v1`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ type: "SUBSCRIBE" }),
        signal: controller.signal,
        cache: "no-store",
      });
    } catch {
      if (controller.signal.aborted) return;
      this.startPolling();
      return;
    }
    if (response.status !== 200 || response.body === null) {
      // No event stream on this master (yet): poll instead.
      controller.abort();
      this.startPolling();
      return;
    }
    this.setConnection({ status: "connected", via: "stream", since: Date.now() });
    this.periodicResync();
    const reader = response.body.getReader();
    const records = new RecordIoReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        for (const record of records.push(value)) this.onEvent(JSON.parse(record) as unknown);
      }
      if (!controller.signal.aborted) this.lose("the master closed the event stream");
    } catch (error) {
      if (controller.signal.aborted) return;
      this.lose(error instanceof Error ? error.message : String(error));
    }
  }

  private onEvent(event: unknown): void {
    const e = obj(event);
    const type = str(e.type);
    if (type === "SUBSCRIBED") {
      const seconds = Number(obj(e.subscribed).heartbeat_interval_seconds ?? 15);
      this.heartbeatMs = (Number.isFinite(seconds) && seconds > 0 ? seconds : 15) * 1000;
    }
    this.watchHeartbeat();
    if (this.cluster === undefined) return;
    const outcome = applyEvent(this.cluster, event);
    if (outcome.cluster !== undefined) {
      this.cluster = outcome.cluster;
      this.notify();
    }
    if (outcome.needsResync) this.scheduleResync();
  }

  private heartbeatMs = 15_000;

  /** A stream that stays silent for two heartbeats is dead even if TCP has not noticed. */
  private watchHeartbeat(): void {
    this.stopHeartbeatWatch();
    this.heartbeatTimer = window.setTimeout(
      () => this.lose("no heartbeat from the master"),
      this.heartbeatMs * 2 + 5000,
    );
  }

  private stopHeartbeatWatch(): void {
    if (this.heartbeatTimer !== undefined) window.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  /** Coalesces re-reads caused by events: at most one per few read costs. */
  private scheduleResync(): void {
    if (this.resyncPending) return;
    this.resyncPending = true;
    const delay = Math.min(30_000, Math.max(500, this.lastReadCostMs * 4));
    window.setTimeout(() => {
      this.resyncPending = false;
      void this.readState();
    }, delay);
  }

  /** Offers and resource use change without events: re-read now and then while streaming. */
  private periodicResync(): void {
    const interval = Math.max(
      15_000,
      pollIntervalMs(this.cluster?.agents.length ?? 0) * 3,
      this.lastReadCostMs * 10,
    );
    this.schedule(interval, () => {
      void this.readState().then((ok) => {
        if (ok && this.connection.status === "connected") this.periodicResync();
      });
    });
  }
}

/** Resolves once the browser has painted (or soon, in a hidden tab where frames stop). */
function nextFrame(): Promise<void> {
  return new Promise((resolve) => {
    const fallback = window.setTimeout(resolve, 250);
    requestAnimationFrame(() =>
      window.setTimeout(() => {
        window.clearTimeout(fallback);
        resolve();
      }, 0),
    );
  });
}

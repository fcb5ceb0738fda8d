/**
 * One ZooKeeper session over node-zookeeper-client (pure JavaScript, no
 * native build). It adds what Mesos' group layer does on top of the C
 * client:
 * - a session counts as expired once it has been disconnected for longer
 *   than the session timeout, even when the servers cannot say so (we are
 *   cut off from them): the server drops our ephemeral znodes after that
 *   time, so acting on them any longer would be acting on stale state;
 * - after an expiry a new session is opened, and listeners hear `expired`
 *   and then `connected` again;
 * - while no server answers, it keeps trying and logs that it waits,
 *   instead of failing.
 * Operations are promises; ZooKeeper errors keep their numeric code.
 */
import zookeeper from "node-zookeeper-client";
import type { Logger } from "../observability/logger.js";
import type { Clock, TimerHandle } from "../time/clock.js";
import { formatZkUrl, type ZkUrl } from "./url.js";

/** ZooKeeper error codes the callers branch on. */
export const ZK_NO_NODE = zookeeper.Exception.NO_NODE;
export const ZK_NODE_EXISTS = zookeeper.Exception.NODE_EXISTS;
export const ZK_BAD_VERSION = zookeeper.Exception.BAD_VERSION;

/** The ZooKeeper error code of `error` (undefined for other errors). */
export function zkErrorCode(error: unknown): number | undefined {
  const e = error as { getCode?: () => number } | undefined;
  return typeof e?.getCode === "function" ? e.getCode() : undefined;
}

/** A one-line description of a ZooKeeper failure. */
export function zkErrorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export type ZkSessionEvent = "connected" | "disconnected" | "expired";

/** One operation of a multi-op transaction. */
export type ZkOp =
  | { readonly op: "check"; readonly path: string; readonly version?: number }
  | { readonly op: "create"; readonly path: string; readonly data: Buffer }
  | {
      readonly op: "set";
      readonly path: string;
      readonly data: Buffer;
      readonly version?: number;
    }
  | { readonly op: "remove"; readonly path: string; readonly version?: number };

export interface ZkSessionOptions {
  readonly url: ZkUrl;
  /** `--zk_session_timeout` in ms. */
  readonly sessionTimeoutMs: number;
  readonly logger: Logger;
  readonly clock: Clock;
  /** How often to log while no server answers (default: the session timeout). */
  readonly waitLogIntervalMs?: number;
}

/** An ephemeral or persistent znode kind. */
export type ZkCreateMode = "persistent" | "ephemeral-sequential" | "ephemeral";

const MODES: Record<ZkCreateMode, number> = {
  persistent: zookeeper.CreateMode.PERSISTENT,
  ephemeral: zookeeper.CreateMode.EPHEMERAL,
  "ephemeral-sequential": zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL,
};

export class ZkSession {
  private client: zookeeper.Client | undefined;
  private readonly listeners = new Map<ZkSessionEvent, Set<() => void>>();
  private disconnectTimer: TimerHandle | undefined;
  private waitTimer: TimerHandle | undefined;
  /** Probe and nudge timers: cancelled by close() so a closed session keeps no process alive. */
  private readonly pending = new Set<TimerHandle>();
  private isConnected = false;
  private closed = false;
  private generation = 0;
  private readonly acls: zookeeper.ACL[];

  constructor(private readonly options: ZkSessionOptions) {
    this.acls =
      options.url.credentials === undefined
        ? [new zookeeper.ACL(zookeeper.Permission.ALL, new zookeeper.Id("world", "anyone"))]
        : [
            // Only we may change what we create; everyone may read it (the
            // leader's MasterInfo must be readable by agents and schedulers).
            new zookeeper.ACL(zookeeper.Permission.ALL, new zookeeper.Id("auth", "")),
            new zookeeper.ACL(zookeeper.Permission.READ, new zookeeper.Id("world", "anyone")),
          ];
  }

  /** True while the session is connected to a server. */
  get connected(): boolean {
    return this.isConnected;
  }

  /** Bumped each time a new session replaces an expired one. */
  get sessionNumber(): number {
    return this.generation;
  }

  /** The URL, password hidden. */
  get description(): string {
    return formatZkUrl(this.options.url);
  }

  /** Listens to session events; returns a function that stops listening. */
  on(event: ZkSessionEvent, fn: () => void): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(fn);
    return () => set.delete(fn);
  }

  private emit(event: ZkSessionEvent): void {
    for (const fn of [...(this.listeners.get(event) ?? [])]) fn();
  }

  /** Opens the session (connection attempts continue until close()). */
  start(): void {
    if (this.closed || this.client !== undefined) return;
    const { url, sessionTimeoutMs, logger } = this.options;
    const generation = ++this.generation;
    const client = zookeeper.createClient(url.servers, {
      sessionTimeout: sessionTimeoutMs,
      spinDelay: 200,
      retries: 0,
    });
    this.client = client;
    if (url.credentials !== undefined) {
      client.addAuthInfo("digest", Buffer.from(url.credentials));
    }
    client.on("state", (state: zookeeper.State) => {
      if (this.client !== client || generation !== this.generation) return;
      if (state === zookeeper.State.SYNC_CONNECTED) this.onConnected();
      else if (state === zookeeper.State.DISCONNECTED) this.onDisconnected();
      else if (state === zookeeper.State.EXPIRED) this.expire("the servers expired the session");
      else if (state === zookeeper.State.AUTH_FAILED) {
        logger.error(`ZooKeeper authentication failed at ${this.description}`);
      }
    });
    logger.info(`Connecting to ZooKeeper at ${this.description}`);
    this.scheduleWaitLog(0);
    client.connect();
    this.scheduleNudge();
  }

  private scheduleWaitLog(waited: number): void {
    const { clock, logger, sessionTimeoutMs } = this.options;
    const every = this.options.waitLogIntervalMs ?? sessionTimeoutMs;
    if (this.waitTimer !== undefined) clock.cancelTimer(this.waitTimer);
    this.waitTimer = clock.setTimer(every, () => {
      this.waitTimer = undefined;
      if (this.isConnected || this.closed) return;
      const total = waited + every;
      logger.warn(
        `Still waiting for ZooKeeper at ${this.description} (${Math.round(total / 1000)} s); ` +
          "will keep trying",
      );
      this.scheduleWaitLog(total);
    });
  }

  private onConnected(): void {
    const { clock, logger } = this.options;
    if (this.disconnectTimer !== undefined) clock.cancelTimer(this.disconnectTimer);
    this.disconnectTimer = undefined;
    if (this.waitTimer !== undefined) clock.cancelTimer(this.waitTimer);
    this.waitTimer = undefined;
    if (this.isConnected) return;
    this.isConnected = true;
    this.scheduleProbe(this.client);
    const id = this.client?.getSessionId().toString("hex") ?? "?";
    logger.info(`ZooKeeper session 0x${id.replace(/^0+/, "")} connected (${this.description})`);
    this.emit("connected");
  }

  private onDisconnected(): void {
    const { clock, logger, sessionTimeoutMs } = this.options;
    if (!this.isConnected) return;
    this.isConnected = false;
    logger.warn(
      `Disconnected from ZooKeeper at ${this.description}; the session survives ` +
        `if it reconnects within ${Math.round(sessionTimeoutMs / 1000)} s`,
    );
    this.emit("disconnected");
    if (this.disconnectTimer !== undefined) clock.cancelTimer(this.disconnectTimer);
    this.disconnectTimer = clock.setTimer(sessionTimeoutMs, () => {
      this.disconnectTimer = undefined;
      if (!this.isConnected) {
        this.expire("disconnected for longer than the session timeout");
      }
    });
    this.scheduleWaitLog(0);
    this.scheduleNudge();
  }

  /**
   * node-zookeeper-client never notices a server that silently stops
   * answering (a network partition: no reset, no close): it sends pings but
   * has no read timeout. So we ask the server something small every third of
   * the session timeout; no answer within two thirds of it counts as a
   * disconnection (the expiry clock starts) and the connection is dropped so
   * the client dials again.
   */
  private scheduleProbe(client: zookeeper.Client | undefined): void {
    const { sessionTimeoutMs } = this.options;
    const every = Math.max(300, Math.floor(sessionTimeoutMs / 3));
    this.later(every, () => {
      if (!this.isConnected || this.closed || this.client !== client || client === undefined) {
        return;
      }
      let answered = false;
      client.exists("/", (error) => {
        answered = error === null || error === undefined || zkErrorCode(error) !== undefined;
      });
      this.later(Math.max(1000, Math.floor(sessionTimeoutMs / 3)), () => {
        if (this.client !== client || this.closed) return;
        if (!answered && this.isConnected) {
          this.options.logger.warn(
            `ZooKeeper at ${this.description} stopped answering; treating it as a disconnection`,
          );
          this.onDisconnected();
          const manager = (
            client as unknown as { connectionManager?: { socket?: { destroy(): void } } }
          ).connectionManager;
          manager?.socket?.destroy();
          return;
        }
        this.scheduleProbe(client);
      });
    });
  }

  /**
   * node-zookeeper-client waits without a time limit for the answer to its
   * connect request; a server that accepts the connection while it is still
   * starting may never answer, and the client would sit there until the
   * session is lost. While disconnected, drop the pending connection now and
   * then so the client tries again.
   */
  private scheduleNudge(): void {
    const { sessionTimeoutMs } = this.options;
    const every = Math.max(1000, Math.floor(sessionTimeoutMs / 5));
    const client = this.client;
    this.later(every, () => {
      if (this.isConnected || this.closed || this.client !== client) return;
      const manager = (
        client as unknown as { connectionManager?: { socket?: { destroy(): void } } }
      ).connectionManager;
      manager?.socket?.destroy();
      this.scheduleNudge();
    });
  }

  /** A timer close() cancels. */
  private later(delayMs: number, fn: () => void): void {
    const handle = this.options.clock.setTimer(delayMs, () => {
      this.pending.delete(handle);
      fn();
    });
    this.pending.add(handle);
  }

  /** Ends the current session, tells listeners, and opens a new one. */
  private expire(why: string): void {
    if (this.closed) return;
    const { clock, logger } = this.options;
    logger.warn(`ZooKeeper session expired (${why})`);
    if (this.disconnectTimer !== undefined) clock.cancelTimer(this.disconnectTimer);
    this.disconnectTimer = undefined;
    this.isConnected = false;
    const old = this.client;
    this.client = undefined;
    old?.removeAllListeners("state");
    old?.close();
    this.emit("expired");
    this.start();
  }

  /** Resolves once connected (at once if connected now). */
  whenConnected(): Promise<void> {
    if (this.isConnected) return Promise.resolve();
    return new Promise((resolve) => {
      const off = this.on("connected", () => {
        off();
        resolve();
      });
    });
  }

  /** Closes the session (its ephemeral znodes go away at once). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const { clock } = this.options;
    if (this.disconnectTimer !== undefined) clock.cancelTimer(this.disconnectTimer);
    if (this.waitTimer !== undefined) clock.cancelTimer(this.waitTimer);
    for (const handle of this.pending) clock.cancelTimer(handle);
    this.pending.clear();
    this.isConnected = false;
    const client = this.client;
    this.client = undefined;
    client?.removeAllListeners("state");
    client?.close();
  }

  /** Runs `fn` with the client; rejects (never throws) when the session is closed. */
  private withClient<T>(
    fn: (client: zookeeper.Client, resolve: (v: T) => void, reject: (e: unknown) => void) => void,
  ): Promise<T> {
    const client = this.client;
    if (client === undefined) return Promise.reject(new Error("ZooKeeper session closed"));
    return new Promise<T>((resolve, reject) => {
      try {
        fn(client, resolve, reject);
      } catch (error) {
        reject(error);
      }
    });
  }

  /** Creates `path` and its missing parents (persistent, empty). */
  mkdirp(path: string): Promise<void> {
    return this.withClient<void>((client, resolve, reject) => {
      client.mkdirp(path, this.acls, (error) => (error ? reject(error) : resolve()));
    });
  }

  /**
   * Creates a znode; resolves with its actual path (sequence number
   * appended). A sequential `path` ending in `/` gets a bare sequence number
   * as its name (`<parent>/0000000003`, as Mesos' unlabelled group members).
   */
  create(path: string, data: Buffer, mode: ZkCreateMode): Promise<string> {
    if (mode === "ephemeral-sequential" && path.endsWith("/")) return this.createBare(path, data);
    return this.withClient<string>((client, resolve, reject) => {
      client.create(path, data, this.acls, MODES[mode], (error, created) =>
        error ? reject(error) : resolve(created),
      );
    });
  }

  /**
   * node-zookeeper-client refuses a path ending in `/` before sending it,
   * though ZooKeeper accepts one for a sequential create (the name becomes
   * the sequence number alone). A one-operation multi lets us send it: the
   * operation is checked with a placeholder name, then given the real path.
   */
  private createBare(parent: string, data: Buffer): Promise<string> {
    return this.withClient<string>((client, resolve, reject) => {
      const t = client.transaction();
      t.create(`${parent}x`, data, this.acls, MODES["ephemeral-sequential"]);
      const ops = (t as unknown as { ops: { path: string }[] }).ops;
      const op = ops[0];
      if (op === undefined) throw new Error("transaction without an operation");
      op.path = parent;
      t.commit((error, results) => {
        if (error) return reject(error);
        const created = (results as unknown as { path?: string }[] | undefined)?.[0]?.path;
        if (created === undefined) reject(new Error(`no path returned creating in ${parent}`));
        else resolve(created);
      });
    });
  }

  /** The children's names; `watch` fires once on the next change. */
  getChildren(path: string, watch?: () => void): Promise<string[]> {
    return this.withClient<string[]>((client, resolve, reject) => {
      const done = (error: unknown, children: string[]) =>
        error ? reject(error) : resolve(children);
      if (watch === undefined) client.getChildren(path, done);
      else client.getChildren(path, () => watch(), done);
    });
  }

  /** The data and version of `path`, or undefined when it does not exist. */
  getData(path: string): Promise<{ data: Buffer; version: number } | undefined> {
    return this.withClient<{ data: Buffer; version: number } | undefined>(
      (client, resolve, reject) => {
        client.getData(path, (error, data, stat) => {
          if (error) {
            if (zkErrorCode(error) === ZK_NO_NODE) resolve(undefined);
            else reject(error);
            return;
          }
          resolve({ data: data ?? Buffer.alloc(0), version: stat.version });
        });
      },
    );
  }

  /** Whether `path` is an ephemeral znode of the current session. */
  ownsEphemeral(path: string): Promise<boolean> {
    return this.withClient<boolean>((client, resolve, reject) => {
      client.exists(path, (error, stat) => {
        if (error) return reject(error);
        resolve(
          stat !== null &&
            stat !== undefined &&
            Buffer.compare(stat.ephemeralOwner, client.getSessionId()) === 0,
        );
      });
    });
  }

  /** True if `path` exists; `watch` fires once when it is created, changed or deleted. */
  exists(path: string, watch?: () => void): Promise<boolean> {
    return this.withClient<boolean>((client, resolve, reject) => {
      const done = (error: unknown, stat: unknown) =>
        error ? reject(error) : resolve(stat !== null && stat !== undefined);
      if (watch === undefined) client.exists(path, done);
      else client.exists(path, () => watch(), done);
    });
  }

  /** Deletes `path` (any version). */
  remove(path: string): Promise<void> {
    return this.withClient<void>((client, resolve, reject) => {
      client.remove(path, -1, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Runs `ops` as one ZooKeeper multi: all of them or none. */
  transaction(ops: readonly ZkOp[]): Promise<void> {
    return this.withClient<void>((client, resolve, reject) => {
      const t = client.transaction();
      for (const o of ops) {
        switch (o.op) {
          case "check":
            t.check(o.path, o.version ?? -1);
            break;
          case "create":
            t.create(o.path, o.data, this.acls, zookeeper.CreateMode.PERSISTENT);
            break;
          case "set":
            t.setData(o.path, o.data, o.version ?? -1);
            break;
          case "remove":
            t.remove(o.path, o.version ?? -1);
            break;
        }
      }
      t.commit((error) => (error ? reject(error) : resolve()));
    });
  }
}

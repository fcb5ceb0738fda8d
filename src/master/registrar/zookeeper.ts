/**
 * The registry kept in ZooKeeper (`--zk` with a replicated registry), so
 * whichever master is elected next reads what the last leader wrote.
 *
 * Layout under `<zk path>/registry`:
 * - the node itself holds `{"format":1,"shards":N,"writer":"<master id>"}`;
 * - `shard-0000` ... : each a `mesos.internal.Registry` (protobuf) holding
 *   the agents whose id hashes to that shard. Sharding keeps every znode far
 *   below ZooKeeper's 1 MB limit (10,000 agents over 64 shards is about
 *   160 agents, some tens of KB, per shard), and a write touches only the
 *   shards its agents live in;
 * - `settings`: a `mesos.internal.Registry` holding only quota configs,
 *   weights, the maintenance schedule and machines (small; created by the
 *   first master that needs it).
 *
 * Every write is one ZooKeeper multi that also
 * - checks that the writer's own election znode still exists: once a
 *   master's session has expired its znode is gone, so a deposed master can
 *   never commit, even if it has not noticed yet;
 * - sets the registry node with its expected version: two masters can never
 *   both write (the second fails on the version).
 * A write that fails that way deposes this master (`onDeposed`).
 * Operations that arrive while a write is in flight are committed together
 * in the next one.
 */
import { createHash } from "node:crypto";
import type { Logger } from "../../common/observability/logger.js";
import type {
  Registry,
  Registry_GoneSlave,
  Registry_UnreachableSlave,
} from "../../common/protocol/generated/mesos-internal.js";
import { codecFor } from "../../common/protocol/index.js";
import {
  ZK_BAD_VERSION,
  ZK_NO_NODE,
  ZK_NODE_EXISTS,
  type ZkOp,
  type ZkSession,
  zkErrorCode,
  zkErrorText,
} from "../../common/zookeeper/session.js";
import { zkJoin } from "../../common/zookeeper/url.js";
import type { Registrar, RegistryOperation } from "./registrar.js";
import { isSettingsOperation, RegistryState } from "./registry-state.js";
import { notInitializedMessage } from "./uninitialized.js";

/** Default number of shards for a new registry. */
export const DEFAULT_REGISTRY_SHARDS = 64;
/** A multi's total size stays below this (ZooKeeper's jute.maxbuffer is 1 MB). */
const MAX_WRITE_BYTES = 900 * 1024;

export interface ZooKeeperRegistrarOptions {
  readonly session: ZkSession;
  /** The group path of `--zk` (`/mesos`); the registry lives in `<path>/registry`. */
  readonly groupPath: string;
  /** This master's election znode (the write guard). */
  readonly ownZnode: string;
  /** This master's id (recorded as the writer). */
  readonly masterId: string;
  readonly logger: Logger;
  /** Shards for a registry created now (an existing one keeps its count). */
  readonly shards?: number;
  /** A write found this master deposed: it must stop. */
  readonly onDeposed: (message: string) => void;
  /**
   * Awaited before each write (timed with it): the masters' log replica
   * quorum, as Mesos' replicated log cannot write without one. A write held
   * here past `--registry_store_timeout` fails, and the master stops.
   */
  readonly beforeStore?: () => Promise<void>;
  /**
   * `--log_auto_initialize`: false, and a registry that does not exist is
   * not created; recovery then waits (the master exits after
   * `--registry_fetch_timeout`). Default true.
   */
  readonly autoInitialize?: boolean;
}

interface Pending {
  readonly operation: RegistryOperation;
  readonly resolve: (changed: boolean) => void;
  readonly reject: (error: Error) => void;
}

interface Meta {
  format: number;
  shards: number;
  writer?: string;
  writes?: number;
}

const registryCodec = () => codecFor("mesos.internal.Registry");

/** The shard of an agent id. */
export function shardOf(agentId: string, shards: number): number {
  return createHash("md5").update(agentId).digest().readUInt32BE(0) % shards;
}

/** The pseudo shard index of the settings node. */
const SETTINGS = -1;

function shardName(index: number): string {
  return index === SETTINGS ? "settings" : `shard-${String(index).padStart(4, "0")}`;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class ZooKeeperRegistrar implements Registrar {
  readonly durable = true;
  readonly name = "zookeeper";
  private readonly root: string;
  private shards: RegistryState[] = [];
  private versions: number[] = [];
  /** Quota, weights and maintenance (the settings node) and its version. */
  private settings = new RegistryState();
  private settingsVersion = -1;
  private meta: Meta = { format: 1, shards: DEFAULT_REGISTRY_SHARDS };
  private metaVersion = -1;
  private queue: Pending[] = [];
  private writing = false;
  private deposed: string | undefined;

  constructor(private readonly options: ZooKeeperRegistrarOptions) {
    this.root = zkJoin(options.groupPath, "registry");
  }

  /** Path of the registry node (tests read it). */
  get path(): string {
    return this.root;
  }

  async recover(): Promise<Registry> {
    const { session, logger } = this.options;
    await session.whenConnected();
    if (this.options.groupPath !== "/") await session.mkdirp(this.options.groupPath);
    let read = await session.getData(this.root);
    if (read === undefined && this.options.autoInitialize === false) {
      logger.warn(notInitializedMessage(this.root));
      return new Promise<Registry>(() => {});
    }
    if (read === undefined) {
      const meta: Meta = {
        format: 1,
        shards: this.options.shards ?? DEFAULT_REGISTRY_SHARDS,
        writer: this.options.masterId,
        writes: 0,
      };
      const ops: ZkOp[] = [
        { op: "check", path: this.options.ownZnode },
        { op: "create", path: this.root, data: Buffer.from(JSON.stringify(meta)) },
      ];
      const empty = toBuffer(registryCodec().encodeProtobuf({}));
      for (let i = 0; i < meta.shards; i++) {
        ops.push({ op: "create", path: zkJoin(this.root, shardName(i)), data: empty });
      }
      try {
        await session.transaction(ops);
        logger.info(`Created the registry in ZooKeeper at ${this.root} (${meta.shards} shards)`);
      } catch (error) {
        const code = zkErrorCode(error);
        if (code === ZK_NO_NODE) throw new Error("Not the leader any more: our znode is gone");
        if (code !== ZK_NODE_EXISTS) throw error;
      }
      read = await session.getData(this.root);
      if (read === undefined) throw new Error(`The registry at ${this.root} vanished`);
    }
    let meta: Meta;
    try {
      meta = JSON.parse(read.data.toString("utf8")) as Meta;
    } catch {
      throw new Error(
        `Failed to recover registrar: the registry node ${this.root} does not hold registry metadata`,
      );
    }
    if (meta.format !== 1 || !Number.isInteger(meta.shards) || meta.shards < 1) {
      throw new Error(
        `Failed to recover registrar: the registry at ${this.root} has an unknown format`,
      );
    }
    this.meta = meta;
    this.metaVersion = read.version;
    const reads = await Promise.all(
      Array.from({ length: meta.shards }, (_, i) =>
        session.getData(zkJoin(this.root, shardName(i))),
      ),
    );
    this.shards = [];
    this.versions = [];
    let agents = 0;
    for (const [i, shard] of reads.entries()) {
      const shardPath = zkJoin(this.root, shardName(i));
      if (shard === undefined) {
        throw new Error(`Failed to recover registrar: registry shard ${shardPath} is missing`);
      }
      const decoded = registryCodec().decodeProtobuf(shard.data);
      if (!decoded.ok) {
        throw new Error(
          `Failed to recover registrar: registry shard ${shardPath} is corrupt: ${decoded.error.message}`,
        );
      }
      const state = RegistryState.from(decoded.value);
      agents += state.admitted.size;
      this.shards.push(state);
      this.versions.push(shard.version);
    }
    await this.recoverSettings();
    logger.info(
      `Recovered the registry from ZooKeeper (${agents} admitted agents, ` +
        `written last by ${meta.writer ?? "nobody"}, ${meta.writes ?? 0} writes)`,
    );
    return this.snapshot();
  }

  /** Reads the settings node, creating it empty when this registry has none yet. */
  private async recoverSettings(): Promise<void> {
    const { session } = this.options;
    const path = zkJoin(this.root, shardName(SETTINGS));
    let read = await session.getData(path);
    if (read === undefined) {
      try {
        await session.transaction([
          { op: "check", path: this.options.ownZnode },
          { op: "create", path, data: toBuffer(registryCodec().encodeProtobuf({})) },
        ]);
      } catch (error) {
        const code = zkErrorCode(error);
        if (code === ZK_NO_NODE) throw new Error("Not the leader any more: our znode is gone");
        if (code !== ZK_NODE_EXISTS) throw error;
      }
      read = await session.getData(path);
      if (read === undefined) throw new Error(`The registry node ${path} vanished`);
    }
    const decoded = registryCodec().decodeProtobuf(read.data);
    if (!decoded.ok) {
      throw new Error(
        `Failed to recover registrar: registry node ${path} is corrupt: ${decoded.error.message}`,
      );
    }
    this.settings = RegistryState.from(decoded.value);
    this.settingsVersion = read.version;
  }

  /** The state of a shard index (SETTINGS: the settings node). */
  private stateAt(index: number): RegistryState | undefined {
    return index === SETTINGS ? this.settings : this.shards[index];
  }

  private storeObserver: ((ms: number, stored: boolean) => void) | undefined;

  setStoreObserver(observer: (ms: number, stored: boolean) => void): void {
    this.storeObserver = observer;
  }

  /** Operations waiting while a write is in flight. */
  get queuedOperations(): number {
    return this.queue.length;
  }

  /** The number of writes committed to this registry so far (by any master). */
  get writes(): number {
    return this.meta.writes ?? 0;
  }

  apply(operation: RegistryOperation): Promise<boolean> {
    if (this.deposed !== undefined) return Promise.reject(new Error(this.deposed));
    return new Promise((resolve, reject) => {
      this.queue.push({ operation, resolve, reject });
      if (!this.writing) void this.flush();
    });
  }

  /** Splits an operation into the operations of each shard it touches. */
  private split(operation: RegistryOperation): Map<number, RegistryOperation> {
    const n = this.shards.length;
    const out = new Map<number, RegistryOperation>();
    if (isSettingsOperation(operation)) {
      out.set(SETTINGS, operation);
      return out;
    }
    if (operation.kind === "prune") {
      const by = new Map<number, { unreachable: string[]; gone: string[] }>();
      const at = (i: number) => {
        let e = by.get(i);
        if (e === undefined) {
          e = { unreachable: [], gone: [] };
          by.set(i, e);
        }
        return e;
      };
      for (const id of operation.unreachable) at(shardOf(id, n)).unreachable.push(id);
      for (const id of operation.gone) at(shardOf(id, n)).gone.push(id);
      for (const [i, e] of by) out.set(i, { kind: "prune", ...e });
      return out;
    }
    const [id] = RegistryState.idsOf(operation);
    if (id !== undefined) out.set(shardOf(id, n), operation);
    return out;
  }

  private async flush(): Promise<void> {
    if (this.writing || this.queue.length === 0) return;
    this.writing = true;
    const batch = this.queue;
    this.queue = [];
    const undo: (() => void)[] = [];
    const results: boolean[] = [];
    const dirty = new Set<number>();
    for (const pending of batch) {
      let changed = false;
      for (const [i, op] of this.split(pending.operation)) {
        const state = this.stateAt(i);
        if (state === undefined) continue;
        undo.push(state.undoFor(op));
        if (state.apply(op)) {
          changed = true;
          dirty.add(i);
        }
      }
      results.push(changed);
    }
    try {
      if (dirty.size > 0) {
        const start = performance.now();
        let stored = false;
        try {
          await this.options.beforeStore?.();
          await this.store([...dirty]);
          stored = true;
        } finally {
          this.storeObserver?.(performance.now() - start, stored);
        }
      }
      for (const [i, p] of batch.entries()) p.resolve(results[i] ?? false);
    } catch (error) {
      for (const restore of undo.reverse()) restore();
      const code = zkErrorCode(error);
      const message =
        code === ZK_NO_NODE || code === ZK_BAD_VERSION
          ? "Registry write refused: this master is no longer the leader " +
            "(its election znode is gone or another master wrote the registry)"
          : `Registry write to ZooKeeper failed: ${zkErrorText(error)}`;
      this.options.logger.error(message);
      if (code === ZK_NO_NODE || code === ZK_BAD_VERSION) {
        this.deposed = message;
        this.options.onDeposed(message);
      }
      for (const p of batch) p.reject(new Error(message));
    } finally {
      this.writing = false;
      if (this.queue.length > 0) void this.flush();
    }
  }

  /** Writes the dirty shards, in as few multis as the size limit allows. */
  private async store(dirty: number[]): Promise<void> {
    const { session, ownZnode, masterId } = this.options;
    let ops: ZkOp[] = [];
    let bytes = 0;
    let shardsInOps: { index: number }[] = [];
    const commit = async (): Promise<void> => {
      const meta: Meta = { ...this.meta, writer: masterId, writes: (this.meta.writes ?? 0) + 1 };
      await session.transaction([
        { op: "check", path: ownZnode },
        {
          op: "set",
          path: this.root,
          data: Buffer.from(JSON.stringify(meta)),
          version: this.metaVersion,
        },
        ...ops,
      ]);
      this.meta = meta;
      this.metaVersion++;
      for (const { index } of shardsInOps) {
        if (index === SETTINGS) this.settingsVersion++;
        else this.versions[index] = (this.versions[index] ?? 0) + 1;
      }
      ops = [];
      bytes = 0;
      shardsInOps = [];
    };
    for (const index of dirty) {
      const state = this.stateAt(index);
      if (state === undefined) continue;
      const data = toBuffer(
        registryCodec().encodeProtobuf(index === SETTINGS ? state.settings() : state.toRegistry()),
      );
      if (data.byteLength > MAX_WRITE_BYTES) {
        throw new Error(
          `Registry shard ${shardName(index)} grew to ${data.byteLength} bytes, over ZooKeeper's limit`,
        );
      }
      if (ops.length > 0 && bytes + data.byteLength > MAX_WRITE_BYTES) await commit();
      ops.push({
        op: "set",
        path: zkJoin(this.root, shardName(index)),
        data,
        version: index === SETTINGS ? this.settingsVersion : (this.versions[index] ?? -1),
      });
      shardsInOps.push({ index });
      bytes += data.byteLength;
    }
    if (ops.length > 0) await commit();
  }

  snapshot(): Registry {
    const slaves = this.shards.flatMap((s) => [...s.admitted.values()]);
    const byTime = <T extends { timestamp: { nanoseconds: number | bigint } }>(a: T, b: T) =>
      Number(a.timestamp.nanoseconds) - Number(b.timestamp.nanoseconds);
    const unreachable: Registry_UnreachableSlave[] = this.shards
      .flatMap((s) => [...s.unreachable.values()])
      .sort(byTime);
    const gone: Registry_GoneSlave[] = this.shards
      .flatMap((s) => [...s.gone.values()])
      .sort(byTime);
    return {
      slaves: { slaves },
      unreachable: { slaves: unreachable },
      gone: { slaves: gone },
      ...this.settings.settings(),
    };
  }

  close(): void {
    this.deposed ??= "The registrar is closed";
  }
}

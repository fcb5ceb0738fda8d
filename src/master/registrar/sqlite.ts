/**
 * The durable registry of a standalone master: an SQLite database at
 * `<work_dir>/registry.db` (better-sqlite3, WAL journal, synchronous=FULL, so
 * a committed write survives a SIGKILL or a power cut). Operations arriving
 * in the same turn of the event loop are committed together: one transaction
 * and one fsync per batch, like Mesos' registrar batching its operations
 * behind the write in flight. The tables mirror the Registry message: one row
 * per admitted, unreachable and gone agent (protobuf-encoded entries), and
 * `registry_entries` (kind, key, protobuf) for the settings: `quota` (one
 * QuotaConfig per role), `weight` (one Registry.Weight per role), `schedule`
 * (the maintenance Schedule, key `0`) and `machine` (one Registry.Machine per
 * machine in maintenance).
 */
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import Database from "better-sqlite3";
import type { Logger } from "../../common/observability/logger.js";
import type {
  Registry,
  Registry_GoneSlave,
  Registry_Slave,
  Registry_UnreachableSlave,
} from "../../common/protocol/generated/mesos-internal.js";
import { codecFor } from "../../common/protocol/index.js";
import type { Registrar, RegistryOperation } from "./registrar.js";
import { machineKey, RegistryState } from "./registry-state.js";

/** The file name of the registry in `--work_dir`. */
export const REGISTRY_FILE = "registry.db";

/** Bumped when the tables change incompatibly. */
const SCHEMA_VERSION = "1";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS registry_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS admitted_agents (id TEXT PRIMARY KEY, entry BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS unreachable_agents (
  id TEXT PRIMARY KEY, seq INTEGER NOT NULL, time_ns INTEGER NOT NULL, entry BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS gone_agents (
  id TEXT PRIMARY KEY, seq INTEGER NOT NULL, time_ns INTEGER NOT NULL, entry BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS registry_entries (
  kind TEXT NOT NULL, key TEXT NOT NULL, entry BLOB NOT NULL, PRIMARY KEY (kind, key));
`;

/** A registry file that cannot be used; the message names the file and what to do. */
export class RegistryOpenError extends Error {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(
      `Cannot use the registry at ${path}: ${reason}. If the file is damaged, move it away ` +
        "to start with an empty registry (known agents then re-register as unknown agents)",
    );
    this.name = "RegistryOpenError";
  }
}

interface Pending {
  readonly operation: RegistryOperation;
  readonly resolve: (changed: boolean) => void;
  readonly reject: (error: Error) => void;
}

/** Counters for tests and metrics. */
export interface SqliteRegistrarStats {
  /** Transactions committed. */
  batches: number;
  /** Operations applied in them. */
  operations: number;
}

export interface SqliteRegistrarOptions {
  readonly logger?: Logger;
  /** Defers a batch's commit (default `setImmediate`: after the current event-loop turn). */
  readonly defer?: (fn: () => void) => void;
}

const slaveCodec = codecFor("mesos.internal.Registry.Slave");
const unreachableCodec = codecFor("mesos.internal.Registry.UnreachableSlave");
const goneCodec = codecFor("mesos.internal.Registry.GoneSlave");
const quotaCodec = codecFor("mesos.v1.quota.QuotaConfig");
const weightCodec = codecFor("mesos.internal.Registry.Weight");
const scheduleCodec = codecFor("mesos.v1.maintenance.Schedule");
const machineCodec = codecFor("mesos.internal.Registry.Machine");

function decode<T>(
  path: string,
  codec: {
    decodeProtobuf(bytes: Uint8Array): { ok: true; value: T } | { ok: false; error: Error };
  },
  table: string,
  row: { id: string; entry: Uint8Array },
): T {
  const result = codec.decodeProtobuf(row.entry);
  if (!result.ok) {
    throw new RegistryOpenError(
      path,
      `row '${row.id}' of table ${table} does not decode (${result.error.message})`,
    );
  }
  return result.value;
}

export class SqliteRegistrar implements Registrar {
  readonly durable = true;
  readonly name = "sqlite";
  readonly stats: SqliteRegistrarStats = { batches: 0, operations: 0 };
  private readonly state: RegistryState;
  private queue: Pending[] = [];
  private storeObserver: ((ms: number, stored: boolean) => void) | undefined;
  private scheduled = false;
  private closed = false;
  private seq: number;
  private readonly defer: (fn: () => void) => void;
  private readonly statements: {
    deleteAdmitted: Database.Statement;
    deleteUnreachable: Database.Statement;
    deleteGone: Database.Statement;
    putAdmitted: Database.Statement;
    putUnreachable: Database.Statement;
    putGone: Database.Statement;
    putEntry: Database.Statement;
    deleteEntry: Database.Statement;
    deleteEntries: Database.Statement;
  };

  private constructor(
    readonly path: string,
    private readonly db: Database.Database,
    options: SqliteRegistrarOptions,
  ) {
    this.defer = options.defer ?? ((fn) => setImmediate(fn));
    this.statements = {
      deleteAdmitted: db.prepare("DELETE FROM admitted_agents WHERE id = ?"),
      deleteUnreachable: db.prepare("DELETE FROM unreachable_agents WHERE id = ?"),
      deleteGone: db.prepare("DELETE FROM gone_agents WHERE id = ?"),
      putAdmitted: db.prepare("INSERT OR REPLACE INTO admitted_agents (id, entry) VALUES (?, ?)"),
      // An entry rewritten in place (deactivated, drained) keeps its place in the GC order.
      putUnreachable: db.prepare(
        "INSERT INTO unreachable_agents (id, seq, time_ns, entry) VALUES (?, ?, ?, ?) " +
          "ON CONFLICT(id) DO UPDATE SET time_ns = excluded.time_ns, entry = excluded.entry",
      ),
      putGone: db.prepare(
        "INSERT OR REPLACE INTO gone_agents (id, seq, time_ns, entry) VALUES (?, ?, ?, ?)",
      ),
      putEntry: db.prepare(
        "INSERT OR REPLACE INTO registry_entries (kind, key, entry) VALUES (?, ?, ?)",
      ),
      deleteEntry: db.prepare("DELETE FROM registry_entries WHERE kind = ? AND key = ?"),
      deleteEntries: db.prepare("DELETE FROM registry_entries WHERE kind = ?"),
    };
    const loaded = this.load();
    this.state = loaded.state;
    this.seq = loaded.maxSeq + 1;
  }

  /** Opens (creating if needed) `<workDir>/registry.db`. Throws RegistryOpenError. */
  static openInWorkDir(workDir: string, options: SqliteRegistrarOptions = {}): SqliteRegistrar {
    return SqliteRegistrar.open(join(workDir, REGISTRY_FILE), options);
  }

  /** Opens (creating if needed) the registry database at `path`. Throws RegistryOpenError. */
  static open(path: string, options: SqliteRegistrarOptions = {}): SqliteRegistrar {
    let db: Database.Database | undefined;
    try {
      mkdirSync(dirname(path), { recursive: true });
      db = new Database(path);
      db.pragma("journal_mode = WAL");
      // FULL: every commit fsyncs the WAL, so an answered operation survives SIGKILL.
      db.pragma("synchronous = FULL");
      const check = db.pragma("quick_check", { simple: true });
      if (check !== "ok") {
        // SQLite lists one problem per line: the operator's message stays one line.
        const problems = String(check)
          .trim()
          .replace(/\s*\n\s*/g, "; ");
        throw new RegistryOpenError(path, `integrity check failed (${problems})`);
      }
      db.exec(SCHEMA);
      const version = db
        .prepare("SELECT value FROM registry_meta WHERE key = 'schema_version'")
        .pluck()
        .get() as string | undefined;
      if (version === undefined) {
        db.prepare("INSERT INTO registry_meta (key, value) VALUES ('schema_version', ?)").run(
          SCHEMA_VERSION,
        );
      } else if (version !== SCHEMA_VERSION) {
        throw new RegistryOpenError(
          path,
          `schema version ${version} is not supported (this master reads version ${SCHEMA_VERSION})`,
        );
      }
      const registrar = new SqliteRegistrar(path, db, options);
      options.logger?.info(
        `Opened the registry at ${path}: ${registrar.state.admitted.size} admitted, ` +
          `${registrar.state.unreachable.size} unreachable, ${registrar.state.gone.size} gone agents`,
      );
      return registrar;
    } catch (error) {
      try {
        db?.close();
      } catch {
        // Already failing; the first error is the one to report.
      }
      if (error instanceof RegistryOpenError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw new RegistryOpenError(path, message);
    }
  }

  private load(): { state: RegistryState; maxSeq: number } {
    const state = new RegistryState();
    type Row = { id: string; entry: Uint8Array };
    type OrderedRow = Row & { seq: number };
    for (const row of this.db.prepare("SELECT id, entry FROM admitted_agents").all() as Row[]) {
      state.admitted.set(row.id, decode(this.path, slaveCodec, "admitted_agents", row));
    }
    let maxSeq = 0;
    const ordered = (table: string): OrderedRow[] =>
      this.db.prepare(`SELECT id, seq, entry FROM ${table} ORDER BY seq`).all() as OrderedRow[];
    for (const row of ordered("unreachable_agents")) {
      state.unreachable.set(row.id, decode(this.path, unreachableCodec, "unreachable_agents", row));
      maxSeq = Math.max(maxSeq, row.seq);
    }
    for (const row of ordered("gone_agents")) {
      state.gone.set(row.id, decode(this.path, goneCodec, "gone_agents", row));
      maxSeq = Math.max(maxSeq, row.seq);
    }
    type EntryRow = { kind: string; key: string; entry: Uint8Array };
    const entries = this.db
      .prepare("SELECT kind, key, entry FROM registry_entries ORDER BY kind, key")
      .all() as EntryRow[];
    for (const { kind, key, entry } of entries) {
      const row = { id: `${kind}/${key}`, entry };
      switch (kind) {
        case "quota":
          state.quotaConfigs.set(key, decode(this.path, quotaCodec, "registry_entries", row));
          break;
        case "weight": {
          const weight = decode(this.path, weightCodec, "registry_entries", row);
          state.weights.set(key, weight.info.weight);
          break;
        }
        case "schedule":
          state.schedule = decode(this.path, scheduleCodec, "registry_entries", row);
          break;
        case "machine":
          state.machines.set(key, decode(this.path, machineCodec, "registry_entries", row));
          break;
        default:
          // A kind a later version added: not ours to interpret.
          break;
      }
    }
    return { state, maxSeq };
  }

  recover(): Promise<Registry> {
    return Promise.resolve(this.snapshot());
  }

  apply(operation: RegistryOperation): Promise<boolean> {
    if (this.closed) return Promise.reject(new Error(`The registry at ${this.path} is closed`));
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ operation, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        this.defer(() => this.flush());
      }
    });
  }

  snapshot(): Registry {
    return this.state.toRegistry();
  }

  get queuedOperations(): number {
    return this.queue.length;
  }

  setStoreObserver(observer: (ms: number, stored: boolean) => void): void {
    this.storeObserver = observer;
  }

  /** Commits what is queued now (normally called by the scheduled flush). */
  flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    if (this.closed) {
      for (const p of batch) p.reject(new Error(`The registry at ${this.path} is closed`));
      return;
    }
    const undo: (() => void)[] = [];
    const results: boolean[] = [];
    const start = performance.now();
    try {
      this.db.transaction(() => {
        for (const { operation } of batch) {
          undo.push(this.state.undoFor(operation));
          const changed = this.state.apply(operation);
          results.push(changed);
          if (changed) this.storeChanges(operation);
        }
      })();
      this.storeObserver?.(performance.now() - start, true);
    } catch (error) {
      this.storeObserver?.(performance.now() - start, false);
      for (let i = undo.length - 1; i >= 0; i--) undo[i]?.();
      const reason = error instanceof Error ? error.message : String(error);
      const failure = new Error(`Failed to write the registry at ${this.path}: ${reason}`);
      for (const p of batch) p.reject(failure);
      return;
    }
    this.stats.batches++;
    this.stats.operations += batch.length;
    for (let i = 0; i < batch.length; i++) batch[i]?.resolve(results[i] as boolean);
  }

  /** Writes the rows an applied operation touched, as the in-memory state has them. */
  private storeChanges(operation: RegistryOperation): void {
    const s = this.statements;
    switch (operation.kind) {
      case "update-quota":
        for (const { role = "" } of operation.configs) {
          const config = this.state.quotaConfigs.get(role);
          if (config === undefined) s.deleteEntry.run("quota", role);
          else s.putEntry.run("quota", role, quotaCodec.encodeProtobuf(config));
        }
        return;
      case "update-weights":
        for (const { role = "*" } of operation.weights) {
          const weight = this.state.weights.get(role);
          if (weight === undefined) s.deleteEntry.run("weight", role);
          else
            s.putEntry.run("weight", role, weightCodec.encodeProtobuf({ info: { weight, role } }));
        }
        return;
      case "update-maintenance": {
        s.deleteEntries.run("schedule");
        s.deleteEntries.run("machine");
        const schedule = this.state.schedule;
        if (schedule !== undefined)
          s.putEntry.run("schedule", "0", scheduleCodec.encodeProtobuf(schedule));
        for (const machine of this.state.machines.values()) {
          s.putEntry.run(
            "machine",
            machineKey(machine.info.id),
            machineCodec.encodeProtobuf(machine),
          );
        }
        return;
      }
      default:
        for (const id of RegistryState.idsOf(operation)) this.store(id);
    }
  }

  /** Writes the rows of one agent id as the in-memory state has them. */
  private store(id: string): void {
    const s = this.statements;
    const admitted: Registry_Slave | undefined = this.state.admitted.get(id);
    const unreachable: Registry_UnreachableSlave | undefined = this.state.unreachable.get(id);
    const gone: Registry_GoneSlave | undefined = this.state.gone.get(id);
    if (admitted === undefined) s.deleteAdmitted.run(id);
    else s.putAdmitted.run(id, slaveCodec.encodeProtobuf(admitted));
    if (unreachable === undefined) s.deleteUnreachable.run(id);
    else {
      s.putUnreachable.run(
        id,
        this.seq++,
        Math.trunc(unreachable.timestamp.nanoseconds),
        unreachableCodec.encodeProtobuf(unreachable),
      );
    }
    if (gone === undefined) s.deleteGone.run(id);
    else {
      s.putGone.run(
        id,
        this.seq++,
        Math.trunc(gone.timestamp.nanoseconds),
        goneCodec.encodeProtobuf(gone),
      );
    }
  }

  /** Commits what is queued, checkpoints the WAL into the database file and closes it. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    try {
      this.db.pragma("wal_checkpoint(TRUNCATE)");
    } finally {
      this.db.close();
    }
  }
}

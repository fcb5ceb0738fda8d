/**
 * Revision numbers of the entities the state documents render (agents,
 * frameworks). An entity's revision changes when one of the values its
 * JSON or protobuf is rendered from changes (compared by identity, as a
 * signature), and the signature is walked at most once per state version:
 * `/master/state`, GET_STATE and its protobuf form built at the same
 * version share one check per entity, and the per-document caches only
 * compare revision numbers.
 *
 * Walking a signature allocates nothing while it is unchanged (the values
 * are compared with the stored ones in order); an agent's signature lists
 * the resource lists of all its running tasks, so at 1,000 agents x 10
 * tasks this used to allocate ~1,000 arrays per document build.
 */
import type { StateVersion } from "./state-cache.js";

/** Receives the values of one signature, in order. */
export interface SignatureSink {
  add(value: unknown): void;
}

/** Compares a signature with the stored one while it is written; copies only on a change. */
class SignatureWalk implements SignatureSink {
  private previous: unknown[] = [];
  private next: unknown[] | undefined;
  private at = 0;

  start(previous: unknown[]): void {
    this.previous = previous;
    this.next = undefined;
    this.at = 0;
  }

  add(value: unknown): void {
    if (this.next === undefined) {
      if (this.at < this.previous.length && this.previous[this.at] === value) {
        this.at++;
        return;
      }
      this.next = this.previous.slice(0, this.at);
    }
    this.next.push(value);
  }

  /** The new signature, or undefined when it equals the previous one. */
  finish(): unknown[] | undefined {
    if (this.next === undefined && this.at !== this.previous.length) {
      this.next = this.previous.slice(0, this.at);
    }
    const out = this.next;
    this.previous = [];
    this.next = undefined;
    return out;
  }
}

interface Entry {
  /** State version of the last check. */
  version: number;
  revision: number;
  signature: unknown[];
}

/** Revisions of one kind of entity; `sign` writes an entity's signature. */
export class Revisions<K extends object> {
  private readonly entries = new WeakMap<K, Entry>();
  private readonly walk = new SignatureWalk();
  private counter = 0;
  /** Signatures walked / found changed (for tests and the benchmark). */
  checks = 0;
  changes = 0;

  constructor(
    private readonly version: StateVersion,
    private readonly sign: (key: K, out: SignatureSink) => void,
  ) {}

  /** The entity's current revision (never 0). */
  of(key: K): number {
    const v = this.version.value;
    let entry = this.entries.get(key);
    if (entry !== undefined && entry.version === v) return entry.revision;
    this.checks++;
    this.walk.start(entry?.signature ?? []);
    this.sign(key, this.walk);
    const changed = this.walk.finish();
    if (entry === undefined) {
      entry = { version: v, revision: ++this.counter, signature: changed ?? [] };
      this.entries.set(key, entry);
      this.changes++;
    } else {
      entry.version = v;
      if (changed !== undefined) {
        entry.signature = changed;
        entry.revision = ++this.counter;
        this.changes++;
      }
    }
    return entry.revision;
  }
}

/** Bytes of an entity kept while its revision is the same. */
export class RevisionCache<K extends object> {
  private readonly map = new WeakMap<K, { revision: number; bytes: Buffer }>();

  get(key: K, revision: number, render: () => string | Uint8Array): Buffer {
    const cached = this.map.get(key);
    if (cached !== undefined && cached.revision === revision) return cached.bytes;
    const data = render();
    const bytes =
      typeof data === "string"
        ? Buffer.from(data, "utf8")
        : Buffer.isBuffer(data)
          ? data
          : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.map.set(key, { revision, bytes });
    return bytes;
  }
}

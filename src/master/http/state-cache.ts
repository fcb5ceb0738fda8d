/**
 * Serving big state documents (`/master/state`, v1 GET_STATE, the operator
 * stream's SUBSCRIBED) without stalling the master:
 *
 * - `StateVersion` counts changes: every event that may change master
 *   state bumps it at the edge where it enters (messages, scheduler and
 *   operator calls, timers, allocations, broken connections).
 * - `DocumentCache` keeps the last built document per kind with the version
 *   it was built at; reads at the same version get it as is. Reads that
 *   arrive while a build for the current version is running join it
 *   (coalescing identical concurrent reads, as Mesos batches them).
 * - Builds run in slices (`Slicer`), yielding to the event loop between
 *   them, so `/health` and other requests are answered meanwhile.
 * - `FragmentCache` keeps the JSON text of each task (the bulk of every
 *   document) until the task changes; `RunCache` keeps the bytes of runs of
 *   consecutive task fragments (about 64 tasks), so a rebuild after a small
 *   change re-joins only the runs that changed and references the others:
 *   a document is a list of shared buffers, not a copy.
 * - `SignatureCache` keeps an entity's JSON while the values it is rendered
 *   from are the same objects (agents: their tasks' resource lists, offers).
 */

import type { ResponseStream } from "../../common/http/response.js";
import type { LengthAwareStream } from "../../common/http/server.js";

/** The master's change counter. */
export class StateVersion {
  private current = 0;

  get value(): number {
    return this.current;
  }

  /** Something may have changed. */
  bump(): void {
    this.current++;
  }
}

/**
 * Hands out turns of the event loop to big-read work (document build
 * slices and response writes): one waiter per loop iteration, first come
 * first served. With two builds and eight clients at once, a small request
 * (`/health`) waits behind at most one slice, not one slice of each.
 */
export class TurnGate {
  private readonly waiting: (() => void)[] = [];
  private scheduled = false;
  /** Turns handed out (for tests and the benchmark). */
  turns = 0;

  /** `yieldToEventLoop` resolves in a later loop iteration (setImmediate). */
  constructor(private readonly yieldToEventLoop: () => Promise<void>) {}

  /** Resolves when it is this caller's turn (never in the current iteration). */
  turn(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.waiting.length === 0) return;
    this.scheduled = true;
    void this.yieldToEventLoop().then(() => {
      this.scheduled = false;
      const next = this.waiting.shift();
      // Scheduled before `next` runs, so the others get the following iterations.
      this.schedule();
      this.turns++;
      next?.();
    });
  }
}

/** Yields to the event loop once a slice of work has run for `sliceMs`. */
export class Slicer {
  private sliceStart: number;
  /** Longest stretch between yields, ms (for the benchmark). */
  longestMs = 0;

  constructor(
    private readonly now: () => number,
    private readonly yieldToEventLoop: () => Promise<void>,
    private readonly sliceMs = 8,
  ) {
    this.sliceStart = now();
  }

  /** True when the current slice is used up (call `pause()` then). */
  get due(): boolean {
    return this.now() - this.sliceStart >= this.sliceMs;
  }

  /** Yields, then starts a new slice. */
  async pause(): Promise<void> {
    this.longestMs = Math.max(this.longestMs, this.now() - this.sliceStart);
    await this.yieldToEventLoop();
    this.sliceStart = this.now();
  }

  /** Yields if the slice is used up. */
  async maybePause(): Promise<void> {
    if (this.due) await this.pause();
  }

  /** Records the last stretch (call when done). */
  finish(): void {
    this.longestMs = Math.max(this.longestMs, this.now() - this.sliceStart);
  }
}

/**
 * JSON per object, kept (UTF-8 encoded, so every later use is a copy of
 * bytes) until the object is invalidated. The bytes hang off the object in
 * a hidden (symbol-keyed, non-enumerable) slot rather than in a WeakMap:
 * with hundreds of thousands of tasks, weak entries made the garbage
 * collector's marking steps and pauses much longer. Spreading or comparing
 * the object does not see the slot; frozen objects fall back to a WeakMap.
 */
export class FragmentCache<K extends object> {
  private readonly slot = Symbol("json-fragment");
  private readonly frozen = new WeakMap<K, Buffer>();
  hits = 0;
  misses = 0;

  /** `render` gives JSON text (kept as UTF-8) or bytes (protobuf). */
  constructor(private readonly render: (key: K) => string | Uint8Array) {}

  get(key: K): Buffer {
    const cached = this.read(key);
    if (cached !== undefined) {
      this.hits++;
      return cached;
    }
    this.misses++;
    const bytes = toBuffer(this.render(key));
    this.replace(key, bytes);
    return bytes;
  }

  invalidate(key: K): void {
    if (this.slot in key) (key as Record<symbol, Buffer | undefined>)[this.slot] = undefined;
    else this.frozen.delete(key);
  }

  /** Swaps a fragment for identical bytes held elsewhere (a view into a run). */
  replace(key: K, bytes: Buffer): void {
    if (this.slot in key) {
      (key as Record<symbol, Buffer | undefined>)[this.slot] = bytes;
    } else if (Object.isExtensible(key)) {
      Object.defineProperty(key, this.slot, { value: bytes, writable: true, configurable: true });
    } else {
      this.frozen.set(key, bytes);
    }
  }

  private read(key: K): Buffer | undefined {
    const own = (key as Record<symbol, Buffer | undefined>)[this.slot];
    return own !== undefined || this.slot in key ? own : this.frozen.get(key);
  }
}

/**
 * JSON of an entity kept while its inputs are unchanged: `signature` lists
 * the values it is rendered from, compared by identity.
 */
export class SignatureCache<K extends object> {
  private readonly map = new WeakMap<K, { signature: readonly unknown[]; bytes: Buffer }>();

  get(key: K, signature: readonly unknown[], render: () => string | Uint8Array): Buffer {
    const cached = this.map.get(key);
    if (cached !== undefined && sameItems(cached.signature, signature)) return cached.bytes;
    const bytes = toBuffer(render());
    this.map.set(key, { signature, bytes });
    return bytes;
  }
}

/** Text as UTF-8, or the bytes themselves (no copy). */
function toBuffer(data: string | Uint8Array): Buffer {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function sameItems(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

interface Run {
  /** The fragments the run was joined from (views into `bytes`). */
  readonly fragments: Buffer[];
  /** The fragments joined by commas. */
  readonly bytes: Buffer;
}

/**
 * Comma-joined bytes of runs of consecutive items. Run boundaries depend on
 * the items (an item ends a run when a hash of its key says so), not on
 * positions, so removing the oldest completed task or adding a task only
 * disturbs the runs around it. A run is reused while every item in it
 * still has the very fragment the run was joined from; after a join, the
 * items' fragments become views into the run, so each task's bytes are
 * held once. (Keys are hashed rather than numbered in a WeakMap: hundreds
 * of thousands of weak entries lengthen the garbage collector's pauses.)
 */
/**
 * Where a run's items get their JSON: a `FragmentCache`, or any function
 * that returns the same Buffer while an item is unchanged. With `replace`,
 * items' fragments become views into the run (their bytes are held once).
 */
export interface FragmentSource<K> {
  get(item: K): Buffer;
  replace?(item: K, bytes: Buffer): void;
}

export class RunCache<K extends object> {
  private readonly runs = new WeakMap<K, Run>();
  /** Runs reused / joined (for tests and the benchmark). */
  reused = 0;
  joined = 0;

  constructor(
    private readonly fragments: FragmentSource<K>,
    /** A stable text key of an item (a task's id). */
    private readonly keyOf: (item: K) => string,
    /** log2 of the mean run length. */
    private readonly bits = 6,
  ) {}

  private endsRun(item: K): boolean {
    // FNV-1a, then Fibonacci hashing: the top bits are well spread.
    const key = this.keyOf(item);
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    return Math.imul(h, 0x9e3779b1) >>> (32 - this.bits) === 0;
  }

  /** Writes `items` as a JSON array, pausing between runs. */
  async array(out: PartsWriter, items: readonly K[], slicer: Slicer): Promise<void> {
    out.write("[");
    const max = 4 << this.bits;
    let start = 0;
    let frags: Buffer[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as K;
      frags.push(this.fragments.get(item));
      if (i === items.length - 1 || frags.length >= max || this.endsRun(item)) {
        if (start > 0) out.write(COMMA);
        out.write(this.run(items, start, frags));
        start = i + 1;
        frags = [];
        if (slicer.due) await slicer.pause();
      } else if (slicer.due) {
        // Rendering one item (a cold agent) can be slow: pause inside a run too.
        await slicer.pause();
      }
    }
    out.write("]");
  }

  private run(items: readonly K[], start: number, frags: Buffer[]): Buffer {
    const first = items[start] as K;
    const cached = this.runs.get(first);
    if (cached !== undefined && sameItems(cached.fragments, frags)) {
      this.reused++;
      return cached.bytes;
    }
    this.joined++;
    let size = frags.length - 1;
    for (const f of frags) size += f.byteLength;
    const bytes = Buffer.allocUnsafeSlow(size);
    const replace = this.fragments.replace?.bind(this.fragments);
    const kept: Buffer[] = replace === undefined ? frags : [];
    let at = 0;
    for (let j = 0; j < frags.length; j++) {
      const f = frags[j] as Buffer;
      if (j > 0) bytes[at++] = 0x2c; // ","
      bytes.set(f, at);
      if (replace !== undefined) {
        const view = bytes.subarray(at, at + f.byteLength);
        kept.push(view);
        replace(items[start + j] as K, view);
      }
      at += f.byteLength;
    }
    this.runs.set(first, { fragments: kept, bytes });
    return bytes;
  }
}

/** A run of `ItemRuns`: its items, their comma-joined JSON and where each one starts. */
interface ItemRun<K> {
  readonly items: readonly K[];
  readonly bytes: Buffer;
  /** Start of each item's bytes in `bytes`, and one past the last (items.length + 1 entries). */
  readonly offsets: Int32Array;
}

/**
 * Runs of consecutive items' JSON (tasks: the bulk of every document),
 * without a Buffer per item: each item holds (in a hidden slot) the run its
 * bytes live in, or nothing once `invalidate`d. A run is reused while each
 * of its items still points at it; joining a new run copies unchanged
 * items' bytes out of their old runs and renders only the others, straight
 * into the new run's buffer. Compared with a fragment per item this keeps
 * two objects per 64 items instead of two per item on the heap (fewer
 * survivors for the garbage collector to copy and mark in a cold build of
 * 200,000 tasks). Run boundaries come from a hash of each item's key, as in
 * `RunCache`.
 */
export class ItemRuns<K extends object> {
  private readonly slot = Symbol("json-run");
  private readonly frozen = new WeakMap<K, ItemRun<K>>();
  /** Runs reused / joined, items rendered (for tests and the benchmark). */
  reused = 0;
  joined = 0;
  rendered = 0;

  constructor(
    private readonly render: (item: K) => string,
    /** A stable text key of an item (a task's id). */
    private readonly keyOf: (item: K) => string,
    /** log2 of the mean run length. */
    private readonly bits = 6,
  ) {}

  /** The item changed: its JSON is rendered again next time. */
  invalidate(item: K): void {
    if (this.slot in item) (item as Record<symbol, ItemRun<K> | undefined>)[this.slot] = undefined;
    else this.frozen.delete(item);
  }

  /** Writes `items` as a JSON array, pausing between runs. */
  async array(out: PartsWriter, items: readonly K[], slicer: Slicer): Promise<void> {
    await this.arrays(out, [items], slicer);
  }

  /**
   * Writes the items of several lists as one JSON array (a run never spans
   * two lists), so a caller need not join the lists into one first (v1
   * GET_STATE lists every framework's tasks in one array: joining 200,000
   * of them cost a copy per build).
   */
  async arrays(out: PartsWriter, lists: readonly (readonly K[])[], slicer: Slicer): Promise<void> {
    out.write("[");
    let first = true;
    for (const items of lists) first = await this.runsOf(out, items, slicer, first);
    out.write("]");
  }

  /** Writes the runs of `items`, a comma before each unless `first`; true while nothing was written. */
  private async runsOf(
    out: PartsWriter,
    items: readonly K[],
    slicer: Slicer,
    first: boolean,
  ): Promise<boolean> {
    // A cold run renders every item in one go: cap it at twice the mean length.
    const max = 2 << this.bits;
    let start = 0;
    let i = 0;
    while (i < items.length) {
      if (i === start) {
        // An unchanged run starting here is taken whole, without hashing its
        // items' keys again (most of a rebuild after a small change).
        const whole = this.wholeRunAt(items, start);
        if (whole !== undefined) {
          this.reused++;
          if (!first) out.write(COMMA);
          first = false;
          out.write(whole.bytes);
          start += whole.items.length;
          i = start;
          if (slicer.due) await slicer.pause();
          continue;
        }
      }
      const item = items[i] as K;
      if (i === items.length - 1 || i + 1 - start >= max || endsRun(this.keyOf(item), this.bits)) {
        if (!first) out.write(COMMA);
        first = false;
        out.write(this.run(items, start, i + 1));
        start = i + 1;
        if (slicer.due) await slicer.pause();
      }
      i++;
    }
    return first;
  }

  /** The run that starts with `items[start]` and holds the items after it, if still valid. */
  private wholeRunAt(items: readonly K[], start: number): ItemRun<K> | undefined {
    const first = items[start] as K;
    const cached = this.runOf(first);
    if (cached === undefined || cached.items[0] !== first) return undefined;
    const n = cached.items.length;
    if (start + n > items.length) return undefined;
    for (let j = 1; j < n; j++) {
      const item = items[start + j] as K;
      if (cached.items[j] !== item || this.runOf(item) !== cached) return undefined;
    }
    return cached;
  }

  private runOf(item: K): ItemRun<K> | undefined {
    const own = (item as Record<symbol, ItemRun<K> | undefined>)[this.slot];
    return own !== undefined || this.slot in item ? own : this.frozen.get(item);
  }

  private setRun(item: K, run: ItemRun<K>): void {
    if (this.slot in item) {
      (item as Record<symbol, ItemRun<K> | undefined>)[this.slot] = run;
    } else if (Object.isExtensible(item)) {
      Object.defineProperty(item, this.slot, { value: run, writable: true, configurable: true });
    } else {
      this.frozen.set(item, run);
    }
  }

  private run(items: readonly K[], start: number, end: number): Buffer {
    const first = items[start] as K;
    const cached = this.runOf(first);
    if (cached !== undefined && cached.items.length === end - start) {
      let same = true;
      for (let j = 0; same && j < cached.items.length; j++) {
        const item = items[start + j] as K;
        same = cached.items[j] === item && this.runOf(item) === cached;
      }
      if (same) {
        this.reused++;
        return cached.bytes;
      }
    }
    this.joined++;
    // Each item's bytes: a view into the run still holding it, or fresh text.
    const pieces: (Buffer | string)[] = [];
    const sizes: number[] = [];
    let size = end - start - 1;
    for (let i = start; i < end; i++) {
      const item = items[i] as K;
      const old = this.runOf(item);
      const at = old === undefined ? -1 : old.items.indexOf(item);
      let piece: Buffer | string;
      let n: number;
      if (old !== undefined && at >= 0) {
        piece = old.bytes.subarray(old.offsets[at], (old.offsets[at + 1] as number) - 1);
        n = piece.byteLength;
      } else {
        this.rendered++;
        piece = this.render(item);
        n = Buffer.byteLength(piece, "utf8");
      }
      pieces.push(piece);
      sizes.push(n);
      size += n;
    }
    const bytes = Buffer.allocUnsafeSlow(size);
    const offsets = new Int32Array(end - start + 1);
    let at = 0;
    for (let j = 0; j < pieces.length; j++) {
      if (j > 0) bytes[at++] = 0x2c; // ","
      offsets[j] = at;
      const piece = pieces[j] as Buffer | string;
      if (typeof piece === "string") bytes.write(piece, at, "utf8");
      else bytes.set(piece, at);
      at += sizes[j] as number;
    }
    // One past the last item, as if a comma followed it.
    offsets[pieces.length] = at + 1;
    const run: ItemRun<K> = { items: items.slice(start, end), bytes, offsets };
    for (const item of run.items) this.setRun(item, run);
    return bytes;
  }
}

/** FNV-1a of `key`, then Fibonacci hashing: true for about one key in 2^bits. */
function endsRun(key: string, bits: number): boolean {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return Math.imul(h, 0x9e3779b1) >>> (32 - bits) === 0;
}

/** A built document: its parts in order (concatenate or write them one by one). */
export interface Document {
  readonly parts: readonly Buffer[];
  readonly bytes: number;
  readonly version: number;
}

const COMMA = Buffer.from(",");
/**
 * Buffers at least this big are parts of their own, never copied: cached
 * runs (0.5-200 KB) are written as they are. Copying the runs under 16 KB
 * into fresh 256 KB chunks at every build cost ~90 ms of CPU per 10,000-agent
 * build, mostly page faults of the new allocations. Documents go out with a
 * Content-Length, so the number of parts adds no chunk framing.
 */
const LARGE = 1024;

/**
 * Collects a document as UTF-8 chunks of about `chunkBytes` (so a response
 * is written in few, large writes, and encoded once for every reader).
 */
export class PartsWriter {
  readonly parts: Buffer[] = [];
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly chunkBytes = 256 * 1024) {}

  write(data: string | Buffer): void {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    if (bytes.byteLength >= LARGE) {
      // Big shared buffers (runs) go out as they are, never copied.
      this.flush();
      this.parts.push(bytes);
      return;
    }
    this.pending.push(bytes);
    this.pendingBytes += bytes.byteLength;
    if (this.pendingBytes >= this.chunkBytes) this.flush();
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    this.parts.push(Buffer.concat(this.pending, this.pendingBytes));
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Writes `items` as a JSON array, pausing between slices. */
  async array(items: Iterable<string | Buffer>, slicer: Slicer): Promise<void> {
    this.write("[");
    let first = true;
    for (const item of items) {
      if (!first) this.write(COMMA);
      this.write(item);
      first = false;
      if (slicer.due) await slicer.pause();
    }
    this.write("]");
  }

  /** The parts, the last partial chunk included. */
  finish(): Buffer[] {
    this.flush();
    return this.parts;
  }
}

/**
 * Bytes an open stream (the operator stream's SUBSCRIBED) may leave unsent
 * in its socket before its writer waits for a drain: the events queued
 * behind the snapshot are bounded relative to what is left of it.
 */
export const MAX_UNSENT_BYTES = 1 << 20;

/**
 * Writes a document's parts to a response in turns taken from `gate` (the
 * same turns as build slices), each at most `sliceMs` long, so `/health`
 * is answered between turns instead of behind a whole document. Resolves
 * when every part is handed to the socket or the client went away.
 *
 * A whole document (`end` true) is queued without waiting for drains: its
 * parts are the cached document's buffers, referenced (never copied) by the
 * socket's queue, and this writer holds every one of them until it is done
 * anyway, so queueing them all costs no memory; libuv then writes as much
 * as the socket takes in each loop iteration, without returning to
 * JavaScript. Waiting for a drain every megabyte cost a round trip through
 * the event loop per megabyte (~20 per 20 MB GET_STATE) and the master's
 * CPU for each. With `end` false the response stays open (the operator
 * stream's SUBSCRIBED is followed by events): there the writer waits for a
 * drain whenever more than `MAX_UNSENT_BYTES` are unsent, so events do not
 * pile up behind a snapshot the client reads slowly.
 */
export async function writeParts(
  stream: ResponseStream,
  parts: readonly (string | Uint8Array)[],
  gate: TurnGate,
  now: () => number,
  sliceMs: number,
  end = true,
): Promise<void> {
  let wake: (() => void) | undefined;
  const wakeUp = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  stream.onDrain(wakeUp);
  stream.onClose(wakeUp);
  if (end && "declareLength" in stream) {
    // A whole document: sent with a Content-Length, not in chunks (each
    // chunk boundary costs a client's HTTP parser a callback and a body event).
    let length = 0;
    for (const part of parts) {
      length += typeof part === "string" ? Buffer.byteLength(part, "utf8") : part.byteLength;
    }
    (stream as LengthAwareStream).declareLength(length);
  }
  const limit = end ? Number.POSITIVE_INFINITY : MAX_UNSENT_BYTES;
  let i = 0;
  while (i < parts.length) {
    if (stream.closed) return;
    const start = now();
    let full = false;
    do {
      const more = stream.write(parts[i++] as string | Uint8Array);
      full = !more && (stream.bufferedBytes ?? limit) >= limit;
    } while (i < parts.length && !full && now() - start < sliceMs);
    if (i >= parts.length) break;
    if (full) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
    await gate.turn();
  }
  if (end && !stream.closed) stream.end();
}

/** Builds a document in slices. */
export type DocumentBuilder = (slicer: Slicer) => Promise<Buffer[]>;

interface Build {
  version: number;
  promise: Promise<Document>;
}

interface Queued {
  promise: Promise<Document>;
  start: () => void;
}

/**
 * The last document of each kind and the builds in flight. At most one
 * build per kind runs at a time: a read that finds a build of an older
 * version running waits for the next build, which starts when the running
 * one ends and serves every read queued meanwhile (Mesos batches its state
 * reads the same way), so each read sees state at least as new as itself.
 */
export class DocumentCache {
  private readonly done = new Map<string, Document>();
  private readonly inflight = new Map<string, Build>();
  private readonly queued = new Map<string, Queued>();
  /** Reads answered from a finished document. */
  hits = 0;
  /** Reads that joined a running or queued build. */
  joined = 0;
  /** Builds run. */
  builds = 0;
  /** Longest synchronous stretch of any build, ms. */
  longestSliceMs = 0;

  constructor(
    private readonly version: StateVersion,
    private readonly makeSlicer: () => Slicer,
    private readonly onHit: () => void = () => {},
  ) {}

  /** The document `kind` as of now: cached, joined, or freshly built. */
  get(kind: string, build: DocumentBuilder): Promise<Document> {
    const v = this.version.value;
    const cached = this.done.get(kind);
    if (cached !== undefined && cached.version === v) {
      this.hits++;
      this.onHit();
      return Promise.resolve(cached);
    }
    const running = this.inflight.get(kind);
    if (running === undefined) return this.start(kind, build).promise;
    this.joined++;
    this.onHit();
    if (running.version === v) return running.promise;
    let next = this.queued.get(kind);
    if (next === undefined) {
      let begin: () => void = () => {};
      const promise = new Promise<Document>((resolve, reject) => {
        begin = () => {
          this.queued.delete(kind);
          this.start(kind, build).promise.then(resolve, reject);
        };
      });
      next = { promise, start: begin };
      this.queued.set(kind, next);
    }
    return next.promise;
  }

  private start(kind: string, build: DocumentBuilder): Build {
    const v = this.version.value;
    this.builds++;
    const slicer = this.makeSlicer();
    const finish = (): void => {
      if (this.inflight.get(kind) === entry) this.inflight.delete(kind);
      this.queued.get(kind)?.start();
    };
    const promise = build(slicer).then(
      (parts) => {
        slicer.finish();
        this.longestSliceMs = Math.max(this.longestSliceMs, slicer.longestMs);
        let bytes = 0;
        for (const p of parts) bytes += p.byteLength;
        const doc: Document = { parts, bytes, version: v };
        this.done.set(kind, doc);
        finish();
        return doc;
      },
      (error: unknown) => {
        finish();
        throw error;
      },
    );
    const entry: Build = { version: v, promise };
    this.inflight.set(kind, entry);
    return entry;
  }

  /** Forgets every finished document (tests, memory pressure). */
  clear(): void {
    this.done.clear();
  }
}

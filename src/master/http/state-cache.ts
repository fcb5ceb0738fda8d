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
 *   document) until the task changes, so a rebuild after a small change
 *   mostly concatenates cached strings.
 */

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
 * bytes) until the object is invalidated.
 */
export class FragmentCache<K extends object> {
  private readonly map = new WeakMap<K, Buffer>();
  hits = 0;
  misses = 0;

  constructor(private readonly render: (key: K) => string) {}

  get(key: K): Buffer {
    const cached = this.map.get(key);
    if (cached !== undefined) {
      this.hits++;
      return cached;
    }
    this.misses++;
    const bytes = Buffer.from(this.render(key), "utf8");
    this.map.set(key, bytes);
    return bytes;
  }

  invalidate(key: K): void {
    this.map.delete(key);
  }
}

/** A built document: its parts in order (concatenate or write them one by one). */
export interface Document {
  readonly parts: readonly Buffer[];
  readonly bytes: number;
  readonly version: number;
}

const COMMA = Buffer.from(",");

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

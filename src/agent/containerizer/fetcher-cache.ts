/**
 * The fetcher cache (`CommandInfo.URI.cache`, `--fetcher_cache_dir`,
 * `--fetcher_cache_size`): one downloaded copy per (user, URI) that later
 * fetches use instead of downloading again, managed as Mesos' fetcher does:
 *
 * - Entries live in `<dir>/<user>/c<N>-<basename>` (`<dir>/c<N>-...` when
 *   the container has no user); the directory is cleared when the agent
 *   starts (the cache does not survive restarts, as in Mesos).
 * - Before a new entry is downloaded its size is asked for (the file's size,
 *   or the HTTP `Content-Length`) and that much space is reserved, evicting
 *   least recently used entries that no fetch is using. When the size cannot
 *   be known (no `Content-Length`, `0`), or the space cannot be freed (the
 *   file is larger than the cache, or the rest is in use), the fetch
 *   bypasses the cache and goes directly into the sandbox.
 * - Concurrent fetches of the same (user, URI) share one download; when that
 *   download fails, the waiting fetches bypass the cache.
 * - A download that turns out larger than its reservation is used by the
 *   fetch that made it and then dropped; a smaller one gives the rest back.
 */
import { access, mkdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";

/** Where the cache lives and how big it may grow. */
export interface FetcherCacheOptions {
  dir: string;
  maxBytes: number;
}

/** A cached file held by one fetch; `release` it once it is copied out. */
export interface CacheLease {
  path: string;
  /** True when the file was already there (no download was needed for this fetch). */
  hit: boolean;
  release(): void;
}

/** What `acquire` gives: the cached file, or why this fetch goes around the cache. */
export type CacheAcquisition =
  | { readonly kind: "lease"; readonly lease: CacheLease }
  | { readonly kind: "bypass"; readonly reason: string };

interface Entry {
  key: string;
  path: string;
  /** Settles when the file is complete (or failed). */
  ready: Promise<void>;
  /** Bytes reserved for (then held by) the file. */
  size: number;
  refs: number;
  lastUse: number;
  complete: boolean;
  /** Taken out of the table (evicted, failed, oversized): its file goes once unused. */
  removed: boolean;
}

/** The agent's fetcher cache. */
export class FetcherCache {
  private readonly entries = new Map<string, Entry>();
  private counter = 0;
  private useCounter = 0;
  /** Bytes reserved or held, as Mesos' `cache_size_used_bytes`. */
  private tally = 0;

  constructor(private readonly o: FetcherCacheOptions) {}

  /** Empties the cache directory (at agent start). */
  async reset(): Promise<void> {
    this.entries.clear();
    this.tally = 0;
    await rm(this.o.dir, { recursive: true, force: true });
    await mkdir(this.o.dir, { recursive: true });
  }

  /** Bytes reserved for downloads in flight plus those held by complete entries. */
  get totalBytes(): number {
    return this.tally;
  }

  /** `--fetcher_cache_size`: the bytes the cache may hold. */
  get capacityBytes(): number {
    return this.o.maxBytes;
  }

  /** Number of entries (complete or being filled). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The cached file of `uri` for `user`. A new entry is sized with
   * `probeSize` and filled by `fill(path)`; a fill error rejects (this fetch
   * made the download, so it fails as a direct one would).
   */
  async acquire(
    user: string | undefined,
    uri: string,
    basename: string,
    probeSize: () => Promise<number>,
    fill: (path: string) => Promise<void>,
  ): Promise<CacheAcquisition> {
    const key = user === undefined ? uri : `${user}@${uri}`;
    const existing = this.entries.get(key);
    if (existing !== undefined) {
      if (existing.complete && !(await exists(existing.path))) {
        // Someone removed the file behind our back: forget the entry and fetch anew.
        this.remove(existing);
      } else {
        return this.waitFor(existing);
      }
    }
    const directory = user === undefined ? this.o.dir : join(this.o.dir, safeSegment(user));
    const entry: Entry = {
      key,
      path: join(directory, cacheFileName(++this.counter, basename)),
      ready: Promise.resolve(),
      size: 0,
      refs: 1,
      lastUse: ++this.useCounter,
      complete: false,
      removed: false,
    };
    let settle!: (error?: Error) => void;
    entry.ready = new Promise<void>((resolve, reject) => {
      settle = (error) => (error === undefined ? resolve() : reject(error));
    });
    // Waiters only learn that they must bypass the cache; nobody else awaits this.
    entry.ready.catch(() => undefined);
    this.entries.set(key, entry);
    const giveUp = (reason: string): CacheAcquisition => {
      entry.refs--;
      this.remove(entry);
      settle(new Error(reason));
      return { kind: "bypass", reason };
    };

    let requested: number;
    try {
      requested = await probeSize();
    } catch (e) {
      return giveUp(
        `Could not determine size of cache file for '${key}' with error: ${messageOf(e)}`,
      );
    }
    if (!this.reserve(requested, entry)) {
      return giveUp(
        "Failed to reserve space in the cache: Could not free up enough fetcher cache space",
      );
    }
    entry.size = requested;
    this.tally += requested;

    try {
      await mkdir(directory, { recursive: true });
      await fill(entry.path);
    } catch (e) {
      entry.refs--;
      this.remove(entry);
      settle(new Error(`the download into the cache failed: ${messageOf(e)}`));
      throw e;
    }
    let actual: number | undefined;
    try {
      actual = (await stat(entry.path)).size;
    } catch {
      actual = undefined;
    }
    if (actual === undefined || actual > entry.size) {
      // Larger than reserved (or gone): this fetch uses it, nobody keeps it.
      this.remove(entry);
      settle(new Error(`the download of '${key}' was larger than its reported size`));
    } else {
      this.tally -= entry.size - actual;
      entry.size = actual;
      entry.complete = true;
      settle();
    }
    return { kind: "lease", lease: this.lease(entry, false) };
  }

  /** Joins an existing entry: at once when complete, after its download otherwise. */
  private async waitFor(entry: Entry): Promise<CacheAcquisition> {
    const hit = entry.complete;
    entry.refs++;
    entry.lastUse = ++this.useCounter;
    try {
      await entry.ready;
    } catch (e) {
      entry.refs--;
      this.dropIfUnused(entry);
      return { kind: "bypass", reason: messageOf(e) };
    }
    return { kind: "lease", lease: this.lease(entry, hit) };
  }

  private lease(entry: Entry, hit: boolean): CacheLease {
    let released = false;
    return {
      path: entry.path,
      hit,
      release: () => {
        if (released) return;
        released = true;
        entry.refs--;
        this.dropIfUnused(entry);
      },
    };
  }

  /**
   * Makes room for `bytes` (Mesos' reservation): evicts least recently used
   * entries nobody holds until enough is free. False when that is impossible;
   * then nothing is evicted.
   */
  private reserve(bytes: number, forEntry: Entry): boolean {
    const available = Math.max(0, this.o.maxBytes - this.tally);
    if (available >= bytes) return true;
    const missing = bytes - available;
    const victims: Entry[] = [];
    let freed = 0;
    const candidates = [...this.entries.values()]
      .filter((e) => e !== forEntry && e.refs === 0)
      .sort((a, b) => a.lastUse - b.lastUse);
    for (const e of candidates) {
      victims.push(e);
      freed += e.size;
      if (freed >= missing) break;
    }
    if (freed < missing) return false;
    for (const e of victims) this.remove(e);
    return true;
  }

  /** Takes an entry out of the table and gives back its space; its file goes once unused. */
  private remove(entry: Entry): void {
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    if (!entry.removed) {
      entry.removed = true;
      this.tally -= entry.size;
      entry.size = 0;
    }
    this.dropIfUnused(entry);
  }

  private dropIfUnused(entry: Entry): void {
    if (entry.removed && entry.refs === 0) void rm(entry.path, { force: true });
  }
}

/**
 * Mesos' cache file name: `c<N>-` and the URI's base name, long names cut
 * to their first and last 10 characters (the extension stays, so archives
 * are still recognized).
 */
function cacheFileName(serial: number, basename: string): string {
  let name = safeSegment(basename);
  if (name.length > 20) name = `${name.slice(0, 10)}_${name.slice(-10)}`;
  return `c${serial}-${name}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A user name or file name as one safe path segment. */
function safeSegment(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]/g, "_");
  return cleaned === "" || cleaned === "." || cleaned === ".." ? "_" : cleaned;
}

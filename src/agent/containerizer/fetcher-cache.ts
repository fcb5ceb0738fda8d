/**
 * The fetcher cache (`CommandInfo.URI.cache`, `--fetcher_cache_dir`,
 * `--fetcher_cache_size`): one downloaded copy per (user, URI) that later
 * fetches copy from instead of downloading again.
 *
 * - Entries live in `<dir>/<user>/c<N>-<basename>`; the directory is
 *   cleared when the agent starts (the cache does not survive restarts,
 *   as in Mesos).
 * - Concurrent fetches of the same (user, URI) share one download: the
 *   first fetch fills the entry, the others wait for it.
 * - After each fill, least recently used entries that no fetch is using
 *   are evicted until the cache fits `maxBytes`. An entry larger than the
 *   whole cache is used by the fetches waiting for it and then dropped.
 * - A failed fill leaves no entry behind, so the next fetch retries.
 */
import { mkdir, rm, stat } from "node:fs/promises";
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

interface Entry {
  key: string;
  path: string;
  /** Settles when the file is complete (or failed). */
  ready: Promise<void>;
  size: number;
  refs: number;
  lastUse: number;
  complete: boolean;
}

/** The agent's fetcher cache. */
export class FetcherCache {
  private readonly entries = new Map<string, Entry>();
  private counter = 0;
  private useCounter = 0;

  constructor(private readonly o: FetcherCacheOptions) {}

  /** Empties the cache directory (at agent start). */
  async reset(): Promise<void> {
    this.entries.clear();
    await rm(this.o.dir, { recursive: true, force: true });
    await mkdir(this.o.dir, { recursive: true });
  }

  /** Bytes held by complete entries. */
  get totalBytes(): number {
    let total = 0;
    for (const e of this.entries.values()) if (e.complete) total += e.size;
    return total;
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
   * The cached file of `uri` for `user`, filled by `fill(path)` when it is
   * not cached yet. Rejects with fill's error when the download fails.
   */
  async acquire(
    user: string | undefined,
    uri: string,
    basename: string,
    fill: (path: string) => Promise<void>,
  ): Promise<CacheLease> {
    const owner = user ?? "root";
    const key = `${owner}\0${uri}`;
    let entry = this.entries.get(key);
    let hit = true;
    if (entry === undefined) {
      hit = false;
      const directory = join(this.o.dir, safeSegment(owner));
      const path = join(directory, `c${++this.counter}-${safeSegment(basename)}`);
      const created: Entry = {
        key,
        path,
        ready: Promise.resolve(),
        size: 0,
        refs: 0,
        lastUse: 0,
        complete: false,
      };
      created.ready = (async () => {
        await mkdir(directory, { recursive: true });
        await fill(path);
        created.size = (await stat(path)).size;
        created.complete = true;
      })();
      entry = created;
      this.entries.set(key, created);
      created.ready.then(
        () => this.evict(),
        () => {
          // Failed fills leave nothing behind; the next fetch starts over.
          if (this.entries.get(key) === created) this.entries.delete(key);
          void rm(path, { force: true });
        },
      );
    } else if (!entry.complete) {
      // Someone else's download is in flight: that is not a hit for the log, but no new download.
      hit = false;
    }
    entry.refs++;
    entry.lastUse = ++this.useCounter;
    try {
      await entry.ready;
    } catch (e) {
      entry.refs--;
      throw e;
    }
    const held = entry;
    let released = false;
    return {
      path: held.path,
      hit,
      release: () => {
        if (released) return;
        released = true;
        held.refs--;
        this.evict();
      },
    };
  }

  /** Drops unused entries, least recently used first, until the cache fits. */
  private evict(): void {
    let total = this.totalBytes;
    if (total <= this.o.maxBytes) return;
    const candidates = [...this.entries.values()]
      .filter((e) => e.complete && e.refs === 0)
      .sort((a, b) => a.lastUse - b.lastUse);
    for (const e of candidates) {
      if (total <= this.o.maxBytes) break;
      this.entries.delete(e.key);
      total -= e.size;
      void rm(e.path, { force: true });
    }
  }
}

/** A user name or file name as one safe path segment. */
function safeSegment(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]/g, "_");
  return cleaned === "" || cleaned === "." || cleaned === ".." ? "_" : cleaned;
}

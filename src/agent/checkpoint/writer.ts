/**
 * Durable writes of the agent's checkpoint files, in batches (group
 * commit). Three kinds of operation are queued:
 *
 * - `writeFile`: a small file replaced atomically (temporary file, fsync,
 *   rename, fsync of the directory), so a reader sees the old or the new
 *   content, never a mix;
 * - `symlink`: a link replaced atomically the same way (`latest`);
 * - `append`: bytes added to an append-only file (`task.updates`).
 *
 * Operations queued while a batch is being written form the next batch, so
 * under load many appends share one fsync per file, and checkpointing does
 * not cap the rate of status updates. Batches run one after another, and in
 * a batch files and links are written before appends: an update appended
 * after its task's `task.info` was queued is never durable before it. Each
 * operation's promise settles once it is on disk (or failed).
 */
import { constants } from "node:fs";
import { mkdir, open, rename, rm, stat, symlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

interface Batch {
  files: Map<string, { data: Uint8Array | string; waiters: Waiter[] }>;
  links: Map<string, { target: string; waiters: Waiter[] }>;
  appends: Map<string, { chunks: Uint8Array[]; waiters: Waiter[] }>;
}

function emptyBatch(): Batch {
  return { files: new Map(), links: new Map(), appends: new Map() };
}

/** fsync of a directory, so a rename or a new entry in it survives a crash. */
export async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

let tempCounter = 0;
function tempPath(path: string): string {
  tempCounter = (tempCounter + 1) % 1_000_000;
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${tempCounter}`);
}

/** Replaces `path` atomically with `data` (temp file, fsync, rename, directory fsync). */
export async function writeFileAtomically(path: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = tempPath(path);
  const handle = await open(temp, "w", 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
  await syncDirectory(dirname(path));
}

/** Points the symlink `path` at `target` atomically. */
export async function symlinkAtomically(path: string, target: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = tempPath(path);
  await symlink(target, temp);
  try {
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
  await syncDirectory(dirname(path));
}

async function appendDurably(path: string, chunks: readonly Uint8Array[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const existed = await stat(path).then(
    () => true,
    () => false,
  );
  const handle = await open(path, "a", 0o644);
  try {
    await handle.writeFile(chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks));
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (!existed) await syncDirectory(dirname(path));
}

/** Counters for tests and benchmarks. */
export interface WriterStats {
  batches: number;
  appends: number;
  appendSyncs: number;
}

/** The batching writer (one per agent). */
export class CheckpointWriter {
  private queued: Batch = emptyBatch();
  private queuedCount = 0;
  private running: Promise<void> | undefined;
  readonly stats: WriterStats = { batches: 0, appends: 0, appendSyncs: 0 };

  /** Replaces a small file atomically. A later write of the same path in the same batch wins. */
  writeFile(path: string, data: Uint8Array | string): Promise<void> {
    return this.enqueue((w) => {
      const entry = this.queued.files.get(path);
      if (entry === undefined) this.queued.files.set(path, { data, waiters: [w] });
      else {
        entry.data = data;
        entry.waiters.push(w);
      }
    });
  }

  /** Points a symlink at `target` atomically. */
  symlink(path: string, target: string): Promise<void> {
    return this.enqueue((w) => {
      const entry = this.queued.links.get(path);
      if (entry === undefined) this.queued.links.set(path, { target, waiters: [w] });
      else {
        entry.target = target;
        entry.waiters.push(w);
      }
    });
  }

  /** Appends bytes to a file; resolves once they (and all bytes appended before) are synced. */
  append(path: string, data: Uint8Array): Promise<void> {
    this.stats.appends++;
    return this.enqueue((w) => {
      const entry = this.queued.appends.get(path);
      if (entry === undefined) this.queued.appends.set(path, { chunks: [data], waiters: [w] });
      else {
        entry.chunks.push(data);
        entry.waiters.push(w);
      }
    });
  }

  /** Resolves once everything queued so far is written (failures included). */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  private enqueue(add: (waiter: Waiter) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      add({ resolve, reject });
      this.queuedCount++;
      this.running ??= this.drain();
    });
  }

  private async drain(): Promise<void> {
    // Let the operations of the current tick join the first batch.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.queuedCount > 0) {
      const batch = this.queued;
      this.queued = emptyBatch();
      this.queuedCount = 0;
      this.stats.batches++;
      await this.write(batch);
    }
    this.running = undefined;
  }

  private async write(batch: Batch): Promise<void> {
    const settle = (waiters: Waiter[], error: unknown) => {
      for (const w of waiters) {
        if (error === undefined) w.resolve();
        else w.reject(error instanceof Error ? error : new Error(String(error)));
      }
    };
    const run = async (task: () => Promise<void>, waiters: Waiter[]) => {
      try {
        await task();
        settle(waiters, undefined);
      } catch (e) {
        settle(waiters, e);
      }
    };
    await Promise.all([
      ...[...batch.files].map(([path, e]) =>
        run(() => writeFileAtomically(path, e.data), e.waiters),
      ),
      ...[...batch.links].map(([path, e]) =>
        run(() => symlinkAtomically(path, e.target), e.waiters),
      ),
    ]);
    this.stats.appendSyncs += batch.appends.size;
    await Promise.all(
      [...batch.appends].map(([path, e]) => run(() => appendDurably(path, e.chunks), e.waiters)),
    );
  }
}

/**
 * Runs our CommonJS executor bundles through V8's code cache. Node 20 has
 * no compile cache for user code, so every executor start parses its
 * bundles and compiles each function it calls; with `cachedData` V8 takes
 * the compiled bytecode instead (docs/architecture/command-executor.md has
 * the numbers).
 *
 * The cache of `<bundle>` is the file `<bundle>.cache`: a header line naming
 * the bundle file it was made from (inode, size, mtime) and V8's data. It is
 * written by an executor that found none (or found it rejected), about a
 * second after start, when its task runs and the functions it needed are
 * compiled (or as it exits, if sooner: an "early" cache, which the next
 * process that lives a second replaces with a full one); atomically (temporary file, rename), and never when the
 * directory is not writable (then every start simply compiles). A cache
 * whose header does not name the bundle being run is not used at all: V8's
 * own check only compares the source length, so a rebuilt bundle of the
 * same length must never meet an old cache. V8 rejects data from another
 * V8 version or another set of V8 flags (`cachedDataRejected`); the bundle
 * then compiles as without a cache.
 *
 * Kept small and free of our other modules: this file is bundled into the
 * `*.cached.cjs` loaders (`launch-command.ts`), which themselves run
 * uncached. Measured neutral for our 90-190 KB bundles (the compile it saves
 * costs about as much to load and deserialize), so the agent runs the
 * bundles directly; see docs/architecture/command-executor.md.
 */
import {
  closeSync,
  fstatSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { createRequire } from "node:module";
import { Script } from "node:vm";

/** First bytes of a cache file; bump when the format changes. */
const MAGIC = "mesos-ts-code-cache-1";
/** The CommonJS wrapper Node itself uses, so the bundle sees the usual five names. */
const WRAPPER_HEAD = "(function (exports, require, module, __filename, __dirname) {";
const WRAPPER_TAIL = "\n})";
/** How long after the first load an executor that needs a cache writes one. */
const WRITE_DELAY_MS = 1000;

/**
 * What happened to the cache of one bundle (for tests and the benchmark):
 * `used-early` is a cache written by a process that exited within the
 * write delay (e.g. `--help`), so it lacks what a full run compiles; it is
 * used, and replaced by the next process that lives long enough.
 */
export type CacheOutcome = "used" | "used-early" | "rejected" | "missing" | "stale";

/** `full`: written by the timer, after a full start-up; `early`: written at an early exit. */
type CacheKind = "full" | "early";

interface Compiled {
  file: string;
  identity: string;
  script: Script;
  /** V8 refused the cache file there now: replace it even though its header matches. */
  rejected: boolean;
  /** Only a full cache is worth writing (the one there is an early one). */
  fullOnly: boolean;
}

/** `<inode>:<size>:<mtime>` of an open file: changes whenever the bundle is rewritten. */
function identityOf(fd: number): string {
  const s = fstatSync(fd);
  return `${s.ino}:${s.size}:${s.mtimeMs}`;
}

/** The header's start; the kind and a newline follow. */
function prefixOf(identity: string): string {
  return `${MAGIC} ${identity} `;
}

/** The kind named by a header that starts `head` (a file's first bytes), if it names `identity`. */
function kindIn(head: string, identity: string): CacheKind | undefined {
  const prefix = prefixOf(identity);
  if (!head.startsWith(prefix)) return undefined;
  const rest = head.slice(prefix.length);
  return rest.startsWith("full\n") ? "full" : rest.startsWith("early\n") ? "early" : undefined;
}

/** The cached data for `identity` and its kind, or why there is none. */
function readCache(
  file: string,
  identity: string,
): { data: Buffer; kind: CacheKind } | "missing" | "stale" {
  let data: Buffer;
  try {
    data = readFileSync(`${file}.cache`);
  } catch {
    return "missing";
  }
  const head = data.toString("latin1", 0, Math.min(data.length, 200));
  const kind = kindIn(head, identity);
  if (kind === undefined) return "stale";
  const start = prefixOf(identity).length + kind.length + 1;
  if (data.length <= start) return "stale";
  return { data: data.subarray(start), kind };
}

/** The directory of `file` (no node:path: this runs before anything else is loaded). */
function dirOf(file: string): string {
  const at = file.lastIndexOf("/");
  return at <= 0 ? "/" : file.slice(0, at);
}

/** Loads CommonJS bundles through the code cache; one per process. */
export class CodeCacheLoader {
  private readonly loaded = new Map<string, unknown>();
  private readonly toWrite: Compiled[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Outcome per bundle file, in load order. */
  readonly outcomes = new Map<string, CacheOutcome>();

  constructor(private readonly writeDelayMs: number = WRITE_DELAY_MS) {}

  /**
   * Runs the bundle `file` (absolute path) as a CommonJS module and returns
   * its `module.exports`. Its `require` of a sibling `./*.cjs` goes through
   * this loader too; everything else is Node's own `require`.
   */
  load(file: string): unknown {
    const done = this.loaded.get(file);
    if (done !== undefined) return done;
    // One descriptor for identity and text, so both describe the same file
    // even if the bundle is replaced meanwhile.
    const fd = openSync(file, "r");
    let source: string;
    let identity: string;
    try {
      identity = identityOf(fd);
      source = readFileSync(fd, "utf8");
    } finally {
      closeSync(fd);
    }
    const cache = readCache(file, identity);
    const script = new Script(WRAPPER_HEAD + source + WRAPPER_TAIL, {
      filename: file,
      ...(typeof cache === "string" ? {} : { cachedData: cache.data }),
    });
    const outcome: CacheOutcome =
      typeof cache === "string"
        ? cache
        : script.cachedDataRejected === true
          ? "rejected"
          : cache.kind === "early"
            ? "used-early"
            : "used";
    this.outcomes.set(file, outcome);
    if (outcome !== "used") {
      this.scheduleWrite({
        file,
        identity,
        script,
        rejected: outcome === "rejected",
        fullOnly: outcome === "used-early",
      });
    }
    const dir = dirOf(file);
    const nodeRequire = createRequire(file);
    const bundleRequire = (id: string): unknown =>
      id.startsWith("./") && id.endsWith(".cjs") && !id.includes("/", 2)
        ? this.load(`${dir}/${id.slice(2)}`)
        : nodeRequire(id);
    const module = {
      exports: {} as unknown,
      filename: file,
      id: file,
      loaded: false,
      // The bundle's import() (bundle.ts routes it here): code compiled by
      // vm.Script cannot import on Node 20 without an experimental flag.
      __import: (specifier: string): Promise<unknown> => {
        const { pathToFileURL } = nodeRequire("node:url") as typeof import("node:url");
        return import(new URL(specifier, pathToFileURL(file)).href);
      },
    };
    const wrapper = script.runInThisContext() as (
      exports: unknown,
      require: unknown,
      module: unknown,
      filename: string,
      dirname: string,
    ) => void;
    // Registered before running: the bundle may load its siblings at once.
    this.loaded.set(file, module.exports);
    wrapper.call(module.exports, module.exports, bundleRequire, module, file, dir);
    module.loaded = true;
    this.loaded.set(file, module.exports);
    return module.exports;
  }

  private scheduleWrite(compiled: Compiled): void {
    this.toWrite.push(compiled);
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => this.writeCaches(), this.writeDelayMs);
    // Never keeps the executor alive; one that ends sooner writes an early cache as it exits.
    this.timer.unref();
    process.once("exit", () => this.writeCaches("early"));
  }

  /**
   * Writes the caches this process found missing or unusable: `full` (the
   * timer's, and the default) after start-up, `early` at an early exit.
   */
  writeCaches(kind: CacheKind = "full"): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (const c of this.toWrite.splice(0)) {
      if (kind === "full" || !c.fullOnly) writeCache(c, kind);
    }
  }
}

/**
 * Writes `<file>.cache` for `c` unless one at least as good is there
 * (another executor may have written it meanwhile); errors are ignored.
 */
function writeCache(c: Compiled, kind: CacheKind): void {
  const target = `${c.file}.cache`;
  const header = `${prefixOf(c.identity)}${kind}\n`;
  try {
    if (c.rejected) throw new Error("replace it");
    const fd = openSync(target, "r");
    try {
      const head = Buffer.alloc(200);
      const n = readSync(fd, head, 0, head.length, 0);
      const there = kindIn(head.toString("latin1", 0, n), c.identity);
      if (there === "full" || there === kind) return;
    } finally {
      closeSync(fd);
    }
  } catch {
    // No usable cache there.
  }
  const tmp = `${target}.${process.pid}.tmp`;
  let fd: number;
  try {
    // Opened before the (costly) serialization: a read-only directory costs nothing more.
    fd = openSync(tmp, "w", 0o644);
  } catch {
    return;
  }
  try {
    try {
      writeSync(fd, header, null, "latin1");
      writeSync(fd, c.script.createCachedData());
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } catch {
    try {
      unlinkSync(tmp);
    } catch {
      // Already gone.
    }
  }
}

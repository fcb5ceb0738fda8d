/**
 * The fetcher: puts a container's `CommandInfo.uris` into its sandbox
 * before the executor starts, as Mesos' fetcher does:
 *
 * - every URI (and `output_file`) is checked first; a bad one fails the
 *   fetch before anything is downloaded (`Could not fetch: ...`);
 * - local paths (absolute, `file://`, or relative to `--frameworks_home`)
 *   are copied; `http://` and `https://` URLs are downloaded (see
 *   download.ts); other schemes (`hdfs://`, `s3://`, ...) go to the Hadoop
 *   client (`--hadoop_home`), except `ftp://`/`ftps://`, which are refused;
 * - the file is named after the URI's last path segment, or `output_file`
 *   (a relative path inside the sandbox, directories created as needed);
 * - `executable` makes the file executable (0755); otherwise, with `extract`
 *   (on by default), `.tar .tgz .tar.gz .tbz2 .tar.bz2 .txz .tar.xz` are
 *   unpacked with the system `tar`, `.zip` with `unzip`, and a bare `.gz`
 *   with `gunzip`, into the sandbox;
 * - `cache: true` with a fetcher cache (fetcher-cache.ts) downloads or
 *   copies the URI once per user into the cache; each sandbox then gets a
 *   copy, or only the extracted content of an archive. When the cache
 *   cannot take the file (size unknown, too large) the URI is fetched
 *   directly.
 * - with `asUser` (a root agent, a container with a user) every write into
 *   the sandbox is made by one worker process per fetch running as that
 *   user (sandbox-writer.ts), as Mesos' fetcher does after `os::su`; the
 *   cache stays the agent's. A nested container's worker starts in its
 *   sandbox as held open from the top-level sandbox down (`holdSandbox`).
 *
 * Progress and failures go to the sandbox `stderr` as glog lines (as the
 * Mesos fetcher's output does), and the first failure stops the fetch with a
 * one-line reason.
 */
import { randomUUID } from "node:crypto";
import { stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { formatGlogLine } from "../../common/observability/glog.js";
import type { LogLevel } from "../../common/observability/logger.js";
import type { CommandInfo_URI } from "../../common/protocol/generated/mesos-v1.js";
import { type DownloadOptions, downloadToFile, httpContentLength } from "./download.js";
import type { FetcherCache } from "./fetcher-cache.js";
import {
  adoptStaged,
  copyRegularFile,
  directWriter,
  type FetchUser,
  type SandboxWriter,
  userWriter,
  WRITE_ERROR,
} from "./sandbox-writer.js";

/** Runs a program to completion (archive tools); the launcher helper in the agent. */
export type CommandRunner = (
  file: string,
  args: string[],
  cwd: string,
) => Promise<{ code: number | null; signal: string | null; output: string }>;

/** Where one progress line goes; `level` defaults to INFO. */
export type FetchLog = (line: string, level?: LogLevel) => Promise<void>;

export interface FetchOptions {
  /** The sandbox to fetch into (must exist). */
  sandbox: string;
  /** `--frameworks_home`: the base of relative paths ("" or undefined: relative paths fail). */
  frameworksHome?: string | undefined;
  /** `--hadoop_home`: the Hadoop client is `<hadoop_home>/bin/hadoop` (else `$HADOOP_HOME`, else `hadoop`). */
  hadoopHome?: string | undefined;
  /** Runs tar/unzip/gunzip and the Hadoop client (when the agent writes itself). */
  run: CommandRunner;
  /**
   * The container's user, when a root agent switches to one: everything
   * written into the sandbox is then written by one child process running
   * as that user (sandbox-writer.ts), as the Mesos fetcher runs as the
   * task's user, so a file that user cannot read is not fetched and a link
   * the user puts in the sandbox leads nowhere the user could not write.
   * The sandbox must already belong to that user. Cache entries are still
   * filled by the agent.
   */
  asUser?: FetchUser | undefined;
  /**
   * Where that worker starts, when `sandbox` lies below a directory its user
   * may change (a nested container's, below its executor's sandbox): the
   * sandbox held open, walked from the top-level sandbox without following
   * links, and its /proc path. The worker enters it as root, before it
   * becomes the user, so entering `sandbox` by its path would follow a link
   * the user swapped in on the way into a directory whose parents the user
   * may not pass. Released once the worker runs. Without it the worker
   * enters `sandbox` by its path (an executor's sandbox: its parents are
   * root's).
   */
  holdSandbox?: (() => Promise<{ path: string; release: () => void }>) | undefined;
  download?: Omit<DownloadOptions, "signal">;
  /** Aborts a download in progress (the container was destroyed). */
  signal?: AbortSignal;
  /** The agent's fetcher cache, used for URIs with `cache: true`. */
  cache?: FetcherCache | undefined;
  /** The user the container runs as (cache entries are per user). */
  user?: string | undefined;
  /** Where progress lines go; defaults to glog lines appended to `<sandbox>/stderr`. */
  log?: FetchLog;
}

/** A fetch that failed, with the reason to show the user. */
export class FetchError extends Error {
  constructor(
    readonly uri: string,
    reason: string,
    /** The whole message, when it is not about one URI's download. */
    message?: string,
  ) {
    super(message ?? `Failed to fetch '${uri}': ${reason}`);
    this.name = "FetchError";
  }
}

/**
 * Fetches since the agent process started (Mesos'
 * `containerizer/fetcher/task_fetches_*`): one per container launch, counted
 * when all its URIs arrived (or it had none) or the first one failed.
 */
export const fetchCounts = { succeeded: 0, failed: 0 };

const TAR_SUFFIXES = [".tar", ".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz"];

/**
 * The file name a URI is fetched to (Mesos' `Fetcher::basename`): the last
 * path segment, query string included, as Mesos treats URIs like paths.
 */
export function uriBasename(uri: string): string | { error: string } {
  if (/[\\'\0]/.test(uri)) return { error: "Illegal characters in URI" };
  const index = uri.indexOf("://");
  if (index > 1) {
    const path = uri.slice(index + 3);
    const slash = path.indexOf("/");
    if (slash < 0 || path.length <= slash + 1)
      return { error: `Malformed URI (missing path): ${uri}` };
    return path.slice(path.lastIndexOf("/") + 1);
  }
  return basename(uri);
}

/**
 * Mesos' checks of `output_file`, plus one of ours: Mesos lets `../x`
 * through (a known gap in its check); mesos-ts refuses any path that
 * leaves the sandbox, with the same message.
 */
export function outputFileError(path: string): string | undefined {
  if (path === "") return "URI output file path is empty";
  const rel = normalize(path);
  if (isAbsolute(path) || rel === ".." || rel.startsWith("../")) {
    return "URI output file must be within the sandbox directory";
  }
  if (rel === "." || path.endsWith("/")) return `URI output file '${path}' names a directory`;
  return undefined;
}

/** Checks every URI before anything is fetched (Mesos' `validateUris`). */
export function validateUris(uris: readonly CommandInfo_URI[]): string | undefined {
  for (const uri of uris) {
    const name = uriBasename(uri.value);
    if (typeof name !== "string") return name.error;
    if (uri.output_file !== undefined) {
      const error = outputFileError(uri.output_file);
      if (error !== undefined) return error;
    } else if (name === "" || name === "." || name === "..") {
      return `The URI '${uri.value}' names no file; give an output_file`;
    }
  }
  return undefined;
}

/** Where a URI comes from: a local file, a network URL, the Hadoop client, or an error. */
export type UriSource =
  | { kind: "local"; path: string; prepended?: boolean }
  | { kind: "net"; url: string }
  | { kind: "hadoop"; uri: string }
  | { kind: "error"; error: string };

/** Classifies a URI (Mesos' `uriToLocalPath` / `isNetUri`). */
export function uriSource(rawUri: string, frameworksHome: string | undefined): UriSource {
  const uri = rawUri.trimStart();
  if (/^https?:\/\//.test(uri)) return { kind: "net", url: uri };
  if (/^ftps?:\/\//.test(uri)) {
    return {
      kind: "error",
      error: "FTP and FTPS URIs are not supported by mesos-ts (use http, https or a local path)",
    };
  }
  const fileUri = uri.startsWith("file://");
  if (!fileUri && uri.includes("://")) return { kind: "hadoop", uri };
  let path = uri;
  if (fileUri) {
    try {
      path = fileURLToPath(uri.replace(/^file:\/\/localhost\//, "file:///"));
    } catch {
      return { kind: "error", error: "File URI only supports absolute paths" };
    }
  }
  if (!isAbsolute(path)) {
    if (fileUri) return { kind: "error", error: "File URI only supports absolute paths" };
    if (frameworksHome === undefined || frameworksHome === "") {
      return {
        kind: "error",
        error:
          "A relative path was passed for the resource but the Mesos framework home was not " +
          "specified. Please either provide this config option or avoid using a relative path",
      };
    }
    return { kind: "local", path: join(frameworksHome, path), prepended: true };
  }
  return { kind: "local", path };
}

/** The archive kind of a file name, if it is one the fetcher unpacks. */
export function archiveKind(name: string): "tar" | "zip" | "gz" | undefined {
  if (TAR_SUFFIXES.some((s) => name.endsWith(s))) return "tar";
  if (name.endsWith(".zip")) return "zip";
  if (name.endsWith(".gz")) return "gz";
  return undefined;
}

/** The destination of a URI in the sandbox (already validated by `validateUris`). */
function destinationOf(uri: CommandInfo_URI, sandbox: string): string {
  const name = uri.output_file ?? uriBasename(uri.value);
  if (typeof name !== "string") throw new FetchError(uri.value, name.error);
  return normalize(join(sandbox, name));
}

/** What one fetch works with: its options, the sandbox writer, and its log. */
interface Fetch {
  o: FetchOptions;
  w: SandboxWriter;
  log: FetchLog;
}

/** A temporary file in the sandbox (the writer's, removed once used). */
function scratchFile(sandbox: string): string {
  return join(sandbox, `.fetch-${randomUUID()}`);
}

/**
 * Unpacks `file` (an archive of `kind`, shown as `shown`) into the
 * sandbox. A bare `.gz` becomes `gzTarget`: the destination's name
 * without `.gz`.
 */
async function extract(
  f: Fetch,
  file: string,
  shown: string,
  kind: "tar" | "zip" | "gz",
  gzTarget: string,
  uri: string,
): Promise<void> {
  const { w } = f;
  const sandbox = w.path(f.o.sandbox);
  const archive = w.path(file);
  let command: [string, string[]];
  // As libarchive in Mesos (which restores neither owners nor permissions):
  // files belong to whoever extracts them, modes go through the umask, and
  // no setuid bit recorded in the archive survives.
  if (kind === "tar") {
    command = ["tar", ["--no-same-owner", "--no-same-permissions", "-C", sandbox, "-xf", archive]];
  } else if (kind === "zip") command = ["unzip", ["-o", "-q", "-d", sandbox, archive]];
  else {
    command = ["sh", ["-c", 'gunzip -d -c < "$1" > "$2"', "gunzip", archive, w.path(gzTarget)]];
  }
  let result: Awaited<ReturnType<CommandRunner>>;
  try {
    result = await w.run(command[0], command[1]);
  } catch (e) {
    throw new FetchError(
      uri,
      `Failed to extract '${shown}': '${command[0]}' failed: ${messageOf(e)}`,
    );
  }
  if (result.code !== 0) {
    const how =
      result.signal !== null
        ? `terminated by ${result.signal}`
        : `exited with status ${result.code}`;
    const output = result.output.trim().split("\n").slice(-3).join(" / ");
    const tool = kind === "gz" ? "gunzip" : command[0];
    throw new FetchError(
      uri,
      `Failed to extract '${shown}': '${tool}' ${how}${output === "" ? "" : `: ${output}`}`,
    );
  }
}

/** The Hadoop client the agent uses (Mesos' `HDFS::create`). */
function hadoopClient(hadoopHome: string | undefined): string {
  const home = hadoopHome !== undefined && hadoopHome !== "" ? hadoopHome : process.env.HADOOP_HOME;
  return home !== undefined && home !== "" ? join(home, "bin", "hadoop") : "hadoop";
}

/**
 * Runs the Hadoop client, failing unless it is there (`hadoop version`
 * works). It runs where the sandbox writes are made: as the task's user
 * when there is one, as in Mesos, so HDFS applies its permissions.
 */
async function runHadoop(f: Fetch, args: string[]): Promise<string> {
  const hadoop = hadoopClient(f.o.hadoopHome);
  const step = async (a: string[], what: string) => {
    let result: Awaited<ReturnType<CommandRunner>>;
    try {
      result = await f.w.run(hadoop, a);
    } catch (e) {
      throw new Error(`${what}: Failed to exec hadoop subprocess '${hadoop}': ${messageOf(e)}`);
    }
    return result;
  };
  const version = await step(["version"], "Failed to create HDFS client");
  if (version.code !== 0) {
    throw new Error(
      `Failed to create HDFS client: Hadoop client is not available, exit status: ${version.code ?? version.signal}`,
    );
  }
  const result = await step(args, `HDFS ${args[1]} failed`);
  if (result.code !== 0) {
    throw new Error(
      `HDFS ${args[1]} failed: Unexpected result from the subprocess: status='${result.code ?? result.signal}', output='${result.output.trim()}'`,
    );
  }
  return result.output;
}

/** The size a URI will have, to reserve cache space (Mesos' `fetchSize`). */
async function sizeOf(source: Exclude<UriSource, { kind: "error" }>, f: Fetch) {
  if (source.kind === "local") {
    try {
      return (await stat(source.path)).size;
    } catch (e) {
      throw new Error(
        `Could not determine file size for: '${source.path}', error: ${messageOf(e)}`,
      );
    }
  }
  if (source.kind === "net") {
    // The size probe is bounded like a download: by --fetcher_stall_timeout.
    const size = await httpContentLength(source.url, f.o.download?.stallTimeoutMs ?? 60_000);
    if (size === 0) throw new Error(`URI reported content-length 0: ${source.url}`);
    return size;
  }
  const output = await runHadoop(f, ["fs", "-du", source.uri]);
  const size = Number(output.trim().split(/\s+/)[0]);
  if (!Number.isInteger(size) || size < 0) {
    throw new Error(`Hadoop client could not determine size: unexpected output '${output.trim()}'`);
  }
  return size;
}

/** Copies a local file to `to`, its failure told as the fetcher tells it. */
async function copyLocal(
  copy: () => Promise<void>,
  path: string,
  to: string,
  uri: string,
): Promise<void> {
  try {
    await copy();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new FetchError(uri, `'${path}' does not exist`);
    if (code === "EACCES") throw new FetchError(uri, `permission denied reading '${path}'`);
    if (code === `${WRITE_ERROR}:EACCES`) {
      throw new FetchError(uri, `permission denied writing '${to}'`);
    }
    if (code?.startsWith(WRITE_ERROR) === true) {
      throw new FetchError(uri, `Failed to write '${to}': ${messageOf(e)}`);
    }
    throw new FetchError(uri, messageOf(e));
  }
}

/** Copies or downloads `source` to `destination`, a file in the sandbox, with the sandbox writer. */
async function retrieve(
  f: Fetch,
  source: Exclude<UriSource, { kind: "error" }>,
  destination: string,
  uri: string,
): Promise<void> {
  const { w, log } = f;
  const to = w.path(destination);
  if (source.kind === "local") {
    await copyLocal(() => w.copyLocal(source.path, to), source.path, destination, uri);
    return;
  }
  if (source.kind === "hadoop") {
    await log(`Downloading resource with Hadoop client from '${uri}' to '${destination}'`);
    try {
      await runHadoop(f, ["fs", "-copyToLocal", source.uri, to]);
    } catch (e) {
      throw new FetchError(uri, messageOf(e));
    }
    return;
  }
  await log(`Downloading resource from '${source.url}' to '${destination}'`);
  let result: Awaited<ReturnType<SandboxWriter["download"]>>;
  try {
    result = await w.download(source.url, to, f.o.download?.stallTimeoutMs);
  } catch (e) {
    throw new FetchError(uri, messageOf(e));
  }
  if (!result.ok) throw new FetchError(uri, result.error);
}

/**
 * Fills the cache file `path` (the agent's, as root). A download is made by
 * the agent; a local file or the Hadoop client's copy is read as the task's
 * user when there is one (so a file that user may not read never enters
 * the cache): the writer puts it in the sandbox, and the agent takes it
 * from there only if it is still a regular file of that user.
 */
async function fillCache(
  f: Fetch,
  source: Exclude<UriSource, { kind: "error" }>,
  path: string,
  uri: string,
): Promise<void> {
  const { o, w, log } = f;
  if (source.kind === "net") {
    // Shared with other containers: this container's abort must not stop it.
    await log(`Downloading resource from '${source.url}' to '${path}'`);
    const result = await downloadToFile(source.url, path, { ...o.download });
    if (!result.ok) throw new FetchError(uri, result.error);
    return;
  }
  if (!w.asUser || o.asUser === undefined) {
    if (source.kind === "local") {
      await copyLocal(() => copyRegularFile(source.path, path), source.path, path, uri);
      return;
    }
    await retrieve(f, source, path, uri);
    return;
  }
  const staged = scratchFile(o.sandbox);
  try {
    await retrieve(f, source, staged, uri);
    try {
      await adoptStaged(staged, path, o.asUser.uid);
    } catch (e) {
      throw new FetchError(uri, `Failed to copy into the cache: ${messageOf(e)}`);
    }
  } finally {
    await w.remove(w.path(staged)).catch(() => undefined);
  }
}

async function chmodExecutable(w: SandboxWriter, path: string, uri: string): Promise<void> {
  try {
    await w.chmod(w.path(path), 0o755);
  } catch (e) {
    throw new FetchError(uri, `Failed to chmod executable '${path}': ${messageOf(e)}`);
  }
}

/** The name a bare `.gz` unpacks to: the destination's base name without `.gz`. */
function gunzipTarget(destination: string, sandbox: string): string {
  return join(sandbox, basename(destination).slice(0, -3));
}

/** Copies the cache file `from` to `to` in the sandbox, with the sandbox writer. */
async function fromCache(w: SandboxWriter, from: string, to: string, uri: string): Promise<void> {
  try {
    await w.receive(from, w.path(to));
  } catch (e) {
    throw new FetchError(uri, `Failed to copy from the cache: ${messageOf(e)}`);
  }
}

/**
 * Fetches through the cache. Returns false when the cache cannot take this
 * URI (the caller then fetches it directly).
 */
async function fetchCached(
  f: Fetch,
  cache: FetcherCache,
  source: Exclude<UriSource, { kind: "error" }>,
  destination: string,
  uri: CommandInfo_URI,
): Promise<boolean> {
  const { o, w, log } = f;
  const name = uriBasename(uri.value);
  const acquired = await cache.acquire(
    o.user,
    uri.value,
    typeof name === "string" ? name : "uri",
    () => sizeOf(source, f),
    (path) => fillCache(f, source, path, uri.value),
  );
  if (acquired.kind === "bypass") {
    await log(
      `Reverting to fetching directly into the sandbox for '${uri.value}', due to failure ` +
        `to fetch through the cache, with error: ${acquired.reason}`,
      "WARNING",
    );
    return false;
  }
  const { lease } = acquired;
  try {
    await log(`Fetching URI '${uri.value}' from cache`);
    const kind = archiveKind(destination);
    if (uri.executable !== true && (uri.extract ?? true) && kind !== undefined) {
      // As in Mesos, the sandbox gets the archive's content, not a copy of
      // it. The agent unpacks straight from the cache; a worker running as
      // the user (who cannot read the cache) gets a scratch copy first.
      const target = gunzipTarget(destination, o.sandbox);
      if (w.asUser) {
        const scratch = scratchFile(o.sandbox);
        try {
          await fromCache(w, lease.path, scratch, uri.value);
          await extract(f, scratch, lease.path, kind, target, uri.value);
        } finally {
          await w.remove(w.path(scratch)).catch(() => undefined);
        }
      } else {
        await extract(f, lease.path, lease.path, kind, target, uri.value);
      }
      await log(`Extracted '${lease.path}' into '${o.sandbox}'`);
      await log(`Fetched '${uri.value}' to '${o.sandbox}'`);
      return true;
    }
    if (uri.executable !== true && (uri.extract ?? true)) await logNotArchive(uri.value, log);
    await fromCache(w, lease.path, destination, uri.value);
    if (uri.executable === true) await chmodExecutable(w, destination, uri.value);
    await log(`Fetched '${uri.value}' to '${destination}'`);
    return true;
  } finally {
    lease.release();
  }
}

function logNotArchive(uri: string, log: FetchLog): Promise<void> {
  return log(
    "Copying instead of extracting resource from URI with 'extract' flag, because it does " +
      `not seem to be an archive: ${uri}`,
    "WARNING",
  );
}

async function fetchOne(f: Fetch, uri: CommandInfo_URI) {
  const { o, w, log } = f;
  await log(`Fetching URI '${uri.value}'`);
  const source = uriSource(uri.value, o.frameworksHome);
  if (source.kind === "error") throw new FetchError(uri.value, source.error);
  if (source.kind === "local" && source.prepended === true) {
    await log(`Prepended Mesos frameworks home to relative path, making it: '${source.path}'`);
  }
  const destination = destinationOf(uri, o.sandbox);
  try {
    await w.mkdir(w.path(dirname(destination)));
  } catch (e) {
    throw new FetchError(
      uri.value,
      `Unable to create subdirectory ${dirname(relative(o.sandbox, destination))} in sandbox: ${messageOf(e)}`,
    );
  }
  if (uri.cache === true && o.cache !== undefined) {
    if (await fetchCached(f, o.cache, source, destination, uri)) return;
  }
  await log(`Fetching '${uri.value}' directly into the sandbox directory`);
  await retrieve(f, source, destination, uri.value);
  if (uri.executable === true) {
    await chmodExecutable(w, destination, uri.value);
  } else if (uri.extract ?? true) {
    const kind = archiveKind(destination);
    if (kind === undefined) {
      await logNotArchive(uri.value, log);
    } else {
      const target = gunzipTarget(destination, o.sandbox);
      await extract(f, destination, destination, kind, target, uri.value);
      await log(`Extracted '${destination}' into '${o.sandbox}'`);
    }
  }
  await log(`Fetched '${uri.value}' to '${destination}'`);
}

/**
 * The default log: glog lines appended to the sandbox `stderr`, as the
 * Mesos fetcher writes, by the sandbox writer (the user's worker, if any).
 */
function sandboxLog(w: SandboxWriter, sandbox: string): FetchLog {
  const path = w.path(join(sandbox, "stderr"));
  return (line, level = "INFO") =>
    w
      .append(path, formatGlogLine(level, Date.now(), process.pid, "fetcher.ts", line))
      .catch(() => undefined);
}

/**
 * Fetches every URI, in order, into the sandbox. Resolves when all are
 * there; rejects with a FetchError (already logged to the sandbox `stderr`)
 * at the first failure. Call it for every container launch, with or
 * without URIs: it counts the launch in `task_fetches_*`. With `asUser`
 * one worker process makes all of this fetch's sandbox writes.
 */
export async function fetchUris(uris: readonly CommandInfo_URI[], o: FetchOptions): Promise<void> {
  let w: SandboxWriter;
  if (o.asUser !== undefined && uris.length > 0) {
    let held: Awaited<ReturnType<NonNullable<FetchOptions["holdSandbox"]>>> | undefined;
    try {
      held = await o.holdSandbox?.();
    } catch (e) {
      // Nothing can be written there (not even the log): the launch fails with the reason.
      fetchCounts.failed++;
      throw e;
    }
    try {
      // Spawned (its working directory entered) when this returns.
      w = userWriter(o.sandbox, o.asUser, o.signal, held?.path);
    } finally {
      held?.release();
    }
  } else {
    w = directWriter(o.sandbox, o.run, o.signal);
  }
  try {
    await fetchAll(uris, { o, w, log: o.log ?? sandboxLog(w, o.sandbox) });
  } finally {
    w.close();
  }
}

/** The agent's fetcher flags, as every containerizer passes them on (docs/fetcher.md). */
export interface AgentFetcherSettings {
  /** `--frameworks_home`. */
  frameworksHome?: string | undefined;
  /** `--hadoop_home`. */
  hadoopHome?: string | undefined;
  /** `--fetcher_stall_timeout`. */
  stallTimeoutMs?: number | undefined;
  /** The agent's fetcher cache (`--fetcher_cache_size`, `--fetcher_cache_dir`). */
  cache?: FetcherCache | undefined;
}

/** The settings in a containerizer's options (named after their flags). */
export function fetcherSettingsOf(o: {
  frameworksHome?: string | undefined;
  hadoopHome?: string | undefined;
  fetcherStallTimeoutMs?: number | undefined;
  fetcherCache?: FetcherCache | undefined;
}): AgentFetcherSettings {
  return {
    frameworksHome: o.frameworksHome,
    hadoopHome: o.hadoopHome,
    stallTimeoutMs: o.fetcherStallTimeoutMs,
    cache: o.fetcherCache,
  };
}

/** One container's fetch: where, as whom, and how its archives are unpacked. */
export interface ContainerFetch {
  sandbox: string;
  settings: AgentFetcherSettings;
  run: CommandRunner;
  /** The container's user (cache entries are per user). */
  user?: string | undefined;
  /** That user's ids, when the agent switches to the user. */
  ids?: { uid: number; gid: number } | undefined;
  signal?: AbortSignal | undefined;
  holdSandbox?: FetchOptions["holdSandbox"];
}

/**
 * A container launch's fetch (`fetchUris` with the agent's settings). A
 * root agent fetches as the container's user, as the Mesos fetcher runs as
 * the task's user; returns whether it did (the fetched files are then
 * already the user's). A fetch failure rejects with a plain Error carrying
 * the fetcher's reason.
 */
export async function fetchForContainer(
  uris: readonly CommandInfo_URI[],
  c: ContainerFetch,
): Promise<{ asUser: boolean }> {
  const { settings, user, ids } = c;
  const asUser =
    ids !== undefined && user !== undefined && process.getuid?.() === 0
      ? { user, ...ids }
      : undefined;
  try {
    await fetchUris(uris, {
      sandbox: c.sandbox,
      frameworksHome: settings.frameworksHome,
      hadoopHome: settings.hadoopHome,
      run: c.run,
      ...(asUser === undefined ? {} : { asUser }),
      ...(c.holdSandbox === undefined ? {} : { holdSandbox: c.holdSandbox }),
      ...(settings.stallTimeoutMs === undefined
        ? {}
        : { download: { stallTimeoutMs: settings.stallTimeoutMs } }),
      ...(c.signal === undefined ? {} : { signal: c.signal }),
      ...(settings.cache === undefined ? {} : { cache: settings.cache }),
      ...(user === undefined ? {} : { user }),
    });
  } catch (e) {
    throw e instanceof FetchError ? new Error(e.message) : e;
  }
  return { asUser: asUser !== undefined };
}

async function fetchAll(uris: readonly CommandInfo_URI[], f: Fetch): Promise<void> {
  const { o, log } = f;
  const invalid = validateUris(uris);
  if (invalid !== undefined) {
    fetchCounts.failed++;
    const error = new FetchError(uris[0]?.value ?? "", invalid, `Could not fetch: ${invalid}`);
    await log(error.message, "ERROR");
    throw error;
  }
  for (const uri of uris) {
    if (o.signal?.aborted === true) {
      fetchCounts.failed++;
      throw new FetchError(uri.value, "the container was destroyed");
    }
    try {
      await fetchOne(f, uri);
    } catch (e) {
      fetchCounts.failed++;
      const error = e instanceof FetchError ? e : new FetchError(uri.value, messageOf(e));
      await log(error.message, "ERROR");
      throw error;
    }
  }
  fetchCounts.succeeded++;
  if (uris.length > 0) await log(`Successfully fetched all URIs into '${o.sandbox}'`);
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

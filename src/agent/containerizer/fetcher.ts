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
 *
 * Progress and failures go to the sandbox `stderr` as glog lines (as the
 * Mesos fetcher's output does), and the first failure stops the fetch with a
 * one-line reason.
 */
import { randomUUID } from "node:crypto";
import { appendFile, chmod, copyFile, mkdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { formatGlogLine } from "../../common/observability/glog.js";
import type { LogLevel } from "../../common/observability/logger.js";
import type { CommandInfo_URI } from "../../common/protocol/generated/mesos-v1.js";
import { type DownloadOptions, downloadToFile, httpContentLength } from "./download.js";
import type { FetcherCache } from "./fetcher-cache.js";

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
  /** Runs tar/unzip/gunzip and the Hadoop client. */
  run: CommandRunner;
  /**
   * Runs a program as the container's user, when the agent switches to one.
   * Local files are then read through it (`cp` as that user), as the Mesos
   * fetcher runs as the task's user: a file that user cannot read is not
   * fetched. The sandbox must already belong to that user.
   */
  runAsUser?: CommandRunner | undefined;
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

/**
 * Unpacks `file` (an archive of `kind`) into the sandbox. A bare `.gz`
 * becomes `gzTarget`: the destination's name without `.gz`.
 */
async function extract(
  file: string,
  kind: "tar" | "zip" | "gz",
  gzTarget: string,
  sandbox: string,
  run: CommandRunner,
  uri: string,
): Promise<void> {
  let command: [string, string[]];
  // As libarchive in Mesos (which restores neither owners nor permissions):
  // files belong to whoever extracts them, modes go through the umask, and
  // no setuid bit recorded in the archive survives.
  if (kind === "tar") {
    command = ["tar", ["--no-same-owner", "--no-same-permissions", "-C", sandbox, "-xf", file]];
  } else if (kind === "zip") command = ["unzip", ["-o", "-q", "-d", sandbox, file]];
  else command = ["sh", ["-c", 'gunzip -d -c < "$1" > "$2"', "gunzip", file, gzTarget]];
  let result: Awaited<ReturnType<CommandRunner>>;
  try {
    result = await run(command[0], command[1], sandbox);
  } catch (e) {
    throw new FetchError(
      uri,
      `Failed to extract '${file}': '${command[0]}' failed: ${messageOf(e)}`,
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
      `Failed to extract '${file}': '${tool}' ${how}${output === "" ? "" : `: ${output}`}`,
    );
  }
}

/** The Hadoop client the agent uses (Mesos' `HDFS::create`). */
function hadoopClient(hadoopHome: string | undefined): string {
  const home = hadoopHome !== undefined && hadoopHome !== "" ? hadoopHome : process.env.HADOOP_HOME;
  return home !== undefined && home !== "" ? join(home, "bin", "hadoop") : "hadoop";
}

/** Runs the Hadoop client, failing unless it is there (`hadoop version` works). */
async function runHadoop(o: FetchOptions, args: string[]): Promise<string> {
  const hadoop = hadoopClient(o.hadoopHome);
  // As the task's user when there is one, as in Mesos: HDFS then applies its permissions.
  const run = o.runAsUser ?? o.run;
  const step = async (a: string[], what: string) => {
    let result: Awaited<ReturnType<CommandRunner>>;
    try {
      result = await run(hadoop, a, o.sandbox);
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
async function sizeOf(source: Exclude<UriSource, { kind: "error" }>, o: FetchOptions) {
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
    const size = await httpContentLength(source.url, o.download?.stallTimeoutMs ?? 60_000);
    if (size === 0) throw new Error(`URI reported content-length 0: ${source.url}`);
    return size;
  }
  const output = await runHadoop(o, ["fs", "-du", source.uri]);
  const size = Number(output.trim().split(/\s+/)[0]);
  if (!Number.isInteger(size) || size < 0) {
    throw new Error(`Hadoop client could not determine size: unexpected output '${output.trim()}'`);
  }
  return size;
}

/** Copies or downloads `source` to `destination`. */
async function retrieve(
  source: Exclude<UriSource, { kind: "error" }>,
  destination: string,
  uri: string,
  o: FetchOptions,
  log: FetchLog,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (source.kind === "local") {
    try {
      const info = await stat(source.path);
      if (info.isDirectory()) throw new Error(`'${source.path}' is a directory`);
      if (!info.isFile()) throw new Error(`'${source.path}' is not a regular file`);
      if (o.runAsUser === undefined) await copyFile(source.path, destination);
      else await copyAsUser(source.path, destination, o.sandbox, o.runAsUser);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw new FetchError(uri, `'${source.path}' does not exist`);
      if (code === "EACCES")
        throw new FetchError(uri, `permission denied reading '${source.path}'`);
      throw new FetchError(uri, messageOf(e));
    }
    return;
  }
  if (source.kind === "hadoop") {
    await log(`Downloading resource with Hadoop client from '${uri}' to '${destination}'`);
    try {
      if (o.runAsUser === undefined) {
        await runHadoop(o, ["fs", "-copyToLocal", source.uri, destination]);
      } else {
        await throughSandbox(o.sandbox, destination, async (name) => {
          await runHadoop(o, ["fs", "-copyToLocal", source.uri, name]);
        });
      }
    } catch (e) {
      throw new FetchError(uri, messageOf(e));
    }
    return;
  }
  await log(`Downloading resource from '${source.url}' to '${destination}'`);
  const result = await downloadToFile(source.url, destination, {
    ...o.download,
    ...(signal === undefined ? {} : { signal }),
  });
  if (!result.ok) throw new FetchError(uri, result.error);
}

/**
 * Lets a program running as the container's user write a file, then moves
 * it to `to`: the program writes `name`, a temporary file relative to the
 * sandbox (the user's, and its working directory: the user may not reach the
 * sandbox by its full path under a private --work_dir); `to` may be in a
 * root-owned directory, or the cache.
 */
async function throughSandbox(sandbox: string, to: string, write: (name: string) => Promise<void>) {
  const name = `.fetch-${randomUUID()}`;
  const temporary = join(sandbox, name);
  try {
    await write(name);
    try {
      await rename(temporary, to);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EXDEV") throw e;
      await copyFile(temporary, to);
    }
  } finally {
    await rm(temporary, { force: true });
  }
}

/** Copies `from` to `to` reading it as the container's user (`cp` as that user). */
function copyAsUser(from: string, to: string, sandbox: string, runAs: CommandRunner) {
  return throughSandbox(sandbox, to, async (name) => {
    const result = await runAs("cp", ["--", from, name], sandbox);
    if (result.code !== 0) {
      const output = result.output.trim().split("\n").slice(-1)[0] ?? "";
      throw new Error(
        output === "" ? `cp exited with status ${result.code ?? result.signal}` : output,
      );
    }
  });
}

async function chmodExecutable(path: string, uri: string): Promise<void> {
  try {
    await chmod(path, 0o755);
  } catch (e) {
    throw new FetchError(uri, `Failed to chmod executable '${path}': ${messageOf(e)}`);
  }
}

/** The name a bare `.gz` unpacks to: the destination's base name without `.gz`. */
function gunzipTarget(destination: string, sandbox: string): string {
  return join(sandbox, basename(destination).slice(0, -3));
}

/**
 * Fetches through the cache. Returns false when the cache cannot take this
 * URI (the caller then fetches it directly).
 */
async function fetchCached(
  cache: FetcherCache,
  source: Exclude<UriSource, { kind: "error" }>,
  destination: string,
  uri: CommandInfo_URI,
  o: FetchOptions,
  log: FetchLog,
): Promise<boolean> {
  const name = uriBasename(uri.value);
  // The download is shared with other containers, so this container's abort must not stop it.
  const acquired = await cache.acquire(
    o.user,
    uri.value,
    typeof name === "string" ? name : "uri",
    () => sizeOf(source, o),
    (path) => retrieve(source, path, uri.value, o, log, undefined),
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
      // As in Mesos, an archive is unpacked straight from the cache: the
      // sandbox gets its content, not a copy of the archive.
      await extract(
        lease.path,
        kind,
        gunzipTarget(destination, o.sandbox),
        o.sandbox,
        o.run,
        uri.value,
      );
      await log(`Extracted '${lease.path}' into '${o.sandbox}'`);
      await log(`Fetched '${uri.value}' to '${o.sandbox}'`);
      return true;
    }
    if (uri.executable !== true && (uri.extract ?? true)) await logNotArchive(uri.value, log);
    try {
      await copyFile(lease.path, destination);
    } catch (e) {
      throw new FetchError(uri.value, `Failed to copy from the cache: ${messageOf(e)}`);
    }
    if (uri.executable === true) await chmodExecutable(destination, uri.value);
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

async function fetchOne(uri: CommandInfo_URI, o: FetchOptions, log: FetchLog) {
  await log(`Fetching URI '${uri.value}'`);
  const source = uriSource(uri.value, o.frameworksHome);
  if (source.kind === "error") throw new FetchError(uri.value, source.error);
  if (source.kind === "local" && source.prepended === true) {
    await log(`Prepended Mesos frameworks home to relative path, making it: '${source.path}'`);
  }
  const destination = destinationOf(uri, o.sandbox);
  try {
    await mkdir(dirname(destination), { recursive: true });
  } catch (e) {
    throw new FetchError(
      uri.value,
      `Unable to create subdirectory ${dirname(relative(o.sandbox, destination))} in sandbox: ${messageOf(e)}`,
    );
  }
  if (uri.cache === true && o.cache !== undefined) {
    if (await fetchCached(o.cache, source, destination, uri, o, log)) return;
  }
  await log(`Fetching '${uri.value}' directly into the sandbox directory`);
  await retrieve(source, destination, uri.value, o, log, o.signal);
  if (uri.executable === true) {
    await chmodExecutable(destination, uri.value);
  } else if (uri.extract ?? true) {
    const kind = archiveKind(destination);
    if (kind === undefined) {
      await logNotArchive(uri.value, log);
    } else {
      await extract(
        destination,
        kind,
        gunzipTarget(destination, o.sandbox),
        o.sandbox,
        o.run,
        uri.value,
      );
      await log(`Extracted '${destination}' into '${o.sandbox}'`);
    }
  }
  await log(`Fetched '${uri.value}' to '${destination}'`);
}

/** The default log: glog lines appended to the sandbox `stderr`, as the Mesos fetcher writes. */
function sandboxLog(sandbox: string): FetchLog {
  const path = join(sandbox, "stderr");
  return (line, level = "INFO") =>
    appendFile(path, formatGlogLine(level, Date.now(), process.pid, "fetcher.ts", line)).catch(
      () => undefined,
    );
}

/**
 * Fetches every URI, in order, into the sandbox. Resolves when all are
 * there; rejects with a FetchError (already logged to the sandbox `stderr`)
 * at the first failure. Call it for every container launch, with or
 * without URIs: it counts the launch in `task_fetches_*`.
 */
export async function fetchUris(uris: readonly CommandInfo_URI[], o: FetchOptions): Promise<void> {
  const log = o.log ?? sandboxLog(o.sandbox);
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
      await fetchOne(uri, o, log);
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

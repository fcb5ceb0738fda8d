/**
 * The fetcher: puts a container's `CommandInfo.uris` into its sandbox
 * before the executor starts, as Mesos' fetcher does:
 *
 * - local paths (absolute, `file://`, or relative to `--frameworks_home`)
 *   are copied; `http://` and `https://` URLs are downloaded (see
 *   download.ts); other schemes are refused for now;
 * - the file is named after the URI's last path segment, or `output_file`
 *   (which may name a subdirectory of the sandbox, never a way out of it);
 * - `executable` makes the file executable (0755); otherwise, with `extract`
 *   (on by default), `.tar .tgz .tar.gz .tbz2 .tar.bz2 .txz .tar.xz` are
 *   unpacked with the system `tar`, `.zip` with `unzip`, and a bare `.gz`
 *   with `gunzip`, into the sandbox;
 * - `cache: true` with a fetcher cache (fetcher-cache.ts) downloads or
 *   copies the URI once per user into the cache and copies it from there
 *   into each sandbox; without a cache it is fetched directly.
 *
 * Progress and failures go to the sandbox `stderr` (as the Mesos fetcher's
 * output does), and the first failure stops the fetch with a one-line reason.
 */
import { appendFile, chmod, copyFile, mkdir, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { CommandInfo_URI } from "../../common/protocol/generated/mesos-v1.js";
import { type DownloadOptions, downloadToFile } from "./download.js";
import type { FetcherCache } from "./fetcher-cache.js";

/** Runs a program to completion (archive tools); the launcher helper in the agent. */
export type CommandRunner = (
  file: string,
  args: string[],
  cwd: string,
) => Promise<{ code: number | null; signal: string | null; output: string }>;

export interface FetchOptions {
  /** The sandbox to fetch into (must exist). */
  sandbox: string;
  /** `--frameworks_home`: the base of relative paths ("" or undefined: relative paths fail). */
  frameworksHome?: string | undefined;
  /** Runs tar/unzip/gunzip. */
  run: CommandRunner;
  download?: Omit<DownloadOptions, "signal">;
  /** Aborts a download in progress (the container was destroyed). */
  signal?: AbortSignal;
  /** The agent's fetcher cache, used for URIs with `cache: true`. */
  cache?: FetcherCache | undefined;
  /** The user the container runs as (cache entries are per user). */
  user?: string | undefined;
  /** Where progress lines go; defaults to appending to `<sandbox>/stderr`. */
  log?: (line: string) => Promise<void>;
}

/** A fetch that failed, with the reason to show the user. */
export class FetchError extends Error {
  constructor(
    readonly uri: string,
    reason: string,
  ) {
    super(`Failed to fetch '${uri}': ${reason}`);
    this.name = "FetchError";
  }
}

/**
 * Fetches since the agent process started (Mesos'
 * `containerizer/fetcher/task_fetches_*`): one per container whose URIs were
 * fetched, counted when all arrived or the first one failed.
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

/** Where a URI comes from: a local file, a network URL, or an unsupported scheme. */
export type UriSource =
  | { kind: "local"; path: string }
  | { kind: "net"; url: string }
  | { kind: "error"; error: string };

/** Classifies a URI (Mesos' `uriToLocalPath` / `isNetUri`). */
export function uriSource(rawUri: string, frameworksHome: string | undefined): UriSource {
  const uri = rawUri.trimStart();
  if (/^https?:\/\//i.test(uri)) return { kind: "net", url: uri };
  const fileUri = uri.startsWith("file://");
  if (!fileUri && uri.includes("://")) {
    const scheme = uri.slice(0, uri.indexOf("://"));
    return {
      kind: "error",
      error: `URIs with the '${scheme}' scheme are not supported yet (http, https, file and local paths are)`,
    };
  }
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
    path = join(frameworksHome, path);
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

/** The destination of a URI in the sandbox, refusing names that leave it. */
function destinationOf(uri: CommandInfo_URI, sandbox: string): string {
  const name = uri.output_file ?? uriBasename(uri.value);
  if (typeof name !== "string") throw new FetchError(uri.value, name.error);
  if (name === "" || name === "." || name === "..") {
    throw new FetchError(uri.value, "The URI names no file to fetch to");
  }
  const target = normalize(join(sandbox, name));
  const rel = relative(sandbox, target);
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) {
    throw new FetchError(uri.value, `The output file '${name}' is outside the sandbox`);
  }
  return target;
}

async function extract(file: string, sandbox: string, run: CommandRunner, uri: string) {
  const kind = archiveKind(file);
  if (kind === undefined) return false;
  let command: [string, string[]];
  if (kind === "tar") command = ["tar", ["-C", sandbox, "-xf", file]];
  else if (kind === "zip") command = ["unzip", ["-o", "-q", "-d", sandbox, file]];
  else {
    const out = join(sandbox, basename(file.slice(0, -3)));
    command = ["sh", ["-c", 'gunzip -d -c "$1" > "$2"', "gunzip", file, out]];
  }
  let result: Awaited<ReturnType<CommandRunner>>;
  try {
    result = await run(command[0], command[1], sandbox);
  } catch (e) {
    throw new FetchError(
      uri,
      `Failed to extract '${file}': '${command[0]}' failed: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  if (result.code !== 0) {
    const how =
      result.signal !== null
        ? `terminated by ${result.signal}`
        : `exited with status ${result.code}`;
    const output = result.output.trim().split("\n").slice(-3).join(" / ");
    throw new FetchError(
      uri,
      `Failed to extract '${file}': '${command[0]}' ${how}${output === "" ? "" : `: ${output}`}`,
    );
  }
  return true;
}

/** Fetches one URI into the sandbox; returns what it did, for the log. */
/** Copies or downloads `source` to `destination`. */
async function retrieve(
  source: Exclude<UriSource, { kind: "error" }>,
  destination: string,
  uri: string,
  o: FetchOptions,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (source.kind === "local") {
    try {
      const info = await stat(source.path);
      if (!info.isFile()) throw new Error(`'${source.path}' is not a regular file`);
      await copyFile(source.path, destination);
    } catch (e) {
      throw new FetchError(uri, e instanceof Error ? e.message : String(e));
    }
    return;
  }
  const result = await downloadToFile(source.url, destination, {
    ...o.download,
    ...(signal === undefined ? {} : { signal }),
  });
  if (!result.ok) throw new FetchError(uri, result.error);
}

/** Fetches through the cache: one download per (user, URI), then a copy into the sandbox. */
async function fetchCached(
  cache: FetcherCache,
  source: Exclude<UriSource, { kind: "error" }>,
  destination: string,
  uri: CommandInfo_URI,
  o: FetchOptions,
  log: (l: string) => Promise<void>,
): Promise<void> {
  const name = uriBasename(uri.value);
  // The download is shared with other containers, so this container's abort must not stop it.
  const lease = await cache.acquire(
    o.user,
    uri.value,
    typeof name === "string" ? name : "uri",
    (path) => retrieve(source, path, uri.value, o, undefined),
  );
  try {
    await log(
      lease.hit
        ? `Fetching '${uri.value}' from the cache (${lease.path})`
        : `Fetched '${uri.value}' into the cache (${lease.path})`,
    );
    await copyFile(lease.path, destination);
  } catch (e) {
    throw new FetchError(uri.value, e instanceof Error ? e.message : String(e));
  } finally {
    lease.release();
  }
}

async function fetchOne(uri: CommandInfo_URI, o: FetchOptions, log: (l: string) => Promise<void>) {
  const cached = uri.cache === true && o.cache !== undefined;
  await log(
    cached
      ? `Fetching '${uri.value}' through the fetcher cache`
      : `Fetching '${uri.value}' directly into the sandbox directory`,
  );
  const source = uriSource(uri.value, o.frameworksHome);
  if (source.kind === "error") throw new FetchError(uri.value, source.error);
  const destination = destinationOf(uri, o.sandbox);
  await mkdir(dirname(destination), { recursive: true });
  if (cached && o.cache !== undefined) {
    await fetchCached(o.cache, source, destination, uri, o, log);
  } else {
    await retrieve(source, destination, uri.value, o, o.signal);
  }
  if (uri.executable === true) {
    try {
      await chmod(destination, 0o755);
    } catch (e) {
      throw new FetchError(
        uri.value,
        `Failed to chmod executable '${destination}': ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    await log(`Fetched '${uri.value}' to '${destination}'`);
    return;
  }
  if (uri.extract ?? true) {
    if (await extract(destination, o.sandbox, o.run, uri.value)) {
      await log(`Extracted '${destination}' into '${o.sandbox}'`);
    } else {
      await log(
        `Copying instead of extracting resource from URI with 'extract' flag, because it does not seem to be an archive: ${uri.value}`,
      );
    }
  }
  await log(`Fetched '${uri.value}' to '${destination}'`);
}

/**
 * Fetches every URI, in order, into the sandbox. Resolves when all are
 * there; rejects with a FetchError (already logged to the sandbox `stderr`)
 * at the first failure.
 */
export async function fetchUris(uris: readonly CommandInfo_URI[], o: FetchOptions): Promise<void> {
  const log =
    o.log ??
    ((line: string) => appendFile(join(o.sandbox, "stderr"), `${line}\n`).catch(() => undefined));
  for (const uri of uris) {
    if (o.signal?.aborted === true) {
      fetchCounts.failed++;
      throw new FetchError(uri.value, "the container was destroyed");
    }
    try {
      await fetchOne(uri, o, log);
    } catch (e) {
      fetchCounts.failed++;
      const error = e instanceof FetchError ? e : new FetchError(uri.value, String(e));
      await log(error.message);
      throw error;
    }
  }
  fetchCounts.succeeded++;
  if (uris.length > 0) await log(`Successfully fetched all URIs into '${o.sandbox}'`);
}

/**
 * Downloads an http(s) URL to a file, following redirects, and gives up when
 * no byte arrives for `stallTimeoutMs` (`--fetcher_stall_timeout`). Errors
 * come back as one readable line, worded like Mesos' fetcher
 * ("Error downloading resource, received HTTP return code 404").
 */
import { createWriteStream } from "node:fs";
import { unlink } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";

export interface DownloadOptions {
  /** Abort when no data arrives for this long (default 60 s, Mesos' default). */
  stallTimeoutMs?: number;
  signal?: AbortSignal;
}

export type DownloadResult = { ok: true; bytes: number } | { ok: false; error: string };

/** Downloads `url` into `path` (created or truncated). */
export async function downloadToFile(
  url: string,
  path: string,
  options: DownloadOptions = {},
): Promise<DownloadResult> {
  const stallMs = options.stallTimeoutMs ?? 60_000;
  const controller = new AbortController();
  let stalled = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      controller.abort();
    }, stallMs);
  };
  const onAbort = () => controller.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  arm();
  let bytes = 0;
  try {
    const response = await fetch(url, { redirect: "follow", signal: controller.signal });
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      return {
        ok: false,
        error: `Error downloading resource, received HTTP return code ${response.status}`,
      };
    }
    if (response.body === null)
      return { ok: false, error: "Error downloading resource: empty body" };
    const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
    body.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      arm();
    });
    await pipeline(body, createWriteStream(path));
    return { ok: true, bytes };
  } catch (e) {
    await unlink(path).catch(() => undefined);
    if (stalled) {
      return { ok: false, error: `Error downloading resource: no data for ${stallMs}ms (stalled)` };
    }
    if (options.signal?.aborted === true) {
      return { ok: false, error: "Error downloading resource: aborted" };
    }
    const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : "";
    return {
      ok: false,
      error: `Error downloading resource: ${e instanceof Error ? e.message : String(e)}${cause}`,
    };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * The `Content-Length` of `url` from a HEAD request (redirects followed),
 * which the fetcher cache reserves before downloading. Rejects when the
 * server gives none, or answers with an error.
 */
export async function httpContentLength(url: string, timeoutMs = 60_000): Promise<number> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "HEAD",
      redirect: "follow",
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : "";
    throw new Error(`${e instanceof Error ? e.message : String(e)}${cause}`);
  }
  await response.body?.cancel().catch(() => undefined);
  if (response.status !== 200) {
    throw new Error(`HEAD request answered with HTTP return code ${response.status}`);
  }
  const header = response.headers.get("content-length");
  const size = header === null ? Number.NaN : Number(header);
  if (!Number.isInteger(size) || size < 0) throw new Error("No URL content-length available");
  return size;
}

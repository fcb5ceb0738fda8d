/**
 * Downloads an http(s) URL to a file, following redirects, and gives up when
 * no byte arrives for `stallTimeoutMs` (`--fetcher_stall_timeout`). Errors
 * come back as one readable line, worded like Mesos' fetcher
 * ("Error downloading resource, received HTTP return code 404").
 *
 * Like libcurl under the Mesos fetcher, it goes through the proxy the
 * agent's environment names: `http_proxy` for http URLs, `https_proxy` (or
 * `HTTPS_PROXY`) for https URLs (a CONNECT tunnel), `all_proxy` otherwise,
 * except for hosts `no_proxy` lists. SOCKS proxies are refused.
 */
import { createWriteStream } from "node:fs";
import { unlink } from "node:fs/promises";
import { type ClientRequest, request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { connect as tlsConnect } from "node:tls";

export interface DownloadOptions {
  /** Abort when no data arrives for this long (default 60 s, Mesos' default). */
  stallTimeoutMs?: number;
  signal?: AbortSignal;
}

export type DownloadResult = { ok: true; bytes: number } | { ok: false; error: string };

/** An answer to GET or HEAD, from fetch or through a proxy. */
interface Answer {
  status: number;
  header(name: string): string | null;
  body: Readable | null;
}

/** Environment variables of the proxy settings (the agent's own by default). */
export type ProxyEnv = Record<string, string | undefined>;

/**
 * The proxy libcurl would use for `url`, if any: `http_proxy` (lower case
 * only, as curl reads it) for http, `https_proxy`/`HTTPS_PROXY` for https,
 * then `all_proxy`/`ALL_PROXY`; none when `no_proxy`/`NO_PROXY` names the
 * host (`*`, a host, or a domain suffix).
 */
export function proxyFor(url: URL, env: ProxyEnv = process.env): URL | undefined {
  const noProxy = env.no_proxy ?? env.NO_PROXY ?? "";
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, "");
  for (const raw of noProxy.split(",")) {
    const entry = raw.trim().toLowerCase().replace(/^\./, "");
    if (entry === "") continue;
    if (entry === "*" || host === entry || host.endsWith(`.${entry}`)) return undefined;
  }
  const value =
    (url.protocol === "http:" ? env.http_proxy : (env.https_proxy ?? env.HTTPS_PROXY)) ??
    env.all_proxy ??
    env.ALL_PROXY;
  if (value === undefined || value.trim() === "") return undefined;
  const text = value.includes("://") ? value.trim() : `http://${value.trim()}`;
  try {
    return new URL(text);
  } catch {
    throw new Error(`the proxy '${value}' is not a valid URL`);
  }
}

/** One request through `proxy` (no redirects): absolute-URI for http, a CONNECT tunnel for https. */
function viaProxy(
  url: URL,
  proxy: URL,
  method: "GET" | "HEAD",
  signal: AbortSignal,
): Promise<IncomingMessage> {
  if (proxy.protocol !== "http:" && proxy.protocol !== "https:") {
    return Promise.reject(
      new Error(
        `${proxy.protocol.replace(/:$/, "")} proxies are not supported (only http and https)`,
      ),
    );
  }
  const auth =
    proxy.username === ""
      ? {}
      : {
          "proxy-authorization": `Basic ${Buffer.from(
            `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`,
          ).toString("base64")}`,
        };
  const toProxy = proxy.protocol === "https:" ? httpsRequest : httpRequest;
  const proxyPort =
    proxy.port === "" ? (proxy.protocol === "https:" ? 443 : 1080) : Number(proxy.port);
  return new Promise<IncomingMessage>((resolve, reject) => {
    let req: ClientRequest;
    const onAbort = () => req.destroy(new Error("aborted"));
    signal.addEventListener("abort", onAbort, { once: true });
    const done = (f: () => void) => {
      signal.removeEventListener("abort", onAbort);
      f();
    };
    if (url.protocol === "http:") {
      req = toProxy({
        host: proxy.hostname,
        port: proxyPort,
        method,
        path: url.href,
        headers: { host: url.host, ...auth },
      });
      req.once("response", (res) => done(() => resolve(res)));
      req.once("error", (e) => done(() => reject(e)));
      req.end();
      return;
    }
    const target = `${url.hostname}:${url.port === "" ? 443 : url.port}`;
    req = toProxy({
      host: proxy.hostname,
      port: proxyPort,
      method: "CONNECT",
      path: target,
      headers: { host: target, ...auth },
    });
    req.once("error", (e) => done(() => reject(e)));
    req.once("connect", (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        done(() => reject(new Error(`the proxy answered CONNECT with ${res.statusCode}`)));
        return;
      }
      const inner = httpsRequest({
        host: url.hostname,
        port: url.port === "" ? 443 : Number(url.port),
        method,
        path: `${url.pathname}${url.search}`,
        headers: { host: url.host },
        createConnection: () => tlsConnect({ socket, servername: url.hostname }),
      });
      req = inner;
      inner.once("response", (r) => done(() => resolve(r)));
      inner.once("error", (e) => done(() => reject(e)));
      inner.end();
    });
    req.end();
  });
}

/** GET or HEAD `url`, following redirects, through the environment's proxy when one applies. */
async function request(
  url: string,
  method: "GET" | "HEAD",
  signal: AbortSignal,
  env: ProxyEnv,
): Promise<Answer> {
  let current = new URL(url);
  for (let hop = 0; hop <= 20; hop++) {
    const proxy = proxyFor(current, env);
    if (proxy === undefined) {
      const response = await fetch(current, { method, redirect: "follow", signal });
      return {
        status: response.status,
        header: (name) => response.headers.get(name),
        body:
          response.body === null
            ? null
            : Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
      };
    }
    const res = await viaProxy(current, proxy, method, signal);
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if ([301, 302, 303, 307, 308].includes(status) && location !== undefined) {
      res.resume();
      current = new URL(location, current);
      continue;
    }
    return {
      status,
      header: (name) => {
        const v = res.headers[name.toLowerCase()];
        return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
      },
      body: res,
    };
  }
  throw new Error("too many redirects");
}

/** Downloads `url` into `path` (created or truncated). */
export async function downloadToFile(
  url: string,
  path: string,
  options: DownloadOptions & { env?: ProxyEnv } = {},
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
  let body: Readable | null = null;
  const stop = () => body?.destroy(new Error("aborted"));
  controller.signal.addEventListener("abort", stop, { once: true });
  try {
    const response = await request(url, "GET", controller.signal, options.env ?? process.env);
    body = response.body;
    if (response.status !== 200) {
      body?.destroy();
      return {
        ok: false,
        error: `Error downloading resource, received HTTP return code ${response.status}`,
      };
    }
    if (body === null) return { ok: false, error: "Error downloading resource: empty body" };
    if (controller.signal.aborted) throw new Error("aborted");
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
    controller.signal.removeEventListener("abort", stop);
  }
}

/**
 * The `Content-Length` of `url` from a HEAD request (redirects followed),
 * which the fetcher cache reserves before downloading. Rejects when the
 * server gives none, or answers with an error.
 */
export async function httpContentLength(
  url: string,
  timeoutMs = 60_000,
  env: ProxyEnv = process.env,
): Promise<number> {
  let response: Answer;
  try {
    response = await request(url, "HEAD", AbortSignal.timeout(timeoutMs), env);
  } catch (e) {
    const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : "";
    throw new Error(`${e instanceof Error ? e.message : String(e)}${cause}`);
  }
  response.body?.destroy();
  if (response.status !== 200) {
    throw new Error(`HEAD request answered with HTTP return code ${response.status}`);
  }
  const header = response.header("content-length");
  const size = header === null ? Number.NaN : Number(header);
  if (!Number.isInteger(size) || size < 0) throw new Error("No URL content-length available");
  return size;
}

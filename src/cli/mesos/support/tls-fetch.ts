/**
 * `fetch` over HTTPS with libprocess' TLS settings (`LIBPROCESS_SSL_CA_FILE`,
 * `_VERIFY_SERVER_CERT`, a client certificate): Node's built-in fetch takes
 * no TLS options, so HTTPS requests of the CLI go through `node:https` and
 * come back as a standard `Response` (its body streams). Redirects are
 * followed, as `redirect: "follow"` would.
 */
import type { IncomingHttpHeaders } from "node:http";
import { request } from "node:https";
import { Readable } from "node:stream";
import type { ConnectionOptions } from "node:tls";

/** The parts of a request this supports. */
export interface TlsFetchInit {
  readonly method: string;
  readonly headers?: Record<string, string> | undefined;
  readonly body?: string | Uint8Array | undefined;
  readonly signal?: AbortSignal | undefined;
}

const MAX_REDIRECTS = 10;

function headersOf(raw: IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.append(name, v);
  }
  return out;
}

/** One request to `url`, answered as a `Response` once its head arrived. */
function once(url: URL, init: TlsFetchInit, tls: ConnectionOptions): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ...tls,
        method: init.method,
        headers: init.headers ?? {},
        ...(init.signal === undefined ? {} : { signal: init.signal }),
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const noBody = status === 204 || status === 304 || init.method === "HEAD";
        if (noBody) res.resume();
        const body = noBody ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
        resolve(new Response(body, { status, headers: headersOf(res.headers) }));
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
}

/** Fetches `url` over HTTPS with `tls`, following redirects. */
export async function tlsFetch(
  url: string,
  init: TlsFetchInit,
  tls: ConnectionOptions,
): Promise<Response> {
  let target = new URL(url);
  let current = init;
  for (let hop = 0; ; hop++) {
    if (target.protocol !== "https:") {
      // Redirected to plain HTTP: the built-in fetch does that (and any further hops).
      return fetch(target, { ...current, redirect: "follow" });
    }
    const response = await once(target, current, tls);
    const location = response.headers.get("location");
    if (![301, 302, 303, 307, 308].includes(response.status) || location === null) {
      return response;
    }
    if (hop >= MAX_REDIRECTS) return response;
    await response.body?.cancel();
    target = new URL(location, target);
    if (response.status === 303) current = { ...current, method: "GET", body: undefined };
  }
}

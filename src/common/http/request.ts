/**
 * The request a route handler sees: method, path, query, headers and the
 * whole body (read and size-checked before the handler runs).
 */

import { decodeForm } from "./form.js";

/** Header names are lower case; repeated headers are joined with ", " (`set-cookie` aside). */
export type HttpHeaders = Readonly<Record<string, string>>;

/** What the server knows about one request. */
export interface HttpRequestInit {
  method: string;
  /** Absolute path after delegation, e.g. `/master/state` for a request to `/state`. */
  path: string;
  /** The raw query string without `?` (may be empty). */
  rawQuery: string;
  /** The query already decoded by the server (else decoded on first use). */
  query?: ReadonlyMap<string, string>;
  headers: HttpHeaders;
  body: Uint8Array;
  remoteAddress: string;
  remotePort: number;
}

/** An HTTP request handed to a route. */
export class HttpRequest {
  readonly method: string;
  /** Absolute path after delegation (`/master/state`). */
  path: string;
  readonly rawQuery: string;
  readonly headers: HttpHeaders;
  readonly body: Uint8Array;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The process the request was routed to (`master`), set by the router. */
  processId = "";
  /** The route that matched, relative to the process, with a leading `/` (`/api/v1`). */
  routePath = "";
  /** What follows the matched route (`/x/y` for `/files/x/y` on route `/files`), or "". */
  remainder = "";
  /**
   * Set by the router when the matched route does not serve this method.
   * Guards then only authenticate (401 first, as libprocess authenticates
   * before any handler runs) and pass the request on to get its 405;
   * authorization belongs to requests a handler would serve.
   */
  methodRefused = false;
  private parsedQuery: URLSearchParams | undefined;
  private readonly decodedQuery: ReadonlyMap<string, string> | undefined;

  constructor(init: HttpRequestInit) {
    this.method = init.method;
    this.path = init.path;
    this.rawQuery = init.rawQuery;
    this.headers = init.headers;
    this.body = init.body;
    this.remoteAddress = init.remoteAddress;
    this.remotePort = init.remotePort;
    this.decodedQuery = init.query;
  }

  /**
   * Query parameters, parsed on first use as libprocess parses them: pairs
   * split on `&` or `;`, `+` is a space, a repeated key keeps its last
   * value. A query with a malformed `%` escape reads as empty (the server
   * refuses such requests before routing them).
   */
  get query(): URLSearchParams {
    if (this.parsedQuery === undefined) {
      let pairs = this.decodedQuery;
      if (pairs === undefined) {
        const decoded = decodeForm(this.rawQuery);
        pairs = decoded.ok ? decoded.value : new Map();
      }
      this.parsedQuery = new URLSearchParams([...pairs]);
    }
    return this.parsedQuery;
  }

  /** A header by case-insensitive name. */
  header(name: string): string | undefined {
    return this.headers[name.toLowerCase()];
  }

  /** The body decoded as UTF-8. */
  text(): string {
    return Buffer.from(this.body.buffer, this.body.byteOffset, this.body.byteLength).toString(
      "utf8",
    );
  }
}

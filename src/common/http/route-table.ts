/**
 * The routes of one process, looked up by longest prefix over whole path
 * segments: a request for `api/v1/operator` is served by a route `api/v1`
 * when no longer route matches. Lookup costs one map probe per segment.
 */

import { trimSlashes } from "./path.js";
import type { HttpRequest } from "./request.js";
import type { HttpResponse } from "./response.js";

/** Produces the response for a routed request. */
export type RouteHandler = (request: HttpRequest) => HttpResponse | Promise<HttpResponse>;

/** How a route is declared. */
export interface RouteOptions {
  /** Methods served (upper case). Absent: any method, the handler checks itself. */
  methods?: readonly string[];
  /** The endpoint's help text, shown by `/help`. */
  help: string;
}

/** A declared route, for `/help` and the generated reference. */
export interface RouteInfo {
  /** Path relative to the process, with a leading `/` (`/api/v1`; `/` for the process root). */
  path: string;
  /** Methods served, or undefined for any. */
  methods: readonly string[] | undefined;
  help: string;
}

/** The outcome of a lookup. */
export type RouteMatch =
  | {
      kind: "found";
      handler: RouteHandler;
      /** `/api/v1` */
      routePath: string;
      /** What followed the route in the request path, e.g. `/operator`, or "". */
      remainder: string;
    }
  | {
      kind: "method-not-allowed";
      allowed: readonly string[];
      /** The route that exists without the method (its guard still authenticates first). */
      routePath: string;
      remainder: string;
    }
  | { kind: "not-found" };

const ANY = "*";

interface Entry {
  handlers: Map<string, RouteHandler>;
  infos: RouteInfo[];
}

/** The route table of one process. */
export class RouteTable {
  private readonly entries = new Map<string, Entry>();

  /**
   * Declares a route. Declaring the same path and method twice is a bug
   * and throws.
   */
  add(path: string, options: RouteOptions, handler: RouteHandler): void {
    const key = trimSlashes(path);
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = { handlers: new Map(), infos: [] };
      this.entries.set(key, entry);
    }
    const methods = options.methods?.map((m) => m.toUpperCase());
    for (const m of methods ?? [ANY]) {
      if (
        entry.handlers.has(m) ||
        (m === ANY && entry.handlers.size > 0) ||
        entry.handlers.has(ANY)
      ) {
        throw new Error(`route '/${key}' is already declared for ${m === ANY ? "all methods" : m}`);
      }
    }
    for (const m of methods ?? [ANY]) entry.handlers.set(m, handler);
    entry.infos.push({ path: `/${key}`, methods, help: options.help });
  }

  /** Every declared route, in declaration order per path. */
  list(): RouteInfo[] {
    const out: RouteInfo[] = [];
    for (const e of this.entries.values()) out.push(...e.infos);
    return out;
  }

  /**
   * Finds the route for `name` (the path inside the process, slashes
   * trimmed, e.g. `api/v1/operator`). The longest declared prefix wins;
   * if it does not serve `method`, the answer is 405, not a shorter prefix.
   * The process root (`""`) only matches an empty name, as in libprocess.
   */
  lookup(name: string, method: string): RouteMatch {
    let candidate = name;
    for (;;) {
      const entry = this.entries.get(candidate);
      if (entry !== undefined) {
        const handler =
          entry.handlers.get(method) ??
          entry.handlers.get(ANY) ??
          (method === "HEAD" ? entry.handlers.get("GET") : undefined);
        if (handler === undefined) {
          return {
            kind: "method-not-allowed",
            allowed: [...entry.handlers.keys()],
            routePath: `/${candidate}`,
            remainder: name.slice(candidate.length),
          };
        }
        return {
          kind: "found",
          handler,
          routePath: `/${candidate}`,
          remainder: name.slice(candidate.length),
        };
      }
      const slash = candidate.lastIndexOf("/");
      if (slash < 0) return { kind: "not-found" };
      candidate = candidate.slice(0, slash);
    }
  }
}

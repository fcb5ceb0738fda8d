/**
 * How a host classifies and routes inbound requests, following libprocess:
 *
 * - A POST carrying `Libprocess-From`, or a `User-Agent` starting with
 *   `libprocess/`, is a message (whatever its path).
 * - Anything else is HTTP. Paths containing `/..` are refused (404). The
 *   first path segment (percent-decoded) names the process; when no process
 *   has that name, or the path is `/`, the request goes to the delegate (main)
 *   process with the whole path (`/state` -> `/master/state`).
 * - Inside the process the longest declared route prefix wins, with slashes
 *   at both ends ignored; a route that exists without the method gets 405,
 *   after the process' guard has authenticated the caller (libprocess
 *   authenticates before the handler, which is where Mesos checks methods).
 */
import { decodeSegment, isRelativePath, segments, trimSlashes } from "../http/path.js";
import type { HttpHeaders, HttpRequest } from "../http/request.js";
import { type HttpResponse, methodNotAllowed, notFound } from "../http/response.js";
import { httpGuardOf } from "../http/router.js";
import type { ProcessBase } from "./process-base.js";

const AGENT_PREFIX = "libprocess/";

/**
 * The sender text of a libprocess message, or undefined if the request is
 * plain HTTP. `Libprocess-From` wins over the `User-Agent` form.
 */
export function libprocessSender(method: string, headers: HttpHeaders): string | undefined {
  if (method !== "POST") return undefined;
  const from = headers["libprocess-from"];
  if (from !== undefined) return from;
  const agent = headers["user-agent"];
  if (agent?.startsWith(AGENT_PREFIX)) return agent.slice(AGENT_PREFIX.length);
  return undefined;
}

/**
 * Routes an HTTP request to a process' route and runs the handler. Fills in
 * `request.path` (after delegation), `processId`, `routePath` and `remainder`.
 */
export function routeHttp(
  request: HttpRequest,
  lookup: (id: string) => ProcessBase | undefined,
  delegate: string | undefined,
): HttpResponse | Promise<HttpResponse> {
  const path = request.path;
  if (isRelativePath(path)) return notFound();
  const first = segments(path)[0];
  let process: ProcessBase | undefined;
  let name = "";
  if (first !== undefined) {
    const id = decodeSegment(first);
    process = id === undefined ? undefined : lookup(id);
    if (process !== undefined) {
      name = trimSlashes(path.slice(path.indexOf(first) + first.length));
    }
  }
  if (process === undefined) {
    process = delegate === undefined ? undefined : lookup(delegate);
    if (process === undefined) return notFound();
    name = trimSlashes(path);
    request.path = name === "" ? `/${process.id}` : `/${process.id}/${name}`;
  }
  const match = process.lookupRoute(name, request.method);
  if (match.kind === "not-found") return notFound();
  request.processId = process.id;
  request.routePath = match.routePath;
  request.remainder = match.remainder;
  const guard = httpGuardOf(process);
  if (match.kind === "method-not-allowed") {
    const refuse = () => methodNotAllowed(match.allowed, request.method);
    request.methodRefused = true;
    return guard === undefined ? refuse() : guard(request, refuse);
  }
  return guard === undefined
    ? match.handler(request)
    : guard(request, () => match.handler(request));
}

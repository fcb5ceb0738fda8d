/** The HTTP serving core: request and response types, routes, the server. */

export { decodeSegment, isRelativePath, segments, splitTarget, trimSlashes } from "./path.js";
export * from "./request.js";
export * from "./response.js";
export {
  type RouteHandler,
  type RouteInfo,
  type RouteMatch,
  type RouteOptions,
  RouteTable,
} from "./route-table.js";
export { DEFAULT_MAX_BODY_BYTES, HttpServer, type HttpServerOptions } from "./server.js";

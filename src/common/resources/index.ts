/**
 * Resources and attributes: proto-shaped types, Mesos arithmetic, parsers and
 * formatters. Import from here rather than from the individual files.
 */

export * from "./types.js";
export * from "./scalar.js";
export * from "./ranges.js";
export * from "./roles.js";
export * from "./values.js";
export * from "./resource.js";
export { Resources } from "./resources.js";

/**
 * Resources and attributes: proto-shaped types, Mesos arithmetic, parsers and
 * formatters. Import from here rather than from the individual files.
 */

export * from "./attributes.js";
export * from "./detect.js";
export * from "./json-shape.js";
export * from "./parse.js";
export * from "./ranges.js";
export * from "./resource.js";
export { Resources } from "./resources.js";
export * from "./roles.js";
export * from "./scalar.js";
export * from "./summary.js";
export * from "./types.js";
export * from "./values.js";

// The project-wide Result lives in src/common/errors/result.ts; re-exported here for this module's callers.
export { err, ok, type Result } from "../errors/result.js";

/**
 * Framework client library: write a Mesos framework (scheduler) in
 * TypeScript against the v1 scheduler HTTP API.
 *
 *   import { SchedulerClient } from "mesos-ts/scheduler";
 *
 * Start with docs/scheduler-library.md. Executors have their own library in
 * src/executor (docs/executor-library.md).
 */

export { isTerminalState } from "../common/protocol/task-states.js";
export {
  DEFAULT_MASTER_PORT,
  formatMasterAddress,
  type MasterAddress,
  type MasterAddressResult,
  masterFromLocation,
  parseMasterAddress,
} from "./master-address.js";
export { SCHEDULER_API_PATH } from "./master-connection.js";
export {
  findOfferResources,
  offerResources,
  parseResourceText,
  scalarResource,
} from "./resources.js";
export {
  type BackoffSettings,
  SchedulerClient,
  type SchedulerClientOptions,
} from "./scheduler-client.js";
export * from "./types.js";
export { type ContentType, mediaType, parseContentType } from "./wire.js";

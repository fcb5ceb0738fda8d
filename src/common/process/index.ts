/** The libprocess-style runtime: processes, addresses, the message transport. */
export { type BackoffOptions, DEFAULT_BACKOFF } from "./backoff.js";
export {
  isAnyIp,
  type ListenAddress,
  type ListenAddressInput,
  lookupHostIp,
  resolveListenAddress,
} from "./listen-address.js";
export { encodeMessage } from "./message-encoder.js";
export { DEFAULT_QUEUE_LIMITS, type PeerStats, type QueueLimits } from "./peer-connection.js";
export {
  type MessageDecoder,
  type MessageHandler,
  ProcessBase,
  rawBody,
} from "./process-base.js";
export {
  type HostStats,
  type MessageEnvelope,
  type MessageFilter,
  ProcessHost,
  type ProcessHostOptions,
} from "./process-host.js";
export { err, ok, type Result } from "./result.js";
export { formatAddress, isValidProcessId, parseUpid, Upid } from "./upid.js";

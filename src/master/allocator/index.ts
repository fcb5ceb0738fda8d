/**
 * The hierarchical DRF allocator: a pure module (no timers, no I/O) the
 * master drives with events and allocation cycles. See
 * docs/architecture/allocator.md.
 */

export type { AllocatorCallbacks } from "./allocator-core.js";
export { DEFAULT_MIN_ALLOCATABLE } from "./allocator-core.js";
export { AllocatorDriver, type AllocatorDriverOptions } from "./driver.js";
export {
  DEFAULT_REFUSE_SECONDS,
  HierarchicalAllocator,
  type RoleAccounting,
  refuseMs,
  type SlicedRunOptions,
} from "./hierarchical-allocator.js";
export {
  applyConversions,
  conversionsFromOperation,
  type ResourceOperation,
} from "./resource-math.js";
export { DrfSorter } from "./sorter/drf-sorter.js";
export { RandomSorter } from "./sorter/random-sorter.js";
export { type Sorter, type SorterKind, SorterPool } from "./sorter/sorter.js";
export * from "./types.js";

/**
 * The allocator's inputs and outputs. Inputs are the proto-shaped plain
 * objects the master already holds (snake_case fields, enum names as
 * strings), reduced to the fields the allocator reads; outputs are small
 * typed records.
 */

import type { Logger } from "../../common/observability/logger.js";
import type { Resources } from "../../common/resources/index.js";
import type { Clock } from "../../common/time/clock.js";
import type { RandomSource } from "../../common/time/random.js";
import type { OfferConstraintsFilter } from "./offer-constraints.js";
import type { SorterKind } from "./sorter/sorter.js";

/** `Value.Scalar`. */
export interface ScalarValue {
  value: number;
}

/** `FrameworkInfo.Capability` / `SlaveInfo.Capability`. */
export interface CapabilityInfo {
  type: string;
}

/** `OfferFilters` (per role, from `FrameworkInfo.offer_filters`). */
export interface OfferFiltersInfo {
  min_allocatable_resources?: {
    quantities?: { quantities?: Record<string, ScalarValue> }[];
  };
}

/** `DomainInfo` (only the region matters to the allocator). */
export interface DomainInfo {
  fault_domain?: { region?: { name: string }; zone?: { name: string } };
}

/** The parts of `FrameworkInfo` the allocator reads. */
export interface FrameworkInfo {
  id?: { value: string };
  name?: string;
  /** Subscribed roles (MULTI_ROLE frameworks). */
  roles?: string[];
  /** Legacy single role (frameworks without MULTI_ROLE); default `*`. */
  role?: string;
  capabilities?: CapabilityInfo[];
  offer_filters?: Record<string, OfferFiltersInfo>;
}

/** The parts of `SlaveInfo` the allocator reads. */
export interface AgentInfo {
  id?: { value: string };
  hostname?: string;
  attributes?: unknown[];
  domain?: DomainInfo;
}

/** `TimeInfo` / `DurationInfo`. */
export interface NanosInfo {
  nanoseconds: number;
}

/** `Unavailability`: a maintenance window. */
export interface Unavailability {
  start: NanosInfo;
  duration?: NanosInfo;
}

/** `Filters` attached to a DECLINE or an ACCEPT. */
export interface Filters {
  refuse_seconds?: number;
}

/** A role's quota (`QuotaConfig` without the role). Absent names: no guarantee / no limit. */
export interface QuotaInfo {
  guarantees?: Record<string, ScalarValue>;
  limits?: Record<string, ScalarValue>;
}

/** `WeightInfo`. */
export interface WeightInfo {
  role: string;
  weight: number;
}

/** `InverseOfferStatus`. */
export interface InverseOfferStatus {
  status: "UNKNOWN" | "ACCEPT" | "DECLINE";
  framework_id?: { value: string };
  timestamp?: NanosInfo;
}

/** A change of resources: `consumed` becomes `converted` (RESERVE, CREATE, ...). */
export interface ResourceConversion {
  consumed: Resources;
  converted: Resources;
}

/** Per-framework options that are not part of `FrameworkInfo`. */
export interface FrameworkOptions {
  /** Roles the allocator must not offer to. */
  suppressedRoles?: Iterable<string>;
  /** Agents the framework must not be offered, by role (its offer constraints). */
  offerConstraints?: OfferConstraintsFilter;
}

/** Allocator configuration (mostly master flags). */
export interface AllocatorOptions {
  clock: Clock;
  /** Agent shuffling and the random sorter; default `Math.random`. */
  random?: RandomSource;
  logger?: Logger;
  /** `--allocation_interval` in ms (default 1000). Filters never expire sooner. */
  allocationIntervalMs?: number;
  /** `--role_sorter` (default drf). */
  roleSorter?: SorterKind;
  /** `--framework_sorter` (default drf). */
  frameworkSorter?: SorterKind;
  /** `--fair_sharing_excluded_resource_names`. */
  fairnessExcludeResourceNames?: Iterable<string>;
  /** `--filter_gpu_resources` (default true). */
  filterGpuResources?: boolean;
  /** The master's `--domain`. */
  domain?: DomainInfo;
  /**
   * `--min_allocatable_resources`: offer only if one of these sets is
   * contained (scalars by amount, ranges/sets by instance count).
   * Default `cpus:0.01|mem:32`; `[]` means anything is allocatable.
   */
  minAllocatableResources?: Record<string, number>[];
  /** `--roles`: when given, only these roles receive offers. */
  roleWhitelist?: Iterable<string>;
  /** `--weights`. */
  weights?: WeightInfo[];
  /** How long `recover` waits for agents before resuming (default 10 min). */
  recoveryTimeoutMs?: number;
  /** Fraction of expected agents that ends recovery (default 0.8). */
  agentRecoveryFactor?: number;
  /**
   * Benchmarks only: behave like a straight port (re-sort on every pick, no
   * filter indexes, no memos) to measure what those buy.
   */
  baselineForBenchmarks?: boolean;
}

/** One offer to make: resources of one agent for one role of one framework. */
export interface OfferAllocation {
  frameworkId: string;
  role: string;
  agentId: string;
  /** The offered resources, each with `allocation_info.role` set. */
  resources: Resources;
  /** The agent's next maintenance window, to attach to the offer. */
  unavailability?: Unavailability;
}

/** One inverse offer to make (maintenance). */
export interface InverseOfferAllocation {
  frameworkId: string;
  agentId: string;
  unavailability: Unavailability;
}

/** Why an agent gave a framework nothing. Stable codes; see `REASON_TEXT`. */
export type AllocationReason =
  | "ALLOCATION_PAUSED"
  | "FRAMEWORK_UNKNOWN"
  | "FRAMEWORK_INACTIVE"
  | "NO_ROLES"
  | "ROLE_SUPPRESSED"
  | "ROLE_NOT_WHITELISTED"
  | "NO_AGENTS"
  | "AGENT_NOT_WHITELISTED"
  | "AGENT_DEACTIVATED"
  | "NO_AVAILABLE_RESOURCES"
  | "NOT_ALLOCATABLE_TO_ROLE"
  | "BELOW_MIN_ALLOCATABLE"
  | "GPU_CAPABILITY_MISSING"
  | "REMOTE_REGION"
  | "AGENT_NOT_MULTI_ROLE"
  | "AGENT_NOT_HIERARCHICAL_ROLE"
  | "EXCLUDED_BY_CONSTRAINTS"
  | "FILTERED"
  | "QUOTA_LIMIT_REACHED"
  | "HELD_FOR_QUOTA_HEADROOM"
  | "OFFERABLE";

/** One-line explanations, for people. */
export const REASON_TEXT: Readonly<Record<AllocationReason, string>> = {
  ALLOCATION_PAUSED: "allocation is paused",
  FRAMEWORK_UNKNOWN: "the framework is not known to the allocator",
  FRAMEWORK_INACTIVE: "the framework is not active (disconnected or failing over)",
  NO_ROLES: "the framework is subscribed to no role",
  ROLE_SUPPRESSED: "offers are suppressed for the role",
  ROLE_NOT_WHITELISTED: "the role is not in --roles",
  NO_AGENTS: "no agents are registered",
  AGENT_NOT_WHITELISTED: "the agent is not in the --whitelist",
  AGENT_DEACTIVATED: "the agent is deactivated (disconnected)",
  NO_AVAILABLE_RESOURCES: "nothing is left on the agent (offered or allocated to others)",
  NOT_ALLOCATABLE_TO_ROLE: "what is left is reserved for other roles",
  BELOW_MIN_ALLOCATABLE: "what is left is below the minimum allocatable resources",
  GPU_CAPABILITY_MISSING: "the agent has GPUs and the framework lacks GPU_RESOURCES",
  REMOTE_REGION: "the agent is in another region and the framework lacks REGION_AWARE",
  AGENT_NOT_MULTI_ROLE: "the framework is MULTI_ROLE but the agent is not",
  AGENT_NOT_HIERARCHICAL_ROLE: "the role is hierarchical but the agent lacks HIERARCHICAL_ROLE",
  EXCLUDED_BY_CONSTRAINTS: "the agent does not satisfy the framework's offer constraints",
  FILTERED: "the framework declined these resources (refuse filter not yet expired)",
  QUOTA_LIMIT_REACHED: "the role's quota limit is reached",
  HELD_FOR_QUOTA_HEADROOM: "the resources are held back for other roles' quota guarantees",
  OFFERABLE: "offerable: the framework can get these at the next allocation",
};

/** Counts for one allocation cycle. */
export interface CycleStats {
  /** Agents the cycle was asked to look at. */
  candidates: number;
  /** Agents skipped before looking at frameworks, by reason. */
  skipped: Partial<Record<AllocationReason | "MEMO" | "ALL_FILTERED", number>>;
  /** Agents the cycle looked at frameworks for. */
  visited: number;
  offers: number;
  /** Framework checks made (the "pairs" a naive allocator would visit all of). */
  frameworkChecks: number;
  /** Wall time of the cycle, ms (monotonic clock, including pauses between slices). */
  elapsedMs: number;
  /** Longest synchronous stretch, ms. */
  longestSliceMs: number;
  slices: number;
}

/** The result of one allocation cycle. */
export interface CycleResult {
  offers: OfferAllocation[];
  inverseOffers: InverseOfferAllocation[];
  stats: CycleStats;
}

/** Why a framework gets (or does not get) offers, from `explain`. */
export interface Explanation {
  frameworkId: string;
  /** Framework-level reason, when one rules out every agent. */
  blocked?: AllocationReason;
  /** Per role: agent counts by reason. */
  roles: {
    role: string;
    blocked?: AllocationReason;
    agents: Partial<Record<AllocationReason, number>>;
  }[];
  /** One sentence, e.g. "0/3 agents offerable for role web: 2 filtered, 1 no resources left". */
  summary: string;
}

/**
 * Turns the master's flags into the plain settings the core and the
 * allocator take, checking what Mesos checks at start-up (weights, roles,
 * offer timeout, minimum allocatable resources). Errors are one line.
 */
import type { Duration } from "../common/flags/duration.js";
import type { DomainInfo, MasterInfo } from "../common/protocol/generated/mesos-v1.js";
import { validateRole } from "../common/resources/index.js";
import type { WeightInfo } from "./allocator/index.js";
import { HEARTBEAT_INTERVAL_MS, type MasterConfig } from "./core/config.js";
import type { MasterFlags } from "./flags.js";

/** Everything derived from the flags, except what needs the listener (MasterInfo). */
export interface MasterSettings {
  readonly config: Omit<MasterConfig, "info">;
  readonly allocationIntervalMs: number;
  readonly roleSorter: "drf" | "random";
  readonly frameworkSorter: "drf" | "random";
  readonly weights: WeightInfo[];
  readonly minAllocatableResources: Record<string, number>[];
  readonly fairnessExcludeResourceNames: string[];
  readonly filterGpuResources: boolean;
  readonly recoveryTimeoutMs: number;
  readonly agentRecoveryFactor: number;
  readonly domain: DomainInfo | undefined;
  readonly whitelistPath: string | undefined;
}

export type SettingsResult = { ok: true; value: MasterSettings } | { ok: false; error: string };

const ms = (d: Duration): number => d.toMs();

function parseRoles(text: string | undefined): { roles?: Set<string>; error?: string } {
  if (text === undefined) return {};
  const roles = new Set<string>(["*"]);
  // As Mesos: tokens are not trimmed (` b` is an invalid role), empty ones skipped.
  for (const token of text.split(",")) {
    if (token === "") continue;
    const error = validateRole(token);
    if (error !== undefined) return { error: `Failed to parse roles: ${error}` };
    roles.add(token);
  }
  return { roles };
}

/**
 * `--weights` as Mesos reads it: `role=weight` pairs; with `--roles` the role
 * must be on that whitelist, without it any name goes (Mesos checks only the
 * whitelist here). A role given twice keeps its last weight.
 */
function parseWeights(text: string | undefined, roles: Set<string> | undefined) {
  const weights = new Map<string, number>();
  for (const token of (text ?? "").split(",").filter((t) => t !== "")) {
    const pair = token.split("=").filter((t) => t !== "");
    if (pair.length !== 2) {
      return {
        error: `Invalid weight: '${token}'. --weights should be of the form 'role=weight,role=weight'`,
      };
    }
    const [role, value] = pair as [string, string];
    if (roles !== undefined && !roles.has(role)) {
      return { error: `Invalid weight: '${token}'. ${role} is not a valid role` };
    }
    // parseFloat reads a leading number as C's atof does ("2x" is 2, "x" is NaN here, 0 there).
    const weight = Number.parseFloat(value);
    if (!(weight > 0)) return { error: `Invalid weight: '${token}'. Weights must be positive` };
    weights.set(role, weight);
  }
  return { weights: [...weights].map(([role, weight]) => ({ role, weight })) };
}

/** `cpus:0.01|mem:32` -> [{cpus: 0.01}, {mem: 32}]; `;` joins quantities that must all fit. */
export function parseMinAllocatable(text: string): Record<string, number>[] | string {
  const out: Record<string, number>[] = [];
  for (const group of text.split("|").filter((g) => g.trim() !== "")) {
    const set: Record<string, number> = {};
    for (const item of group.split(";").filter((i) => i.trim() !== "")) {
      const colon = item.indexOf(":");
      const name = item.slice(0, colon).trim();
      const value = Number(item.slice(colon + 1).trim());
      if (colon <= 0 || !Number.isFinite(value) || value < 0) {
        return `Error parsing min_allocatable_resources '${text}': bad quantity '${item}'`;
      }
      set[name] = (set[name] ?? 0) + value;
    }
    out.push(set);
  }
  return out;
}

/** The names Mesos' built-in allocator answers to ("HierarchicalDRF" was its earlier name). */
const BUILT_IN_ALLOCATORS = ["hierarchical", "HierarchicalDRF"];

/** Mesos creates its allocator from --allocator and the two sorters before anything else. */
function checkAllocator(flags: MasterFlags): string | undefined {
  const prefix = `Failed to create allocator '${flags.allocator}'`;
  if (!BUILT_IN_ALLOCATORS.includes(flags.allocator)) {
    return (
      `${prefix}: only the built-in 'hierarchical' allocator exists in mesos-ts ` +
      "(allocator modules cannot be loaded)"
    );
  }
  if (flags.role_sorter !== flags.framework_sorter) {
    return `${prefix}: Unsupported combination of 'role_sorter' and 'framework_sorter': must be equal (for now)`;
  }
  return undefined;
}

/** Reads and checks the flags. */
export function masterSettings(flags: MasterFlags): SettingsResult {
  const allocatorError = checkAllocator(flags);
  if (allocatorError !== undefined) return { ok: false, error: allocatorError };
  // Mesos has no default scheduler authenticator: it must be named.
  if (flags.authenticate_http_frameworks && flags.http_framework_authenticators === undefined) {
    return {
      ok: false,
      error:
        "Missing `--http_framework_authenticators` flag. This must be used in conjunction " +
        "with `--authenticate_http_frameworks`",
    };
  }
  const roles = parseRoles(flags.roles);
  if (roles.error !== undefined) return { ok: false, error: roles.error };
  const weights = parseWeights(flags.weights, roles.roles);
  if (weights.error !== undefined) return { ok: false, error: weights.error };
  const offerTimeout = flags.offer_timeout;
  if (offerTimeout !== undefined && ms(offerTimeout) <= 0) {
    return {
      ok: false,
      error: `Invalid value '${offerTimeout}' for --offer_timeout: Must be greater than zero`,
    };
  }
  const minAllocatable = parseMinAllocatable(flags.min_allocatable_resources);
  if (typeof minAllocatable === "string") return { ok: false, error: minAllocatable };
  return {
    ok: true,
    value: {
      config: {
        heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
        offerTimeoutMs: offerTimeout === undefined ? undefined : ms(offerTimeout),
        agentPingTimeoutMs: ms(flags.agent_ping_timeout),
        maxAgentPingTimeouts: flags.max_agent_ping_timeouts,
        agentReregisterTimeoutMs: ms(flags.agent_reregister_timeout),
        maxCompletedFrameworks: flags.max_completed_frameworks,
        maxCompletedTasksPerFramework: flags.max_completed_tasks_per_framework,
        maxUnreachableTasksPerFramework: flags.max_unreachable_tasks_per_framework,
        roleWhitelist: roles.roles,
        rootSubmissions: flags.root_submissions,
        requireAgentDomain: flags.require_agent_domain,
        offerConstraintsRegexLimits: {
          maxProgramSize: flags.offer_constraints_re2_max_program_size,
          maxMemBytes: flags.offer_constraints_re2_max_mem.bytes,
        },
      },
      allocationIntervalMs: ms(flags.allocation_interval),
      roleSorter: flags.role_sorter === "random" ? "random" : "drf",
      frameworkSorter: flags.framework_sorter === "random" ? "random" : "drf",
      weights: weights.weights ?? [],
      minAllocatableResources: minAllocatable,
      fairnessExcludeResourceNames: flags.fair_sharing_excluded_resource_names ?? [],
      filterGpuResources: flags.filter_gpu_resources,
      recoveryTimeoutMs: ms(flags.allocator_recovery_timeout),
      agentRecoveryFactor: flags.allocator_agent_recovery_factor,
      domain: flags.domain as DomainInfo | undefined,
      whitelistPath: flags.whitelist,
    },
  };
}

/** The config the core runs with, once the MasterInfo is known. */
export function withInfo(settings: MasterSettings, info: MasterInfo): MasterConfig {
  return { ...settings.config, info };
}

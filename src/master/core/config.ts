/**
 * The settings the master core runs with, as plain numbers and sets (the
 * flags are parsed into this at start-up, see ../run-master.ts).
 */
import type { MasterInfo } from "../../common/protocol/generated/mesos-v1.js";

export interface MasterConfig {
  /** This master's MasterInfo (id, address, version, capabilities). */
  readonly info: MasterInfo;
  /** Scheduler HEARTBEAT period (Mesos: 15 s, not configurable). */
  readonly heartbeatIntervalMs: number;
  /** `--offer_timeout`; undefined: offers never time out. */
  readonly offerTimeoutMs: number | undefined;
  /** `--agent_ping_timeout`. */
  readonly agentPingTimeoutMs: number;
  /** `--max_agent_ping_timeouts`. */
  readonly maxAgentPingTimeouts: number;
  /** `--agent_reregister_timeout`. */
  readonly agentReregisterTimeoutMs: number;
  /** `--max_completed_frameworks`. */
  readonly maxCompletedFrameworks: number;
  /** `--max_completed_tasks_per_framework`. */
  readonly maxCompletedTasksPerFramework: number;
  /** `--max_unreachable_tasks_per_framework`. */
  readonly maxUnreachableTasksPerFramework: number;
  /** `--roles`: when set, frameworks may only use these roles. */
  readonly roleWhitelist: ReadonlySet<string> | undefined;
  /** `--root_submissions`. */
  readonly rootSubmissions: boolean;
  /** `--require_agent_domain`: agents without a domain are ignored. */
  readonly requireAgentDomain?: boolean;
  /** `--offer_constraints_re2_max_program_size` and `--offer_constraints_re2_max_mem` (bytes). */
  readonly offerConstraintsRegexLimits?: { maxProgramSize: number; maxMemBytes: number };
}

/** Mesos' defaults of `--offer_constraints_re2_max_program_size|max_mem`. */
export const DEFAULT_OFFER_CONSTRAINTS_REGEX_LIMITS = { maxProgramSize: 100, maxMemBytes: 4096 };

/** Mesos' DEFAULT_HEARTBEAT_INTERVAL. */
export const HEARTBEAT_INTERVAL_MS = 15_000;

/** Defaults for tests and embedders: the Mesos flag defaults. */
export function defaultMasterConfig(info: MasterInfo): MasterConfig {
  return {
    info,
    heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
    offerTimeoutMs: undefined,
    agentPingTimeoutMs: 15_000,
    maxAgentPingTimeouts: 5,
    agentReregisterTimeoutMs: 10 * 60_000,
    maxCompletedFrameworks: 50,
    maxCompletedTasksPerFramework: 1000,
    maxUnreachableTasksPerFramework: 1000,
    roleWhitelist: undefined,
    rootSubmissions: true,
  };
}

/**
 * Master recovery from the registry and the registry's upkeep: the agents a
 * restarted master expects back (and what happens to those that do not come
 * back within `--agent_reregister_timeout`), the `--recovery_agent_removal_limit`
 * safety net, `--agent_removal_rate_limit` pacing of removals, and the
 * periodic pruning of unreachable and gone agents (`--registry_gc_interval`,
 * `--registry_max_agent_age`, `--registry_max_agent_count`).
 */
import { Duration } from "../../common/flags/duration.js";
import type { Registry, SlaveInfo } from "../../common/protocol/generated/mesos-internal.js";
import type { Clock, TimerHandle } from "../../common/time/clock.js";
import { agentTransitionInProgress } from "./agent-health.js";
import { restoreDrains } from "./drain.js";
import type { Master } from "./master.js";

/** The recovery and registry settings the core takes (parsed from the flags). */
export interface RecoveryConfig {
  /** `--recovery_agent_removal_limit` as a fraction in [0, 1]. */
  readonly removalLimit: number;
  /** `--agent_removal_rate_limit`: at most `permits` removals per `intervalMs`; undefined: no limit. */
  readonly removalRate: { readonly permits: number; readonly intervalMs: number } | undefined;
  /** `--registry_gc_interval`. */
  readonly gcIntervalMs: number;
  /** `--registry_max_agent_age`. */
  readonly maxAgentAgeMs: number;
  /** `--registry_max_agent_count`. */
  readonly maxAgentCount: number;
}

/** The Mesos defaults. */
export const DEFAULT_RECOVERY_CONFIG: RecoveryConfig = {
  removalLimit: 1,
  removalRate: undefined,
  gcIntervalMs: 15 * 60_000,
  maxAgentAgeMs: 14 * 24 * 3_600_000,
  maxAgentCount: 102_400,
};

/**
 * Parses `--agent_removal_rate_limit` (`<permits>/<duration>`, e.g. `1/10mins`)
 * given a duration parser; an error string for bad input.
 */
export function parseRemovalRate(
  text: string,
  parseDurationMs: (text: string) => number | undefined,
): { permits: number; intervalMs: number } | string {
  const slash = text.indexOf("/");
  const permits = Number(text.slice(0, slash));
  const intervalMs = slash < 0 ? undefined : parseDurationMs(text.slice(slash + 1));
  if (slash < 0 || !Number.isInteger(permits) || permits <= 0 || intervalMs === undefined) {
    return (
      `Invalid value '${text}' for --agent_removal_rate_limit: expected ` +
      "<number of agents>/<duration>, e.g. 1/10mins"
    );
  }
  return { permits, intervalMs };
}

/**
 * Hands out removal permits no faster than `permits` per `intervalMs`
 * (one every `intervalMs / permits`), in request order, like Mesos'
 * RateLimiter. A cancelled request does not give its slot back.
 */
export class RemovalLimiter {
  private readonly spacingMs: number;
  private nextFreeAt = Number.NEGATIVE_INFINITY;
  private readonly timers = new Set<TimerHandle>();

  constructor(
    private readonly clock: Clock,
    rate: { readonly permits: number; readonly intervalMs: number },
  ) {
    this.spacingMs = rate.intervalMs / rate.permits;
  }

  /** Runs `fn` when a permit is free (now, if one is). */
  acquire(fn: () => void): void {
    const now = this.clock.monotonic();
    const at = Math.max(now, this.nextFreeAt);
    this.nextFreeAt = at + this.spacingMs;
    if (at <= now) {
      fn();
      return;
    }
    const timer = this.clock.setTimer(at - now, () => {
      this.timers.delete(timer);
      fn();
    });
    this.timers.add(timer);
  }

  stop(): void {
    for (const timer of this.timers) this.clock.cancelTimer(timer);
    this.timers.clear();
  }
}

/**
 * Installs what the registry remembers: admitted agents become "recovered"
 * agents expected to re-register, unreachable and gone agents are known as
 * such, stored quotas go to the allocator. Starts the re-registration
 * deadline and the registry GC. (Quota, weights and maintenance as the
 * operator endpoints show them are restored by their modules, see
 * master-runtime.ts.)
 */
export function recoverFromRegistry(m: Master, registry: Registry): void {
  const admitted = registry.slaves?.slaves ?? [];
  for (const slave of admitted) {
    const id = slave.info.id?.value;
    if (id === undefined || id === "") continue;
    m.recoveredAgents.set(id, slave.info);
    if (slave.deactivated === true) m.deactivatedAgents.add(id);
  }
  for (const slave of registry.unreachable?.slaves ?? []) {
    m.unreachableAgents.set(slave.id.value, slave.timestamp.nanoseconds);
    if (slave.deactivated === true) m.deactivatedAgents.add(slave.id.value);
  }
  for (const slave of registry.gone?.slaves ?? []) {
    m.goneAgents.set(slave.id.value, slave.timestamp.nanoseconds);
  }
  restoreDrains(m, registry);
  // With quota stored, the allocator waits for agents before granting it (as in Mesos).
  const quotas = new Map(
    (registry.quota_configs ?? []).map((c) => [
      c.role ?? "",
      { guarantees: c.guarantees ?? {}, limits: c.limits ?? {} },
    ]),
  );
  m.allocator.recover(admitted.length, quotas);
  scheduleRegistryGc(m);
  const total = m.recoveredAgents.size;
  const timeoutMs = m.config.agentReregisterTimeoutMs;
  if (total > 0) {
    m.recoveryTimer = m.clock.setTimer(timeoutMs, () => {
      m.recoveryTimer = undefined;
      recoveredAgentsTimeout(m, total);
    });
  }
  m.logger.info(
    `Recovered ${total} agents from the registry (${m.unreachableAgents.size} unreachable, ` +
      `${m.goneAgents.size} gone); allowing ${Duration.milliseconds(timeoutMs)} for agents to reregister`,
  );
}

/** A share as a percentage the way Mesos prints it (a C++ stream: 6 significant digits, 100, 66.6667). */
function percent(share: number): string {
  return String(Number((share * 100).toPrecision(6)));
}

/**
 * The re-registration deadline after a failover passed: the agents still
 * missing are marked unreachable (rate-limited), unless there are more of
 * them than `--recovery_agent_removal_limit` allows; then the master stops.
 */
function recoveredAgentsTimeout(m: Master, total: number): void {
  if (m.stopped) return;
  const missing = [...m.recoveredAgents.values()];
  const share = missing.length / total;
  if (share > m.recovery.removalLimit) {
    m.fatal(
      `Post-recovery agent removal limit exceeded! After ${Duration.milliseconds(m.config.agentReregisterTimeoutMs)} ` +
        `${missing.length} of the ${total} agents recovered from the registry ` +
        `(${percent(share)}%) did not reregister: ` +
        `${missing.map((i) => i.id?.value ?? "").join(", ")}. The configured removal limit is ` +
        `${percent(m.recovery.removalLimit)}%. Investigate, or raise ` +
        "--recovery_agent_removal_limit, then restart the master",
    );
    return;
  }
  const cause = `did not reregister within ${Duration.milliseconds(m.config.agentReregisterTimeoutMs)} after master failover`;
  for (const info of missing) {
    const id = info.id?.value ?? "";
    // One that started reregistering is left alone and counts nothing, as in Mesos.
    if (m.reregistering.has(id)) continue;
    m.events.agentUnreachableStep("scheduled");
    const remove = (): void => markRecoveredAgentUnreachable(m, info, cause);
    if (m.removalLimiter === undefined) remove();
    else {
      m.logger.info(`Scheduling removal of agent ${id} (${info.hostname}); it ${cause}`);
      m.removalLimiter.acquire(remove);
    }
  }
}

/** Moves a recovered agent that never came back to the unreachable list (registry first). */
function markRecoveredAgentUnreachable(m: Master, info: SlaveInfo, cause: string): void {
  const id = info.id?.value ?? "";
  if (m.stopped) return;
  if (!m.recoveredAgents.has(id) || m.reregistering.has(id)) {
    m.logger.info(`Skipping transition of agent ${id} to unreachable: it reregistered meanwhile`);
    m.events.agentUnreachableStep("canceled");
    return;
  }
  if (
    m.markingUnreachable.has(id) ||
    m.goneAgents.has(id) ||
    agentTransitionInProgress(m, id) !== undefined
  ) {
    m.events.agentUnreachableStep("canceled");
    return;
  }
  m.logger.info(`Marking agent ${id} (${info.hostname}) unreachable: ${cause}`);
  const ns = Math.round(m.clock.now() * 1e6);
  m.markingUnreachable.add(id);
  m.registrar.apply({ kind: "mark-agent-unreachable", info, timeNs: ns }).then(
    () => {
      m.markingUnreachable.delete(id);
      if (m.stopped) return;
      // Mesos counts a failover transition completed once the registry has it.
      m.events.agentUnreachableStep("completed");
      m.recoveredAgents.delete(id);
      m.unreachableAgents.set(id, ns);
      m.logger.info(`Marked agent ${id} (${info.hostname}) unreachable: ${cause}`);
      m.events.agentMarkedUnreachable(id, true);
      // The master knows none of its tasks: frameworks hear of the agent, and
      // learn the tasks' fate by reconciling (TASK_UNREACHABLE or TASK_LOST).
      for (const framework of m.frameworks.values()) {
        if (!framework.connected) continue;
        m.sendEvent(framework, { type: "FAILURE", failure: { agent_id: { value: id } } });
      }
    },
    (error: unknown) => {
      m.markingUnreachable.delete(id);
      m.fatal(`Failed to mark agent ${id} unreachable in the registry: ${String(error)}`);
    },
  );
}

function scheduleRegistryGc(m: Master): void {
  if (m.stopped) return;
  m.registryGcTimer = m.clock.setTimer(m.recovery.gcIntervalMs, () => {
    m.registryGcTimer = undefined;
    void registryGc(m);
    scheduleRegistryGc(m);
  });
}

/** Which entries of an oldest-first list go: beyond the count bound, or older than the age bound. */
function prunable(entries: ReadonlyMap<string, number>, nowNs: number, m: Master): string[] {
  const out: string[] = [];
  let live = entries.size;
  const maxAgeNs = m.recovery.maxAgentAgeMs * 1e6;
  for (const [id, ns] of entries) {
    if (live > m.recovery.maxAgentCount || nowNs - ns > maxAgeNs) {
      out.push(id);
      live--;
    }
  }
  return out;
}

/** Forgets unreachable and gone agents beyond the registry's age and count bounds. */
export function registryGc(m: Master): Promise<void> {
  const nowNs = m.clock.now() * 1e6;
  const unreachable = prunable(m.unreachableAgents, nowNs, m);
  const gone = prunable(m.goneAgents, nowNs, m);
  if (unreachable.length === 0 && gone.length === 0) {
    m.logger.verbose(
      1,
      "Skipping periodic registry garbage collection: no agents qualify for removal",
    );
    return Promise.resolve();
  }
  m.logger.verbose(
    1,
    `Attempting to remove ${unreachable.length} unreachable and ${gone.length} gone agents ` +
      "from the registry",
  );
  return m.registrar.apply({ kind: "prune", unreachable, gone }).then(
    () => {
      let removedUnreachable = 0;
      for (const id of unreachable) {
        if (!m.unreachableAgents.delete(id)) continue;
        removedUnreachable++;
        for (const framework of m.frameworks.values()) {
          for (const [taskId, task] of framework.unreachableTasks) {
            if (task.agent_id.value === id) framework.unreachableTasks.delete(taskId);
          }
        }
      }
      let removedGone = 0;
      for (const id of gone) if (m.goneAgents.delete(id)) removedGone++;
      m.logger.info(
        `Garbage collected ${removedUnreachable} unreachable and ${removedGone} gone agents from the registry`,
      );
    },
    (error: unknown) => m.fatal(`Failed to prune the registry: ${String(error)}`),
  );
}

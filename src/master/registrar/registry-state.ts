/**
 * The registry in memory (agent lists, quota configs, weights, maintenance)
 * and what each registry operation does to it. Every registrar back-end
 * applies operations through this class, so they agree on the meaning of an
 * operation; durable back-ends then store the entries it touched.
 */
import type {
  Registry,
  Registry_GoneSlave,
  Registry_Machine,
  Registry_Slave,
  Registry_UnreachableSlave,
  Registry_Weight,
} from "../../common/protocol/generated/mesos-internal.js";
import type { MachineID } from "../../common/protocol/generated/mesos-v1.js";
import type { Schedule } from "../../common/protocol/generated/mesos-v1-maintenance.js";
import type { QuotaConfig } from "../../common/protocol/generated/mesos-v1-quota.js";
import type { AgentOperation, RegistryOperation } from "./registrar.js";

/** The key of a machine in the registry (`hostname|ip`). */
export function machineKey(id: MachineID): string {
  return `${id.hostname ?? ""}|${id.ip ?? ""}`;
}

/** Whether an operation changes settings (quota, weights, maintenance) rather than agents. */
export function isSettingsOperation(
  operation: RegistryOperation,
): operation is Exclude<RegistryOperation, AgentOperation> {
  return (
    operation.kind === "update-quota" ||
    operation.kind === "update-weights" ||
    operation.kind === "update-maintenance"
  );
}

/** Whether a quota config sets nothing (it then removes the role's quota). */
function emptyQuota(config: QuotaConfig): boolean {
  return (
    Object.keys(config.guarantees ?? {}).length === 0 &&
    Object.keys(config.limits ?? {}).length === 0
  );
}

/** The entries of one agent id before an operation (to undo it if storing fails). */
export interface AgentEntries {
  readonly id: string;
  readonly admitted: Registry_Slave | undefined;
  readonly unreachable: Registry_UnreachableSlave | undefined;
  readonly gone: Registry_GoneSlave | undefined;
}

export class RegistryState {
  /** Admitted agents by id. */
  readonly admitted = new Map<string, Registry_Slave>();
  /** Unreachable agents by id, oldest first (the GC count bound drops from the front). */
  readonly unreachable = new Map<string, Registry_UnreachableSlave>();
  /** Gone agents by id, oldest first. */
  readonly gone = new Map<string, Registry_GoneSlave>();
  /** Quota configs by role. */
  readonly quotaConfigs = new Map<string, QuotaConfig>();
  /** Role weights by role. */
  readonly weights = new Map<string, number>();
  /** The maintenance schedule (undefined: none stored). */
  schedule: Schedule | undefined;
  /** Machines in maintenance by `machineKey` (mode DRAINING or DOWN). */
  readonly machines = new Map<string, Registry_Machine>();

  /** A state holding what `registry` lists. */
  static from(registry: Registry): RegistryState {
    const state = new RegistryState();
    for (const slave of registry.slaves?.slaves ?? []) {
      const id = slave.info.id?.value;
      if (id !== undefined && id !== "") state.admitted.set(id, slave);
    }
    for (const slave of registry.unreachable?.slaves ?? []) {
      state.unreachable.set(slave.id.value, slave);
    }
    for (const slave of registry.gone?.slaves ?? []) state.gone.set(slave.id.value, slave);
    for (const config of registry.quota_configs ?? []) {
      state.quotaConfigs.set(config.role ?? "", config);
    }
    for (const weight of registry.weights ?? []) {
      state.weights.set(weight.info.role ?? "*", weight.info.weight);
    }
    const schedule = registry.schedules?.[0];
    if (schedule !== undefined && (schedule.windows?.length ?? 0) > 0) state.schedule = schedule;
    for (const machine of registry.machines?.machines ?? []) {
      state.machines.set(machineKey(machine.info.id), machine);
    }
    return state;
  }

  /** The agent ids an operation may touch (none for settings operations). */
  static idsOf(operation: RegistryOperation): string[] {
    switch (operation.kind) {
      case "update-quota":
      case "update-weights":
      case "update-maintenance":
        return [];
      case "mark-agent-gone":
      case "deactivate-agent":
      case "reactivate-agent":
      case "drain-agent":
      case "mark-agent-drained":
        return [operation.agentId];
      case "prune":
        return [...operation.unreachable, ...operation.gone];
      default: {
        const id = operation.info.id?.value;
        return id === undefined || id === "" ? [] : [id];
      }
    }
  }

  /** What the registry holds for `id` now. */
  entries(id: string): AgentEntries {
    return {
      id,
      admitted: this.admitted.get(id),
      unreachable: this.unreachable.get(id),
      gone: this.gone.get(id),
    };
  }

  /** Puts back entries saved with `entries()` (undoing a failed write). */
  restore(saved: AgentEntries): void {
    const put = <V>(map: Map<string, V>, value: V | undefined): void => {
      if (value === undefined) map.delete(saved.id);
      else map.set(saved.id, value);
    };
    put(this.admitted, saved.admitted);
    put(this.unreachable, saved.unreachable);
    put(this.gone, saved.gone);
  }

  /**
   * Remembers what `operation` may change and returns a function putting it
   * back (undoing the operation when storing it fails).
   */
  undoFor(operation: RegistryOperation): () => void {
    switch (operation.kind) {
      case "update-quota": {
        const roles = operation.configs.map((c) => c.role ?? "");
        const before = roles.map((role) => [role, this.quotaConfigs.get(role)] as const);
        return () => {
          for (const [role, config] of before.reverse()) {
            if (config === undefined) this.quotaConfigs.delete(role);
            else this.quotaConfigs.set(role, config);
          }
        };
      }
      case "update-weights": {
        const before = operation.weights.map((w) => {
          const role = w.role ?? "*";
          return [role, this.weights.get(role)] as const;
        });
        return () => {
          for (const [role, weight] of before.reverse()) {
            if (weight === undefined) this.weights.delete(role);
            else this.weights.set(role, weight);
          }
        };
      }
      case "update-maintenance": {
        const schedule = this.schedule;
        const machines = [...this.machines];
        return () => {
          this.schedule = schedule;
          this.machines.clear();
          for (const [key, machine] of machines) this.machines.set(key, machine);
        };
      }
      default: {
        const saved = RegistryState.idsOf(operation).map((id) => this.entries(id));
        return () => {
          for (let i = saved.length - 1; i >= 0; i--) this.restore(saved[i] as AgentEntries);
        };
      }
    }
  }

  /** Applies an operation; true if it changed the registry. */
  apply(operation: RegistryOperation): boolean {
    switch (operation.kind) {
      case "update-quota":
        for (const config of operation.configs) {
          const role = config.role ?? "";
          if (emptyQuota(config)) this.quotaConfigs.delete(role);
          else this.quotaConfigs.set(role, config);
        }
        return true;
      case "update-weights":
        for (const w of operation.weights) this.weights.set(w.role ?? "*", w.weight);
        return true;
      case "update-maintenance":
        this.schedule =
          (operation.schedule.windows?.length ?? 0) > 0 ? operation.schedule : undefined;
        this.machines.clear();
        for (const info of operation.machines) this.machines.set(machineKey(info.id), { info });
        return true;
      case "mark-agent-gone": {
        const id = operation.agentId;
        if (this.gone.has(id)) return false;
        const known = this.admitted.delete(id) || this.unreachable.delete(id);
        if (!known) return false;
        this.gone.set(id, { id: { value: id }, timestamp: { nanoseconds: operation.timeNs } });
        return true;
      }
      case "deactivate-agent":
      case "reactivate-agent":
      case "drain-agent":
      case "mark-agent-drained":
        return this.updateAgentFlags(operation);
      case "prune": {
        let changed = false;
        for (const id of operation.unreachable) changed = this.unreachable.delete(id) || changed;
        for (const id of operation.gone) changed = this.gone.delete(id) || changed;
        return changed;
      }
      default:
        break;
    }
    const id = operation.info.id?.value;
    if (id === undefined || id === "") return false;
    switch (operation.kind) {
      case "admit-agent":
        if (this.admitted.has(id)) return false;
        this.admitted.set(id, { info: operation.info });
        return true;
      case "mark-agent-reachable": {
        if (this.admitted.has(id)) return false;
        const was = this.unreachable.get(id);
        this.unreachable.delete(id);
        const entry: Registry_Slave = { info: operation.info };
        if (was?.drain_info !== undefined) entry.drain_info = was.drain_info;
        if (was?.deactivated === true) entry.deactivated = true;
        this.admitted.set(id, entry);
        return true;
      }
      case "mark-agent-unreachable": {
        const admitted = this.admitted.get(id);
        if (admitted === undefined) return false;
        this.admitted.delete(id);
        const entry: Registry_UnreachableSlave = {
          id: { value: id },
          timestamp: { nanoseconds: operation.timeNs },
        };
        if (admitted.drain_info !== undefined) entry.drain_info = admitted.drain_info;
        if (admitted.deactivated === true) entry.deactivated = true;
        this.unreachable.set(id, entry);
        return true;
      }
      case "remove-agent":
        return this.admitted.delete(id);
      case "update-agent": {
        const admitted = this.admitted.get(id);
        if (admitted === undefined) return false;
        this.admitted.set(id, { ...admitted, info: operation.info });
        return true;
      }
    }
  }

  /** Deactivation and drain changes, on the agent's admitted or unreachable entry. */
  private updateAgentFlags(
    operation: Extract<
      RegistryOperation,
      { kind: "deactivate-agent" | "reactivate-agent" | "drain-agent" | "mark-agent-drained" }
    >,
  ): boolean {
    const id = operation.agentId;
    const admitted = this.admitted.get(id);
    const unreachable = this.unreachable.get(id);
    const entry = admitted ?? unreachable;
    if (entry === undefined) return false;
    const next: { drain_info?: Registry_Slave["drain_info"]; deactivated?: boolean } = {
      ...(entry.drain_info === undefined ? {} : { drain_info: entry.drain_info }),
      ...(entry.deactivated === true ? { deactivated: true } : {}),
    };
    switch (operation.kind) {
      case "deactivate-agent":
        next.deactivated = true;
        break;
      case "reactivate-agent":
        delete next.deactivated;
        delete next.drain_info;
        break;
      case "drain-agent":
        next.drain_info = operation.drainInfo;
        next.deactivated = true;
        break;
      case "mark-agent-drained":
        if (next.drain_info === undefined) return false;
        next.drain_info = { ...next.drain_info, state: "DRAINED" };
        break;
    }
    const { drain_info: _drain, deactivated: _deactivated, ...rest } = entry;
    const updated = { ...rest, ...next };
    if (admitted !== undefined) this.admitted.set(id, updated as Registry_Slave);
    else this.unreachable.set(id, updated as Registry_UnreachableSlave);
    return true;
  }

  /**
   * The state as a `mesos.internal.Registry`: the agent lists always, the
   * settings only when there are any (roles sorted).
   */
  toRegistry(): Registry {
    const registry: Registry = {
      slaves: { slaves: [...this.admitted.values()] },
      unreachable: { slaves: [...this.unreachable.values()] },
      gone: { slaves: [...this.gone.values()] },
    };
    Object.assign(registry, this.settings());
    return registry;
  }

  /** Only the settings part of the registry (fields left out when empty). */
  settings(): Pick<Registry, "quota_configs" | "weights" | "schedules" | "machines"> {
    const out: Pick<Registry, "quota_configs" | "weights" | "schedules" | "machines"> = {};
    const byRole = <T>(map: Map<string, T>): [string, T][] =>
      [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (this.quotaConfigs.size > 0) out.quota_configs = byRole(this.quotaConfigs).map(([, c]) => c);
    if (this.weights.size > 0) {
      out.weights = byRole(this.weights).map(
        ([role, weight]): Registry_Weight => ({ info: { weight, role } }),
      );
    }
    if (this.schedule !== undefined) out.schedules = [this.schedule];
    if (this.machines.size > 0) out.machines = { machines: [...this.machines.values()] };
    return out;
  }
}

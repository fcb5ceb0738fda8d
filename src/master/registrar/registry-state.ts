/**
 * The registry's agent lists in memory and what each registry operation does
 * to them. Every registrar back-end applies operations through this class, so
 * they agree on the meaning of an operation; durable back-ends then store the
 * entries it touched.
 */
import type {
  Registry,
  Registry_GoneSlave,
  Registry_Slave,
  Registry_UnreachableSlave,
} from "../../common/protocol/generated/mesos-internal.js";
import type { RegistryOperation } from "./registrar.js";

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
    return state;
  }

  /** The agent ids an operation may touch. */
  static idsOf(operation: RegistryOperation): string[] {
    switch (operation.kind) {
      case "mark-agent-gone":
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

  /** Applies an operation; true if it changed the registry. */
  apply(operation: RegistryOperation): boolean {
    switch (operation.kind) {
      case "mark-agent-gone": {
        const id = operation.agentId;
        if (this.gone.has(id)) return false;
        const known = this.admitted.delete(id) || this.unreachable.delete(id);
        if (!known) return false;
        this.gone.set(id, { id: { value: id }, timestamp: { nanoseconds: operation.timeNs } });
        return true;
      }
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

  /** The lists as a `mesos.internal.Registry`. */
  toRegistry(): Registry {
    return {
      slaves: { slaves: [...this.admitted.values()] },
      unreachable: { slaves: [...this.unreachable.values()] },
      gone: { slaves: [...this.gone.values()] },
    };
  }
}

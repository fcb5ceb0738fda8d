/**
 * The registrar that keeps the registry in memory only. It is what
 * `--registry=in_memory` asks for, and it stands in for the durable
 * registry until that lands: a restarted master forgets its agents and lets
 * them re-register as unknown agents (which works, since the registry is not
 * strict).
 */
import type {
  Registry,
  Registry_Slave,
  Registry_UnreachableSlave,
} from "../../common/protocol/generated/mesos-internal.js";
import type { Registrar, RegistryOperation } from "./registrar.js";

export class InMemoryRegistrar implements Registrar {
  readonly durable = false;
  readonly name = "in_memory";
  private readonly admitted = new Map<string, Registry_Slave>();
  private readonly unreachable = new Map<string, Registry_UnreachableSlave>();

  recover(): Promise<Registry> {
    return Promise.resolve(this.snapshot());
  }

  apply(operation: RegistryOperation): Promise<boolean> {
    return Promise.resolve(this.applyNow(operation));
  }

  private applyNow(operation: RegistryOperation): boolean {
    const id = operation.info.id?.value;
    if (id === undefined || id === "") return false;
    switch (operation.kind) {
      case "admit-agent":
        if (this.admitted.has(id)) return false;
        this.admitted.set(id, { info: operation.info });
        return true;
      case "mark-agent-reachable":
        this.unreachable.delete(id);
        this.admitted.set(id, { info: operation.info });
        return true;
      case "mark-agent-unreachable":
        if (!this.admitted.delete(id)) return false;
        this.unreachable.set(id, {
          id: { value: id },
          timestamp: { nanoseconds: operation.timeNs },
        });
        return true;
      case "remove-agent":
        return this.admitted.delete(id);
      case "update-agent":
        if (!this.admitted.has(id)) return false;
        this.admitted.set(id, { info: operation.info });
        return true;
    }
  }

  snapshot(): Registry {
    return {
      slaves: { slaves: [...this.admitted.values()] },
      unreachable: { slaves: [...this.unreachable.values()] },
    };
  }
}

/**
 * The registrar that keeps the registry in memory only: what
 * `--registry=in_memory` asks for. A restarted master forgets its agents and
 * lets them re-register as unknown agents (the registry is not strict).
 */
import type { Registry } from "../../common/protocol/generated/mesos-internal.js";
import type { Registrar, RegistryOperation } from "./registrar.js";
import { RegistryState } from "./registry-state.js";

export class InMemoryRegistrar implements Registrar {
  readonly durable = false;
  readonly name = "in_memory";
  private readonly state = new RegistryState();

  recover(): Promise<Registry> {
    return Promise.resolve(this.snapshot());
  }

  apply(operation: RegistryOperation): Promise<boolean> {
    return Promise.resolve(this.state.apply(operation));
  }

  snapshot(): Registry {
    return this.state.toRegistry();
  }
}

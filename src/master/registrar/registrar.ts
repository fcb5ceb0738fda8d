/**
 * The registrar keeps the registry: what the master must remember across
 * failovers (admitted agents, unreachable agents, ...). Every change is an
 * operation applied asynchronously; the master acts on it only once the
 * returned promise says it took effect, as in Mesos. Durable back-ends
 * (replicated log, SQLite) arrive with the fault-tolerance issue and
 * implement this same interface.
 */
import type { Registry, SlaveInfo } from "../../common/protocol/generated/mesos-internal.js";

/** A change to the registry. */
export type RegistryOperation =
  /** A new agent: fails (false) if its id is already admitted. */
  | { readonly kind: "admit-agent"; readonly info: SlaveInfo }
  /** An agent re-registering: (re)admits it, dropping it from the unreachable list. */
  | { readonly kind: "mark-agent-reachable"; readonly info: SlaveInfo }
  /** An agent that stopped answering pings. */
  | { readonly kind: "mark-agent-unreachable"; readonly info: SlaveInfo; readonly timeNs: number }
  /** An agent that left (unregistered, or replaced at the same address). */
  | { readonly kind: "remove-agent"; readonly info: SlaveInfo }
  /** New agent info for an admitted agent. */
  | { readonly kind: "update-agent"; readonly info: SlaveInfo };

export interface Registrar {
  /** False for the in-memory registrar: everything is forgotten on restart. */
  readonly durable: boolean;
  /** A short name for logs (`in_memory`). */
  readonly name: string;
  /** Loads the registry (empty on first start). */
  recover(): Promise<Registry>;
  /** Applies one operation; true if it changed the registry as asked. */
  apply(operation: RegistryOperation): Promise<boolean>;
  /** The registry as it is now (for `/registrar(1)/registry`). */
  snapshot(): Registry;
}

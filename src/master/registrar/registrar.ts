/**
 * The registrar keeps the registry: what the master must remember across
 * failovers (admitted agents, unreachable agents, gone agents, and later
 * quota, weights and maintenance). Every change is an operation applied
 * asynchronously; the master acts on it only once the returned promise says
 * it took effect, as in Mesos. Back-ends: in-memory.ts (`--registry=in_memory`),
 * sqlite.ts (durable, in `--work_dir`), zookeeper.ts (with `--zk`). All of
 * them share the semantics of registry-state.ts.
 */
import type { Registry, SlaveInfo } from "../../common/protocol/generated/mesos-internal.js";

/** A change to the registry. */
export type RegistryOperation =
  /** A new agent: no change (false) if its id is already admitted. */
  | { readonly kind: "admit-agent"; readonly info: SlaveInfo }
  /**
   * An agent re-registering that is not admitted (it was unreachable, or its
   * entry was pruned): admits it, dropping it from the unreachable list.
   * False when it is already admitted.
   */
  | { readonly kind: "mark-agent-reachable"; readonly info: SlaveInfo }
  /** An admitted agent that stopped answering pings or did not re-register in time. */
  | { readonly kind: "mark-agent-unreachable"; readonly info: SlaveInfo; readonly timeNs: number }
  /** An agent that left (unregistered, or replaced at the same address). */
  | { readonly kind: "remove-agent"; readonly info: SlaveInfo }
  /** New agent info for an admitted agent (false when unchanged). */
  | { readonly kind: "update-agent"; readonly info: SlaveInfo }
  /** MARK_AGENT_GONE: an admitted or unreachable agent that may never come back. */
  | { readonly kind: "mark-agent-gone"; readonly agentId: string; readonly timeNs: number }
  /** Registry GC: forgets these unreachable and gone entries (false if none was there). */
  | {
      readonly kind: "prune";
      readonly unreachable: readonly string[];
      readonly gone: readonly string[];
    };

export interface Registrar {
  /** False for the in-memory registrar: everything is forgotten on restart. */
  readonly durable: boolean;
  /** A short name for logs (`in_memory`, `sqlite`, `zookeeper`). */
  readonly name: string;
  /** Loads the registry (empty on first start). Rejects with a one-line reason. */
  recover(): Promise<Registry>;
  /**
   * Applies one operation; true if it changed the registry as asked. The
   * promise resolves only once the change is stored (durable back-ends
   * commit operations arriving together in one write).
   */
  apply(operation: RegistryOperation): Promise<boolean>;
  /** The registry as it is now (for `/registrar(1)/registry`). */
  snapshot(): Registry;
  /** Releases files or connections (optional; the in-memory registrar has none). */
  close?(): void;
}

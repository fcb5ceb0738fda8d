/**
 * The registrar keeps the registry: what the master must remember across
 * failovers (admitted agents, unreachable agents, gone agents, quota
 * configs, role weights, and the maintenance schedule with machine modes). Every change is an operation applied
 * asynchronously; the master acts on it only once the returned promise says
 * it took effect, as in Mesos. Back-ends: in-memory.ts (`--registry=in_memory`),
 * sqlite.ts (durable, in `--work_dir`), zookeeper.ts (with `--zk`). All of
 * them share the semantics of registry-state.ts.
 */
import type { Registry, SlaveInfo } from "../../common/protocol/generated/mesos-internal.js";
import type {
  DrainInfo,
  MachineInfo,
  WeightInfo,
} from "../../common/protocol/generated/mesos-v1.js";
import type { Schedule } from "../../common/protocol/generated/mesos-v1-maintenance.js";
import type { QuotaConfig } from "../../common/protocol/generated/mesos-v1-quota.js";

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
  /**
   * DEACTIVATE_AGENT: an admitted or unreachable agent gets no offers until
   * reactivated (Registry.Slave.deactivated). False for an unknown agent.
   */
  | { readonly kind: "deactivate-agent"; readonly agentId: string }
  /** REACTIVATE_AGENT: clears `deactivated` and any drain info. False for an unknown agent. */
  | { readonly kind: "reactivate-agent"; readonly agentId: string }
  /** DRAIN_AGENT: records the drain (state DRAINING, its config) and deactivates the agent. */
  | { readonly kind: "drain-agent"; readonly agentId: string; readonly drainInfo: DrainInfo }
  /** A draining agent has no tasks left: its drain state becomes DRAINED. */
  | { readonly kind: "mark-agent-drained"; readonly agentId: string }
  /** Registry GC: forgets these unreachable and gone entries (false if none was there). */
  | {
      readonly kind: "prune";
      readonly unreachable: readonly string[];
      readonly gone: readonly string[];
    }
  /**
   * Quota configs of the listed roles (UPDATE_QUOTA and the legacy calls); a
   * config without guarantees and limits removes the role's quota. Always true.
   */
  | { readonly kind: "update-quota"; readonly configs: readonly QuotaConfig[] }
  /** Weights of the listed roles (UPDATE_WEIGHTS, or `--weights` on first start). Always true. */
  | { readonly kind: "update-weights"; readonly weights: readonly WeightInfo[] }
  /**
   * The whole maintenance state after a change: the schedule and every
   * machine in it with its mode (DRAINING or DOWN). Replaces what was stored
   * (Mesos splits this into UpdateSchedule, StartMaintenance and
   * StopMaintenance; storing the outcome is the same). Always true.
   */
  | {
      readonly kind: "update-maintenance";
      readonly schedule: Schedule;
      readonly machines: readonly MachineInfo[];
    };

/** The operation kinds that change the agent lists (the others change settings). */
export type AgentOperation = Exclude<
  RegistryOperation,
  { kind: "update-quota" | "update-weights" | "update-maintenance" }
>;

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
  /**
   * Operations waiting for the next write (not the one being written), for
   * `registrar/queued_operations`; absent: the registrar queues nothing.
   */
  readonly queuedOperations?: number;
  /**
   * Registrars that write operations in batches tell `observer` how long
   * each write took, in ms, and whether it was stored (`registrar/state_store_ms`,
   * as Mesos times its store, failed or not; the log line of a stored write).
   * Without it the master times each operation.
   */
  setStoreObserver?(observer: (ms: number, stored: boolean) => void): void;
}

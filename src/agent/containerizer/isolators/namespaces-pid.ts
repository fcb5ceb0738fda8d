/**
 * `namespaces/pid`: a container starts in a pid namespace of its own (its
 * first process is pid 1 there) with its own /proc, so its processes see
 * and signal only the container's. When pid 1 of a namespace dies the
 * kernel kills everything else in it, so no process outlives the container.
 *
 * `ContainerInfo.linux_info.share_pid_namespace: true` keeps a container in
 * its parent's pid namespace instead: the agent's for a top-level container
 * (refused with `--disallow_sharing_agent_pid_namespace`), the executor's
 * for a nested one (which still gets a /proc of its own mount, showing that
 * namespace).
 */
import { readlink } from "node:fs/promises";
import { BaseIsolator, type ContainerConfig, type LaunchPreparation } from "./isolator.js";
import { parentContainerId } from "./namespaces-ipc.js";

export interface NamespacesPidOptions {
  /** `--disallow_sharing_agent_pid_namespace`. */
  disallowSharingAgentPidNamespace: boolean;
}

/** Mesos' refusal of a top-level container that asks for the agent's pid namespace. */
export const SHARING_AGENT_PID_NAMESPACE_REFUSED =
  "Sharing agent pid namespace with top-level container is not allowed";

export class NamespacesPidIsolator extends BaseIsolator {
  readonly name = "namespaces/pid";
  /** Pids of the containers (their children's pid namespace is /proc/<pid>/ns/pid_for_children). */
  private readonly pids = new Map<string, number>();
  /**
   * Containers prepared by this agent run that are in the agent's pid
   * namespace (a top-level one that shares it, and nested ones sharing
   * theirs). Any other container has a namespace of its own.
   */
  private readonly inAgentNamespace = new Set<string>();

  constructor(
    private readonly o: NamespacesPidOptions = { disallowSharingAgentPidNamespace: false },
  ) {
    super();
  }

  override async prepare(config: ContainerConfig): Promise<LaunchPreparation | undefined> {
    const share = config.executor.container?.linux_info?.share_pid_namespace === true;
    const parent = parentContainerId(config.containerId);
    this.inAgentNamespace.delete(config.containerId);
    if (parent === undefined) {
      if (!share) return { pidNamespace: true, mountNamespace: true };
      if (this.o.disallowSharingAgentPidNamespace) {
        throw new Error(SHARING_AGENT_PID_NAMESPACE_REFUSED);
      }
      this.inAgentNamespace.add(config.containerId);
      // The agent's pid namespace, and so the host's /proc as it is.
      return undefined;
    }
    // Not sharing: a namespace of its own. It is created below the agent's
    // (Mesos nests it in the parent's): the shim runs in the agent's, and a
    // DEBUG child finds the container's namespace as pid_for_children of
    // the shim's pid only when the shim itself made it.
    if (!share) return { pidNamespace: true, mountNamespace: true };
    // Sharing its parent's: join the namespace the parent's first process
    // created (nothing to join when that is the agent's), and mount a /proc
    // that shows it.
    const preparation: LaunchPreparation = { mountNamespace: true, mountProc: true };
    const pid = this.pids.get(parent);
    if (pid === undefined) {
      throw new Error(`The pid namespace of parent container '${parent}' is not known`);
    }
    const namespace = `/proc/${pid}/ns/pid_for_children`;
    const [theirs, ours] = await Promise.all([
      readlink(namespace).catch(() => undefined),
      readlink("/proc/self/ns/pid"),
    ]);
    // The agent's namespace where the parent has one of its own: its first
    // process is gone (the pid now another's, say the host's) or has not
    // made it yet; the container would see and signal every process.
    if (theirs === undefined || (theirs === ours && !this.inAgentNamespace.has(parent))) {
      throw new Error(`The pid namespace of parent container '${parent}' is gone`);
    }
    if (theirs !== ours) preparation.pidNamespaceToEnter = namespace;
    else this.inAgentNamespace.add(config.containerId);
    return preparation;
  }

  override async isolate(containerId: string, pid: number): Promise<void> {
    this.pids.set(containerId, pid);
  }

  override async recover(containers: ReadonlyMap<string, number>): Promise<void> {
    const ours = await readlink("/proc/self/ns/pid");
    for (const [id, pid] of containers) {
      this.pids.set(id, pid);
      // Long started: a process whose children are in the agent's namespace shares it.
      const theirs = await readlink(`/proc/${pid}/ns/pid_for_children`).catch(() => undefined);
      if (theirs === ours) this.inAgentNamespace.add(id);
    }
  }

  override async cleanup(containerId: string): Promise<void> {
    this.pids.delete(containerId);
    this.inAgentNamespace.delete(containerId);
  }
}

/**
 * `namespaces/ipc`: System V IPC objects and POSIX message queues of a
 * container live in an IPC namespace of their own (they vanish with it),
 * and POSIX shared memory in a /dev/shm of its own, following the
 * container's `LinuxInfo.ipc_mode`:
 *
 * - `PRIVATE`: a new IPC namespace and a new tmpfs at /dev/shm, sized by
 *   `LinuxInfo.shm_size` (MB) or `--default_container_shm_size` (else the
 *   kernel's default, half of RAM). The tmpfs is mounted on the host under
 *   `<runtime_dir>/containers/<id>/shm` and bind-mounted in the container,
 *   so nested containers can share it.
 * - `SHARE_PARENT`: a top-level container stays in the agent's IPC
 *   namespace and sees its /dev/shm (refused with
 *   `--disallow_sharing_agent_ipc_namespace`); a nested container joins its
 *   parent's IPC namespace and /dev/shm.
 * - unset (Mesos' older behaviour): a top-level container gets a new IPC
 *   namespace, a nested one joins its parent's; either keeps the /dev/shm
 *   it sees (the agent's or the parent's), unless it has its own root
 *   filesystem, which then gets an empty tmpfs /dev/shm.
 *
 * `shm_size` is only accepted with `PRIVATE`. As in Mesos, the isolator
 * needs root, `filesystem/linux` and `--launcher=linux`.
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, rmdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { LinuxInfo_IpcMode } from "../../../common/protocol/generated/mesos-v1.js";
import { BaseIsolator, type ContainerConfig, type LaunchPreparation, MB } from "./isolator.js";

/** How nested container ids are written (`<parent>/mesos/<child>`). */
const NESTED_SEPARATOR = "/mesos/";

/** Runs a short command as the agent (root): exit code and output. */
export type CommandRunner = (
  file: string,
  args: string[],
) => Promise<{ code: number | null; output: string }>;

export interface NamespacesIpcOptions {
  /** `--runtime_dir`: the containers' /dev/shm mounts are made under it. */
  runtimeDir: string;
  /** `--default_container_shm_size` in bytes; undefined: the kernel's default. */
  defaultShmSizeBytes?: number | undefined;
  /** `--disallow_sharing_agent_ipc_namespace`. */
  disallowSharingAgentIpcNamespace: boolean;
  run: CommandRunner;
}

/** The parent of a nested container id, or undefined for a top-level one. */
export function parentContainerId(containerId: string): string | undefined {
  const at = containerId.lastIndexOf(NESTED_SEPARATOR);
  return at < 0 ? undefined : containerId.slice(0, at);
}

/** `<runtime_dir>/containers/<id>/shm`, nested ids under their parent's `containers/`. */
export function containerShmPath(runtimeDir: string, containerId: string): string {
  const parts = containerId.split(NESTED_SEPARATOR);
  return join(runtimeDir, "containers", parts.join("/containers/"), "shm");
}

export class NamespacesIpcIsolator extends BaseIsolator {
  readonly name = "namespaces/ipc";
  /** Pids of the containers (their IPC namespace is /proc/<pid>/ns/ipc). */
  private readonly pids = new Map<string, number>();
  /** Containers whose /dev/shm is a tmpfs of their own on the host. */
  private readonly privateShm = new Set<string>();
  /** Containers that share the agent's IPC namespace and /dev/shm. */
  private readonly onAgentIpc = new Set<string>();
  /** Leftovers of the previous agent run were looked for. */
  private swept = false;

  constructor(private readonly o: NamespacesIpcOptions) {
    super();
  }

  override async prepare(config: ContainerConfig): Promise<LaunchPreparation> {
    const linux = config.executor.container?.linux_info;
    const mode: LinuxInfo_IpcMode | undefined = linux?.ipc_mode;
    const hasRootfs = config.executor.container?.mesos?.image !== undefined;
    let shmSizeBytes: number | undefined;
    if (linux?.shm_size !== undefined) {
      if (mode !== "PRIVATE") {
        throw new Error(
          "Only support specifying the size of /dev/shm when the IPC mode is `PRIVATE`",
        );
      }
      shmSizeBytes = linux.shm_size * MB;
    } else if (linux !== undefined) {
      shmSizeBytes = this.o.defaultShmSizeBytes;
    }
    if (mode === "UNKNOWN") throw new Error("Unknown IPC mode");
    const id = config.containerId;
    const parent = parentContainerId(id);
    // Nothing was recovered (else recover swept already): leftovers are all gone.
    if (parent === undefined) await this.sweepLeftovers(new Set(this.pids.keys()));
    if (mode === "PRIVATE") {
      const shm = await this.mountPrivateShm(id, shmSizeBytes);
      return { ipcNamespace: "new", mountNamespace: true, shm: { bind: shm } };
    }
    if (parent === undefined) {
      if (mode === undefined) {
        return hasRootfs
          ? { ipcNamespace: "new", mountNamespace: true, shm: { tmpfs: true } }
          : { ipcNamespace: "new" };
      }
      // SHARE_PARENT at the top level: the agent's namespace and /dev/shm.
      if (this.o.disallowSharingAgentIpcNamespace) {
        throw new Error("Sharing agent IPC namespace with top-level container is not allowed");
      }
      this.onAgentIpc.add(id);
      return hasRootfs ? { mountNamespace: true, shm: { bind: "/dev/shm" } } : {};
    }
    // A nested container that joins its parent's IPC namespace.
    const preparation: LaunchPreparation = {};
    if (!this.onAgentIpc.has(parent)) {
      const pid = this.pids.get(parent);
      if (pid === undefined) {
        throw new Error(`The IPC namespace of parent container '${parent}' is not known`);
      }
      preparation.ipcNamespace = { enter: `/proc/${pid}/ns/ipc` };
    } else {
      this.onAgentIpc.add(id);
    }
    if (mode === undefined) {
      if (hasRootfs) Object.assign(preparation, { mountNamespace: true, shm: { tmpfs: true } });
      return preparation;
    }
    // SHARE_PARENT: the parent's /dev/shm (nothing to do when that is the agent's, seen as is).
    const parentShm = this.privateShm.has(parent)
      ? containerShmPath(this.o.runtimeDir, parent)
      : undefined;
    if (parentShm !== undefined || hasRootfs) {
      Object.assign(preparation, { mountNamespace: true, shm: { bind: parentShm ?? "/dev/shm" } });
    }
    return preparation;
  }

  override async isolate(containerId: string, pid: number): Promise<void> {
    this.pids.set(containerId, pid);
  }

  override async recover(containers: ReadonlyMap<string, number>): Promise<void> {
    for (const [id, pid] of containers) {
      this.pids.set(id, pid);
      if (existsSync(containerShmPath(this.o.runtimeDir, id))) this.privateShm.add(id);
    }
    // The executors' recovery (nested containers recover one at a time).
    if ([...containers.keys()].some((id) => parentContainerId(id) === undefined)) {
      await this.sweepLeftovers(new Set(containers.keys()));
    }
  }

  /**
   * Unmounts the /dev/shm of top-level containers that ended while the
   * agent was down (with their nested containers'). It runs with the
   * executors' recovery or, when there was nothing to recover, before the
   * first launch.
   */
  private async sweepLeftovers(alive: ReadonlySet<string>): Promise<void> {
    if (this.swept) return;
    this.swept = true;
    const root = join(this.o.runtimeDir, "containers");
    const ids = await readdir(root).catch(() => [] as string[]);
    const mounts = await readFile("/proc/self/mounts", "utf8").catch(() => "");
    for (const id of ids) {
      if (alive.has(id)) continue;
      const dir = join(root, id);
      // Deepest first: a nested container's tmpfs lies inside its parent's directory.
      const inside = mounts
        .split("\n")
        .map((line) => line.split(" ")[1] ?? "")
        .filter((target) => target.startsWith(`${dir}/`))
        .sort((a, b) => b.length - a.length);
      for (const target of inside) await this.o.run("umount", [target]);
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  override async cleanup(containerId: string): Promise<void> {
    this.pids.delete(containerId);
    this.onAgentIpc.delete(containerId);
    this.privateShm.delete(containerId);
    const shm = containerShmPath(this.o.runtimeDir, containerId);
    if (!existsSync(shm)) return;
    const r = await this.o.run("umount", [shm]);
    if (r.code !== 0 && !/not mounted/.test(r.output)) {
      throw new Error(
        `Failed to unmount container shared memory directory '${shm}': ${r.output.trim()}`,
      );
    }
    await rm(shm, { recursive: true, force: true });
    // Its directory goes too unless a nested container's is still in it.
    await rmdir(dirname(shm)).catch(() => undefined);
  }

  /** Mounts a new tmpfs for the container's /dev/shm on the host; returns its path. */
  private async mountPrivateShm(id: string, sizeBytes: number | undefined): Promise<string> {
    const shm = containerShmPath(this.o.runtimeDir, id);
    try {
      await mkdir(shm, { recursive: true });
    } catch (e) {
      throw new Error(
        `Failed to create container shared memory directory: ${(e as Error).message}`,
      );
    }
    const options = `mode=1777${sizeBytes === undefined ? "" : `,size=${sizeBytes}`},nosuid,nodev,strictatime`;
    const r = await this.o.run("mount", ["-t", "tmpfs", "-o", options, "tmpfs", shm]);
    if (r.code !== 0) throw new Error(`Failed to mount '${shm}': ${r.output.trim()}`);
    this.privateShm.add(id);
    return shm;
  }
}

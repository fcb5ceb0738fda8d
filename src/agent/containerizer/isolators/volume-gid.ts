/**
 * The containers' side of `--volume_gid_range` (src/agent/volume-gid-manager.ts):
 * loaded, after the isolators of `--isolation`, whenever the flag is set.
 *
 * When a container runs as a non-root user, `prepare` asks the manager for
 * the gid of each persistent volume it uses and of each of its SANDBOX_PATH
 * volumes of type PARENT whose source is owned by another user, and the
 * launch adds those gids to the process' supplementary groups. The gids of
 * a container's PARENT SANDBOX_PATH volumes are released when the
 * container whose sandbox holds them ends (its `cleanup`), the persistent
 * volumes' when the volume is destroyed (agent-runtime.ts).
 *
 * Unlike Mesos, PARENT volumes get a gid without `filesystem/linux` too:
 * a symlinked volume can be reached, as sandboxes here are 0755 (Mesos'
 * are 0750, so it only does this for bind mounts).
 *
 * The parent's sandbox is its task's: a PARENT source that leads out of it
 * (a link the task made) gets a gid only when it is a persistent volume
 * of the container, else a task could have /etc, or another framework's
 * volume, given a gid of its own; and below the top-level sandbox the
 * manager follows no link (volume-gid-manager.ts).
 */
import { realpath, stat } from "node:fs/promises";
import type { VolumeGidManager } from "../../volume-gid-manager.js";
import { BaseIsolator, type ContainerConfig, type LaunchPreparation } from "./isolator.js";
import { sandboxPathOf } from "./volume-sandbox-path.js";

export interface VolumeGidIsolatorOptions {
  manager: VolumeGidManager;
  /**
   * The directories of the persistent volumes a top-level container is
   * launched with (its executor's and first tasks'), resource-provider
   * volumes left out.
   */
  persistentVolumesOf: (containerId: string) => readonly string[];
  /**
   * The directories of the agent's own persistent volumes a top-level
   * container holds now (its executor's and all its tasks'): the only
   * places outside a parent's sandbox a PARENT volume may lead to and
   * still get a gid.
   */
  heldVolumesOf: (containerId: string) => readonly string[];
  /** The container ended: what `persistentVolumesOf` knew of it can go. */
  forget: (containerId: string) => void;
  /** The agent's `--work_dir` (standalone containers' sandboxes are in it). */
  workDir: string;
  /** SANDBOX_PATH volumes are made (volume/sandbox_path or filesystem/linux is on). */
  sandboxPathVolumes: boolean;
}

export class VolumeGidIsolator extends BaseIsolator {
  readonly name = "volume/gid";
  /** Sandboxes of the containers prepared by this agent run, by container id. */
  private readonly sandboxes = new Map<string, string>();

  constructor(private readonly o: VolumeGidIsolatorOptions) {
    super();
  }

  override async prepare(config: ContainerConfig): Promise<LaunchPreparation | undefined> {
    this.sandboxes.set(config.containerId, config.directory);
    // Root (or the agent's own user: no switch) reaches every volume already.
    const user = config.user;
    if (user === undefined || user.uid === 0) return undefined;
    const gids: number[] = [];
    const add = (gid: number) => {
      if (!gids.includes(gid)) gids.push(gid);
    };
    for (const path of this.o.persistentVolumesOf(config.containerId)) {
      add(await this.o.manager.allocate(path, "PERSISTENT"));
    }
    const volumes = this.o.sandboxPathVolumes ? (config.executor.container?.volumes ?? []) : [];
    for (const volume of volumes) {
      const sp = sandboxPathOf(volume, config.directory, config.parentDirectory, true);
      if (sp === undefined || "error" in sp || sp.type !== "PARENT") continue;
      // Created by filesystem/linux or volume/sandbox_path, which run before.
      let source: string;
      let root: string;
      let owner: number;
      try {
        source = await realpath(sp.source);
        root = await realpath(sp.root);
        owner = (await stat(source)).uid;
      } catch (e) {
        throw new Error(`Failed to stat '${sp.source}': ${(e as Error).message}`);
      }
      // A link out of the parent's sandbox is a persistent volume the
      // parent was given (the default executor hands its tasks their
      // volumes this way): it keeps its gid for as long as it exists.
      const inParent = source === root || source.startsWith(`${root}/`);
      if (!inParent) {
        const volume = await this.heldVolume(config.containerId, source);
        // Anything else is left as it is: the task reaches it as its own user, or not at all.
        if (volume !== undefined) add(await this.o.manager.allocate(volume, "PERSISTENT"));
        continue;
      }
      if (owner === user.uid) continue;
      // Kept under the path in the parent's sandbox: its cleanup releases it by that prefix.
      add(
        await this.o.manager.allocate(
          sp.source,
          "SANDBOX_PATH",
          topSandbox(config.containerId, sp.root),
        ),
      );
    }
    return gids.length === 0 ? undefined : { supplementaryGroups: gids };
  }

  /**
   * The persistent volume of the container's top-level container whose
   * directory is `source` (resolved), as the agent names it.
   */
  private async heldVolume(containerId: string, source: string): Promise<string | undefined> {
    const [rootId = ""] = containerId.split("/mesos/");
    for (const path of this.o.heldVolumesOf(rootId)) {
      if ((await realpath(path).catch(() => undefined)) === source) return path;
    }
    return undefined;
  }

  override async cleanup(containerId: string): Promise<void> {
    this.o.forget(containerId);
    const sandbox = this.sandboxes.get(containerId) ?? this.recoveredSandbox(containerId);
    this.sandboxes.delete(containerId);
    if (sandbox !== undefined) await this.o.manager.deallocate(sandbox);
  }

  /**
   * The sandbox of a container prepared before the agent restarted, found
   * in the allocations by its id: an executor's sandbox ends in
   * `/runs/<id>`, a standalone container's is `<work_dir>/containers/<id>`,
   * and a nested container (`<parent>/mesos/<child>`) is in
   * `<parent's sandbox>/containers/<child>`.
   */
  private recoveredSandbox(containerId: string): string | undefined {
    const [rootId = "", ...children] = containerId.split("/mesos/");
    const tail = children.map((child) => `/containers/${child}`).join("");
    const standalone = `${this.o.workDir}/containers/${rootId}${tail}`;
    for (const info of this.o.manager.allocations()) {
      if (info.path.startsWith(`${standalone}/`)) return standalone;
      const marker = `/runs/${rootId}${tail}/`;
      const at = info.path.indexOf(marker);
      if (at >= 0) return info.path.slice(0, at + marker.length - 1);
    }
    return undefined;
  }
}

/**
 * The top-level container's sandbox, from the sandbox of the parent of the
 * nested container `containerId`: a nested sandbox is
 * `<parent's sandbox>/containers/<id>`, in directories its parents' tasks
 * own, so the manager follows no link below the top-level one.
 */
export function topSandbox(containerId: string, parentSandbox: string): string {
  const ids = containerId.split("/mesos/");
  let top = parentSandbox;
  // ids: the top-level id, then one per level; the last is the container's own.
  for (let i = ids.length - 2; i >= 1; i--) {
    const tail = `/containers/${ids[i]}`;
    if (!top.endsWith(tail)) return parentSandbox;
    top = top.slice(0, -tail.length);
  }
  return top;
}

/**
 * `cgroups/pids`: puts the container in a pids cgroup, which counts its
 * processes and threads for the statistics (no limit is set: Mesos has no
 * resource for it).
 */
import type { ResourceStatistics } from "../../../common/protocol/generated/mesos-v1.js";
import {
  type CgroupsHierarchy,
  cgroupPids,
  killCgroup,
  readControl,
  removeCgroup,
} from "../cgroups/hierarchy.js";
import { BaseIsolator, type ContainerConfig, type LaunchPreparation } from "./isolator.js";

export class CgroupsPidsIsolator extends BaseIsolator {
  readonly name = "cgroups/pids";

  constructor(private readonly cgroups: CgroupsHierarchy) {
    super();
  }

  override async prepare(config: ContainerConfig): Promise<LaunchPreparation> {
    const path = await this.cgroups.create("pids", config.containerId);
    return { cgroupProcs: [`${path}/cgroup.procs`] };
  }

  override async usage(containerId: string): Promise<ResourceStatistics> {
    const path = this.cgroups.path("pids", containerId);
    const stats: ResourceStatistics = { timestamp: 0 };
    stats.processes = (await cgroupPids(path)).length;
    try {
      stats.threads = Number(await readControl(path, "pids.current"));
    } catch {
      // gone
    }
    return stats;
  }

  override async cleanup(containerId: string): Promise<void> {
    const path = this.cgroups.path("pids", containerId);
    await killCgroup(path, this.cgroups.version);
    await removeCgroup(path);
  }
}

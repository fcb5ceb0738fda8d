/**
 * Where a container's v1 cgroup for a subsystem is, for isolators that
 * nested containers go through (cgroups/devices, cgroups/blkio). A nested
 * container (id `<parent>/mesos/<child>`) that shares its parent's cgroups
 * (`linux_info.share_cgroups` unset or true) joins the nearest ancestor's
 * cgroup, as in Mesos, so its I/O counts for the parent; one with
 * `share_cgroups: false` (the default executor's tasks) gets its own cgroup
 * below the parent's.
 */
import { existsSync } from "node:fs";
import type { CgroupsHierarchy, Subsystem } from "../cgroups/hierarchy.js";
import type { ContainerConfig } from "./isolator.js";

/** The ancestors of a container id, nearest first (`a/mesos/b/mesos/c` -> `a/mesos/b`, `a`). */
export function ancestorIds(containerId: string): string[] {
  const parts = containerId.split("/");
  const out: string[] = [];
  for (let n = parts.length - 2; n > 0; n -= 2) out.push(parts.slice(0, n).join("/"));
  return out;
}

/**
 * The cgroup the container's processes join: the nearest existing
 * ancestor's when it shares cgroups (`created` false), else its own, made
 * here (`created` true).
 */
export async function containerCgroup(
  cgroups: CgroupsHierarchy,
  subsystem: Subsystem,
  config: ContainerConfig,
): Promise<{ path: string; created: boolean }> {
  const shares = config.executor.container?.linux_info?.share_cgroups !== false;
  if (shares) {
    for (const id of ancestorIds(config.containerId)) {
      const path = cgroups.path(subsystem, id);
      if (existsSync(path)) return { path, created: false };
    }
  }
  return { path: await cgroups.create(subsystem, config.containerId), created: true };
}

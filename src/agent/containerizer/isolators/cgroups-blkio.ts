/**
 * `cgroups/blkio`: puts each container in a v1 blkio cgroup and reports its
 * block I/O in ResourceStatistics.blkio_statistics: the throttling layer's
 * bytes and operations per device (always there), and the CFQ scheduler's
 * counters when the kernel still has them (CFQ went away in Linux 5.0; the
 * files are read when present). No limits are set: Mesos has none either.
 */
import type {
  CgroupInfo_Blkio_CFQ_Statistics,
  CgroupInfo_Blkio_Operation,
  CgroupInfo_Blkio_Statistics,
  CgroupInfo_Blkio_Throttling_Statistics,
  CgroupInfo_Blkio_Value,
  ResourceStatistics,
} from "../../../common/protocol/generated/mesos-v1.js";
import {
  type CgroupsHierarchy,
  killCgroup,
  readControl,
  removeCgroup,
} from "../cgroups/hierarchy.js";
import { BaseIsolator, type ContainerConfig, type LaunchPreparation } from "./isolator.js";
import { containerCgroup } from "./nested-cgroup.js";

/** One line of a blkio statistics file. */
export interface BlkioValue {
  /** Undefined on the file's total line. */
  device?: { major: number; minor: number } | undefined;
  /** Undefined for files without operations (blkio.time, blkio.sectors). */
  op?: CgroupInfo_Blkio_Operation | undefined;
  value: number;
}

const OPERATIONS: Readonly<Record<string, CgroupInfo_Blkio_Operation>> = {
  Total: "TOTAL",
  Read: "READ",
  Write: "WRITE",
  Sync: "SYNC",
  Async: "ASYNC",
  Discard: "DISCARD",
};

/**
 * Parses a blkio file: `8:0 Read 4096` (device, operation, value),
 * `8:0 1234` (device, value), `Total 4096` (all devices) or a lone number.
 * Lines it does not understand are skipped.
 */
export function parseBlkioValues(text: string): BlkioValue[] {
  const out: BlkioValue[] = [];
  const device = (s: string) => {
    const m = /^(\d+):(\d+)$/.exec(s);
    return m === null ? undefined : { major: Number(m[1]), minor: Number(m[2]) };
  };
  const number = (s: string) => (/^\d+$/.test(s) ? Number(s) : undefined);
  for (const line of text.split("\n")) {
    const t = line
      .trim()
      .split(/\s+/)
      .filter((x) => x !== "");
    if (t.length === 1) {
      const value = number(t[0] as string);
      if (value !== undefined) out.push({ value });
    } else if (t.length === 2) {
      const value = number(t[1] as string);
      if (value === undefined) continue;
      const op = OPERATIONS[t[0] as string];
      if (op !== undefined) {
        out.push({ op, value });
        continue;
      }
      const d = device(t[0] as string);
      if (d !== undefined) out.push({ device: d, value });
    } else if (t.length === 3) {
      const d = device(t[0] as string);
      const op = OPERATIONS[t[1] as string];
      const value = number(t[2] as string);
      if (d !== undefined && op !== undefined && value !== undefined) {
        out.push({ device: d, op, value });
      }
    }
  }
  return out;
}

/** The texts of a cgroup's blkio files (undefined: the file is absent). */
export interface BlkioFiles {
  throttleIoServiced?: string | undefined;
  throttleIoServiceBytes?: string | undefined;
  /** CFQ files by their name after `blkio.` (e.g. `time`, `io_merged_recursive`). */
  cfq?: Readonly<Record<string, string>> | undefined;
}

/** CFQ counters that are per-operation lists (the rest are single numbers). */
const CFQ_LISTS = [
  "io_serviced",
  "io_service_bytes",
  "io_service_time",
  "io_wait_time",
  "io_merged",
  "io_queued",
] as const;

/** The CFQ files `usage` reads, without and with `_recursive`. */
export const CFQ_FILES: readonly string[] = ["time", "sectors", ...CFQ_LISTS].flatMap((f) => [
  f,
  `${f}_recursive`,
]);

const key = (d: { major: number; minor: number }) => `${d.major}:${d.minor}`;
const toValue = (v: BlkioValue): CgroupInfo_Blkio_Value => ({
  op: v.op ?? "UNKNOWN",
  value: v.value,
});

/**
 * Builds blkio_statistics as Mesos lays it out: one entry per device (with
 * its major/minor numbers), then one for the total lines (no device).
 * The CFQ lists are filled when `files.cfq` is given.
 */
export function blkioStatistics(files: BlkioFiles): CgroupInfo_Blkio_Statistics {
  const throttling = new Map<string, CgroupInfo_Blkio_Throttling_Statistics>();
  const throttlingTotal: CgroupInfo_Blkio_Throttling_Statistics = {};
  const throttleEntry = (v: BlkioValue) => {
    if (v.device === undefined) return throttlingTotal;
    let e = throttling.get(key(v.device));
    if (e === undefined) {
      e = { device: { major_number: v.device.major, minor_number: v.device.minor } };
      throttling.set(key(v.device), e);
    }
    return e;
  };
  for (const v of parseBlkioValues(files.throttleIoServiced ?? "")) {
    const e = throttleEntry(v);
    e.io_serviced = [...(e.io_serviced ?? []), toValue(v)];
  }
  for (const v of parseBlkioValues(files.throttleIoServiceBytes ?? "")) {
    const e = throttleEntry(v);
    e.io_service_bytes = [...(e.io_service_bytes ?? []), toValue(v)];
  }
  const stats: CgroupInfo_Blkio_Statistics = {
    throttling: [...throttling.values(), throttlingTotal],
  };
  if (files.cfq !== undefined) {
    stats.cfq = cfqStatistics(files.cfq, "");
    stats.cfq_recursive = cfqStatistics(files.cfq, "_recursive");
  }
  return stats;
}

function cfqStatistics(
  files: Readonly<Record<string, string>>,
  suffix: string,
): CgroupInfo_Blkio_CFQ_Statistics[] {
  const byDevice = new Map<string, CgroupInfo_Blkio_CFQ_Statistics>();
  const total: CgroupInfo_Blkio_CFQ_Statistics = {};
  const entry = (v: BlkioValue) => {
    if (v.device === undefined) return total;
    let e = byDevice.get(key(v.device));
    if (e === undefined) {
      e = { device: { major_number: v.device.major, minor_number: v.device.minor } };
      byDevice.set(key(v.device), e);
    }
    return e;
  };
  for (const field of ["time", "sectors"] as const) {
    for (const v of parseBlkioValues(files[`${field}${suffix}`] ?? "")) entry(v)[field] = v.value;
  }
  for (const field of CFQ_LISTS) {
    for (const v of parseBlkioValues(files[`${field}${suffix}`] ?? "")) {
      const e = entry(v);
      e[field] = [...(e[field] ?? []), toValue(v)];
    }
  }
  return [...byDevice.values(), total];
}

export class CgroupsBlkioIsolator extends BaseIsolator {
  readonly name = "cgroups/blkio";

  constructor(private readonly cgroups: CgroupsHierarchy) {
    super();
  }

  override async prepare(config: ContainerConfig): Promise<LaunchPreparation> {
    const { path } = await containerCgroup(this.cgroups, "blkio", config);
    return { cgroupProcs: [`${path}/cgroup.procs`] };
  }

  override async usage(containerId: string): Promise<ResourceStatistics> {
    const path = this.cgroups.path("blkio", containerId);
    const read = (file: string) => readControl(path, `blkio.${file}`).catch(() => undefined);
    const throttleIoServiced = await read("throttle.io_serviced");
    const throttleIoServiceBytes = await read("throttle.io_service_bytes");
    // The cgroup is gone (container ended): nothing to report.
    if (throttleIoServiced === undefined && throttleIoServiceBytes === undefined) {
      return { timestamp: 0 };
    }
    let cfq: Record<string, string> | undefined;
    if ((await read("time")) !== undefined) {
      cfq = {};
      for (const file of CFQ_FILES) {
        const text = await read(file);
        if (text !== undefined) cfq[file] = text;
      }
    }
    return {
      timestamp: 0,
      blkio_statistics: blkioStatistics({ throttleIoServiced, throttleIoServiceBytes, cfq }),
    };
  }

  override async cleanup(containerId: string): Promise<void> {
    const path = this.cgroups.path("blkio", containerId);
    await killCgroup(path, this.cgroups.version);
    await removeCgroup(path);
  }
}

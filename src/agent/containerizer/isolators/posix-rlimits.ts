/**
 * `posix/rlimits`: applies `ContainerInfo.rlimit_info` to the executor
 * (and so to its tasks) with `prlimit` right before exec. A limit without
 * soft and hard values is unlimited; soft may not exceed hard.
 */
import type {
  RLimitInfo_RLimit,
  RLimitInfo_RLimit_Type,
} from "../../../common/protocol/generated/mesos-v1.js";
import { BaseIsolator, type ContainerConfig, type LaunchPreparation } from "./isolator.js";

/** prlimit's option for each rlimit type. */
const PRLIMIT_OPTION: Partial<Record<RLimitInfo_RLimit_Type, string>> = {
  RLMT_AS: "as",
  RLMT_CORE: "core",
  RLMT_CPU: "cpu",
  RLMT_DATA: "data",
  RLMT_FSIZE: "fsize",
  RLMT_LOCKS: "locks",
  RLMT_MEMLOCK: "memlock",
  RLMT_MSGQUEUE: "msgqueue",
  RLMT_NICE: "nice",
  RLMT_NOFILE: "nofile",
  RLMT_NPROC: "nproc",
  RLMT_RSS: "rss",
  RLMT_RTPRIO: "rtprio",
  RLMT_RTTIME: "rttime",
  RLMT_SIGPENDING: "sigpending",
  RLMT_STACK: "stack",
};

/** `--nofile=soft:hard` options for prlimit, or an error text for a bad limit. */
export function prlimitOptions(
  rlimits: readonly RLimitInfo_RLimit[],
): { ok: true; options: string[] } | { ok: false; error: string } {
  const options: string[] = [];
  for (const r of rlimits) {
    const option = r.type === undefined ? undefined : PRLIMIT_OPTION[r.type];
    if (option === undefined) return { ok: false, error: `unknown rlimit type '${r.type ?? ""}'` };
    if ((r.soft === undefined) !== (r.hard === undefined)) {
      return { ok: false, error: `rlimit ${r.type} needs both soft and hard, or neither` };
    }
    if (r.soft === undefined || r.hard === undefined) {
      options.push(`--${option}=unlimited:unlimited`);
      continue;
    }
    if (r.soft > r.hard) {
      return { ok: false, error: `rlimit ${r.type}: soft limit ${r.soft} exceeds hard ${r.hard}` };
    }
    options.push(`--${option}=${r.soft}:${r.hard}`);
  }
  return { ok: true, options };
}

export class PosixRlimitsIsolator extends BaseIsolator {
  readonly name = "posix/rlimits";

  override async prepare(config: ContainerConfig): Promise<LaunchPreparation | undefined> {
    const rlimits = config.executor.container?.rlimit_info?.rlimits ?? [];
    if (rlimits.length === 0) return undefined;
    const parsed = prlimitOptions(rlimits);
    if (!parsed.ok) throw new Error(`Invalid rlimits: ${parsed.error}`);
    return { rlimits: parsed.options };
  }
}

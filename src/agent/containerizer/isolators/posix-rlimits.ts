/**
 * `posix/rlimits`: applies `ContainerInfo.rlimit_info` to the executor
 * (and so to its tasks) with `prlimit` right before exec. A limit without
 * soft and hard values is unlimited; soft may not exceed hard.
 *
 * As in Mesos, a limit that cannot be set is not refused up front: the
 * launch fails inside the container (Mesos' launcher message on the
 * sandbox's stderr, exit status 1), so the task fails with
 * REASON_EXECUTOR_TERMINATED.
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

/**
 * `--nofile=soft:hard` options for prlimit, or, for the first limit that
 * cannot be set, Mesos' launcher message (`Failed to set RLMT_CPU limit:
 * Invalid argument`).
 */
export function prlimitOptions(
  rlimits: readonly RLimitInfo_RLimit[],
): { ok: true; options: string[] } | { ok: false; error: string } {
  const options: string[] = [];
  for (const r of rlimits) {
    const type = r.type ?? "UNKNOWN";
    const failed = (why: string) => ({
      ok: false as const,
      error: `Failed to set ${type} limit: ${why}`,
    });
    const option = PRLIMIT_OPTION[type];
    if (option === undefined) return failed("Could not convert rlimit: Unknown rlimit type");
    if ((r.soft === undefined) !== (r.hard === undefined)) return failed("Invalid rlimit values");
    if (r.soft === undefined || r.hard === undefined) {
      options.push(`--${option}=unlimited:unlimited`);
      continue;
    }
    // setrlimit(2)'s EINVAL.
    if (r.soft > r.hard) return failed("Invalid argument");
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
    if (!parsed.ok) return { launchFailure: parsed.error };
    return { rlimits: parsed.options };
  }
}

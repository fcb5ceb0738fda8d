/** mesos-execute, the CLI framework, run to its end against a test's master. */
import { type DaemonHandle, type RunResult, runBinary } from "./processes.js";

/** Runs mesos-execute with `args` against `master`; its exit, stdout and stderr (killed after `timeoutMs`). */
export function mesosExecute(
  master: DaemonHandle,
  args: string[],
  timeoutMs = 60_000,
): Promise<RunResult> {
  return runBinary("mesos-execute", [`--master=${master.address}`, ...args], { timeoutMs });
}

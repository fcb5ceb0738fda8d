/**
 * The `check_status` Mesos puts in every status update of a task that has
 * a check: the check's type with an empty result until a check has run.
 * Checks themselves are not run yet (a later issue).
 */
import type { CheckInfoRef, CheckStatusInfo } from "./protocol.js";

/** The empty check status for `check`, or undefined when the task has no (known) check. */
export function emptyCheckStatus(check: CheckInfoRef | undefined): CheckStatusInfo | undefined {
  const type = check?.type;
  if (type === "COMMAND") return { type, command: {} };
  if (type === "HTTP") return { type, http: {} };
  if (type === "TCP") return { type, tcp: {} };
  return undefined;
}

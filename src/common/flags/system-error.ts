/**
 * The reason part of a Node system error, worded as C's strerror (what
 * Mesos prints): "Not a directory" from "ENOTDIR: not a directory, mkdir '/x'".
 */
export function systemErrorReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const reason = /^E[A-Z]+: ([^,]+),/.exec(message)?.[1];
  return reason === undefined ? message : reason.charAt(0).toUpperCase() + reason.slice(1);
}

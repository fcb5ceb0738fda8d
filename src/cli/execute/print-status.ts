/**
 * The lines mesos-execute prints for a status update, laid out as Mesos'
 * own mesos-execute prints them (tools and people grep for these).
 */
import type { CheckStatusInfo, TaskStatus } from "../../common/protocol/generated/mesos-v1.js";
import { Resources } from "../../common/resources/index.js";
import type { Resource as CommonResource } from "../../common/resources/types.js";

/** The lines for one status update, without line breaks. */
export function statusUpdateLines(status: TaskStatus): string[] {
  const lines = [`Received status update ${status.state} for task '${status.task_id.value}'`];
  if (status.message !== undefined) lines.push(`  message: '${status.message}'`);
  if (status.source !== undefined) lines.push(`  source: ${status.source}`);
  if (status.reason !== undefined) lines.push(`  reason: ${status.reason}`);
  // C++ streams print booleans as 1 and 0.
  if (status.healthy !== undefined) lines.push(`  healthy?: ${status.healthy ? 1 : 0}`);
  if (status.check_status !== undefined) {
    lines.push(`  check status: ${checkStatusText(status.check_status)}`);
  }
  const violated = status.limitation?.resources ?? [];
  if (violated.length > 0) {
    lines.push(
      `  resource limit violation: ${Resources.from(violated as CommonResource[]).toString()}`,
    );
  }
  return lines;
}

function checkStatusText(check: CheckStatusInfo): string {
  switch (check.type) {
    case "COMMAND":
      if (check.command === undefined) return "";
      return check.command.exit_code === undefined
        ? "COMMAND"
        : `COMMAND exit code ${check.command.exit_code}`;
    case "HTTP":
      if (check.http === undefined) return "";
      return check.http.status_code === undefined
        ? "HTTP"
        : `HTTP status code ${check.http.status_code}`;
    case "TCP":
      if (check.tcp === undefined) return "";
      return check.tcp.succeeded === undefined
        ? "TCP"
        : `TCP connection ${check.tcp.succeeded ? "success" : "failure"}`;
    default:
      return "UNKNOWN";
  }
}

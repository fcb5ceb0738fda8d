/**
 * RECONCILE: the master's answer to "what state are my tasks in?", as the
 * Mesos reconciliation document describes it. Implicit reconciliation (no
 * tasks listed) reports every task the master knows for the framework.
 * Explicit reconciliation answers each listed task:
 * - known task: its latest state (the one awaiting acknowledgement first);
 * - unknown task on an agent recovered from the registry that has not
 *   re-registered yet (or, without an agent id, while any such agent is
 *   missing): no answer yet; the framework retries later;
 * - unknown task on a registered agent: TASK_GONE;
 * - on an unreachable agent: TASK_UNREACHABLE (with the unreachable time);
 * - on an agent marked gone: TASK_GONE_BY_OPERATOR;
 * - otherwise: TASK_UNKNOWN.
 * Frameworks without the PARTITION_AWARE capability get TASK_LOST instead of
 * the last four.
 */
import type { StatusUpdate } from "../../common/protocol/generated/mesos-internal.js";
import type { Task, TaskState } from "../../common/protocol/generated/mesos-v1.js";
import type { Call_Reconcile_Task } from "../../common/protocol/generated/mesos-v1-scheduler.js";
import type { Master } from "./master.js";
import type { FrameworkRecord } from "./records.js";
import { masterStatusUpdate, updateEvent } from "./status-updates.js";

export function reconcileTasks(
  m: Master,
  framework: FrameworkRecord,
  tasks: readonly Call_Reconcile_Task[],
): void {
  const base = {
    frameworkId: framework.id,
    reason: "REASON_RECONCILIATION" as const,
    timestamp: m.nowSecs(),
  };
  const send = (update: StatusUpdate): void => m.sendEvent(framework, updateEvent(update, false));
  const known = (task: Task): StatusUpdate => {
    const statuses = task.statuses ?? [];
    const last = statuses[statuses.length - 1];
    // As Mesos: health and check result of the latest status, the newest container status.
    const container = statuses.findLast((s) => s.container_status !== undefined);
    return masterStatusUpdate({
      ...base,
      agentId: task.agent_id.value,
      taskId: task.task_id.value,
      state: task.status_update_state ?? task.state,
      message: "Reconciliation: Latest task state",
      executorId: task.executor_id?.value,
      healthy: last?.healthy,
      checkStatus: last?.check_status,
      containerStatus: container?.container_status,
    });
  };
  if (tasks.length === 0) {
    m.logger.info(`Performing implicit task state reconciliation for framework ${framework.id}`);
    for (const task of framework.tasks.values()) send(known(task));
    return;
  }
  m.logger.info(
    `Performing explicit task state reconciliation for ${tasks.length} tasks of framework ${framework.id}`,
  );
  const lost = (state: TaskState): TaskState => (framework.partitionAware ? state : "TASK_LOST");
  for (const t of tasks) {
    const taskId = t.task_id.value;
    const agentId = t.agent_id?.value;
    // Tasks on unreachable agents are answered by the agent's state below.
    const task = framework.tasks.get(taskId);
    if (task !== undefined) {
      send(known(task));
      continue;
    }
    const recovering =
      agentId === undefined ? m.recoveredAgents.size > 0 : m.recoveredAgents.has(agentId);
    if (recovering) {
      m.logger.info(
        `Dropping reconciliation of task ${taskId} of framework ${framework.id} because ` +
          `${agentId === undefined ? "some agents have" : `agent ${agentId} has`} not yet reregistered`,
      );
      continue;
    }
    const unknown = { ...base, agentId, taskId };
    if (agentId !== undefined && m.agents.has(agentId)) {
      send(
        masterStatusUpdate({
          ...unknown,
          state: lost("TASK_GONE"),
          message: "Reconciliation: Task is unknown to the agent",
        }),
      );
    } else if (agentId !== undefined && m.unreachableAgents.has(agentId)) {
      send(
        masterStatusUpdate({
          ...unknown,
          state: lost("TASK_UNREACHABLE"),
          message: "Reconciliation: Task is unreachable",
          unreachableTime: { nanoseconds: m.unreachableAgents.get(agentId) as number },
        }),
      );
    } else if (agentId !== undefined && m.goneAgents.has(agentId)) {
      send(
        masterStatusUpdate({
          ...unknown,
          state: lost("TASK_GONE_BY_OPERATOR"),
          message: "Reconciliation: Task is gone",
        }),
      );
    } else {
      send(
        masterStatusUpdate({
          ...unknown,
          state: lost("TASK_UNKNOWN"),
          message: "Reconciliation: Task is unknown",
        }),
      );
    }
  }
}

/** RECONCILE_OPERATIONS: answered from the master's operation records (operation-tracking.ts). */
export { reconcileOperations } from "./operation-tracking.js";

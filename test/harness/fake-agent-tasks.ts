/** Tasks as the fake agent (test/harness/fake-agent.ts) hands them to a real executor, and what it hears back. */
import type { TaskInfo } from "../../src/executor/protocol.js";
import type { FakeAgent } from "./fake-agent.js";

/** Task `id` with `command` (none when undefined) on the fake agent, with `extra` fields on top. */
export function fakeAgentTask(
  id: string,
  command: TaskInfo["command"],
  extra: Partial<TaskInfo> = {},
): TaskInfo {
  return {
    name: id,
    task_id: { value: id },
    agent_id: { value: "fake-agent-S0" },
    resources: [{ name: "cpus", allocation_info: { role: "web" } }],
    ...(command !== undefined ? { command } : {}),
    ...extra,
  };
}

/** A kill policy's grace period of `s` seconds. */
export const gracePeriod = (s: number) => ({ grace_period: { nanoseconds: s * 1e9 } });

/** The states of the updates the fake agent received for task `taskId`, in order. */
export function taskStates(agent: FakeAgent, taskId: string): string[] {
  return agent.updates.filter((u) => u.task_id.value === taskId).map((u) => u.state);
}

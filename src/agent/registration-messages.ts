/**
 * The messages an agent registers with: RegisterSlaveMessage the first
 * time, ReregisterSlaveMessage (carrying its frameworks, tasks, custom
 * executors and completed frameworks) once it has an id.
 */
import type {
  Archive_Framework,
  RegisterSlaveMessage,
  ReregisterSlaveMessage,
  SlaveInfo,
} from "../common/protocol/generated/mesos-internal.js";
import type {
  AgentInfo_Capability,
  ExecutorInfo,
  FrameworkInfo,
  Task,
} from "../common/protocol/generated/mesos-v1.js";
import { createTask } from "./executor.js";
import type { Framework } from "./framework.js";

/**
 * Capabilities every agent of ours advertises: the ones Mesos 1.12 requires
 * (`--agent_features`). RESOURCE_PROVIDER and AGENT_OPERATION_FEEDBACK: the
 * agent applies ApplyOperationMessage itself and reports operations
 * reliably, and sends UpdateSlaveMessage after (re)registering.
 */
export const AGENT_CAPABILITIES: readonly AgentInfo_Capability[] = [
  { type: "MULTI_ROLE" },
  { type: "HIERARCHICAL_ROLE" },
  { type: "RESERVATION_REFINEMENT" },
  { type: "RESOURCE_PROVIDER" },
  // It applies GROW_VOLUME and SHRINK_VOLUME (Mesos' masters ask for this).
  { type: "RESIZE_VOLUME" },
  { type: "AGENT_OPERATION_FEEDBACK" },
  { type: "TASK_RESOURCE_LIMITS" },
  { type: "AGENT_DRAINING" },
];

/** The first registration. */
export function registerMessage(
  info: SlaveInfo,
  version: string,
  capabilities: readonly AgentInfo_Capability[],
): RegisterSlaveMessage {
  return { slave: info, version, agent_capabilities: [...capabilities] };
}

/**
 * A re-registration: everything the master must learn about our frameworks
 * and tasks. `completed` are the frameworks that left this agent; their
 * finished tasks go along so that a master that failed over can list them
 * again (as Mesos' agent does in `completed_frameworks`).
 */
export function reregisterMessage(
  info: SlaveInfo,
  version: string,
  capabilities: readonly AgentInfo_Capability[],
  frameworks: Iterable<Framework>,
  completed: Iterable<Framework> = [],
): ReregisterSlaveMessage {
  const frameworkInfos: FrameworkInfo[] = [];
  const tasks: Task[] = [];
  const executorInfos: ExecutorInfo[] = [];
  for (const framework of frameworks) {
    frameworkInfos.push(framework.info);
    for (const executor of framework.executors.values()) {
      tasks.push(...executor.launchedTasks.values(), ...executor.terminatedTasks.values());
      for (const queued of executor.queuedTasks.values()) {
        tasks.push(createTask(queued, "TASK_STAGING", framework.id));
      }
      if (!executor.generatedForCommandTask && executor.state !== "TERMINATED") {
        executorInfos.push({ ...executor.info, framework_id: { value: framework.id } });
      }
    }
  }
  return {
    slave: info,
    version,
    agent_capabilities: [...capabilities],
    frameworks: frameworkInfos,
    tasks,
    executor_infos: executorInfos,
    completed_frameworks: [...completed].map(archivedFramework),
  };
}

/**
 * One completed framework as the master archives it: its info, its pid if
 * it had one, and the tasks of its completed executors (terminated but not
 * yet acknowledged, then completed).
 */
export function archivedFramework(framework: Framework): Archive_Framework {
  const tasks: Task[] = [];
  for (const executor of framework.completedExecutors) {
    tasks.push(...executor.terminatedTasks.values(), ...executor.completedTasks);
  }
  return {
    framework_info: framework.info,
    ...(framework.pid === undefined || framework.pid === "" ? {} : { pid: framework.pid }),
    tasks,
  };
}

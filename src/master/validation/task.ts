/**
 * Validation of TaskInfo and ExecutorInfo in a LAUNCH operation, in the
 * order and with the wording of Mesos (src/master/validation.cpp). The
 * master turns a failure into TASK_ERROR with REASON_TASK_INVALID.
 */

import type {
  CheckInfo,
  CommandInfo,
  ContainerInfo,
  ExecutorInfo,
  HealthCheck,
  TaskInfo,
} from "../../common/protocol/generated/mesos-v1.js";
import { codecFor } from "../../common/protocol/index.js";
import { type Resource as CoreResource, Resources } from "../../common/resources/index.js";
import { validateSecretVariable } from "../../common/secrets/validation.js";
import { validateId } from "./framework.js";
import {
  formatResourceField,
  overlappingSetsOrRanges,
  validateAllocatedToSingleRole,
  validateResourceList,
  validateRevocableMix,
  validateUniquePersistenceId,
} from "./resources.js";

/** What validation needs to know about the framework and agent of a launch. */
export interface LaunchContext {
  readonly frameworkId: string;
  readonly agentId: string;
  /** Whether a task id is in use by the framework (running, or on an unreachable agent). */
  taskIdInUse(taskId: string): "active" | "unreachable" | undefined;
  /** The executor the framework already runs on the agent under this id. */
  existingExecutor(executorId: string): ExecutorInfo | undefined;
  /** The agent has TASK_RESOURCE_LIMITS. */
  readonly agentSupportsLimits: boolean;
  /** The containers of the framework's tasks already under this executor on the agent. */
  executorTaskContainers?(executorId: string): (ContainerInfo | undefined)[];
}

type Check = () => string | undefined;

function first(checks: readonly Check[]): string | undefined {
  for (const check of checks) {
    const error = check();
    if (error !== undefined) return error;
  }
  return undefined;
}

/**
 * Mesos' `validateEnvironment`: a VALUE variable (the default type) needs a
 * value and no secret, a SECRET one a valid secret and no value; UNKNOWN is refused.
 */
export function validateCommandInfo(command: CommandInfo): string | undefined {
  for (const v of command.environment?.variables ?? []) {
    if (v.type === "UNKNOWN") return "Environment variable of type 'UNKNOWN' is not allowed";
    if (v.type === undefined || v.type === "VALUE") {
      if (v.value === undefined) {
        return `Environment variable '${v.name}' of type 'VALUE' must have a value set`;
      }
      if (v.secret !== undefined) {
        return `Environment variable '${v.name}' of type 'VALUE' must not have a secret set`;
      }
    } else if (v.type === "SECRET") {
      // A secret and no value, a valid secret, no NUL byte in a value secret.
      const error = validateSecretVariable(v);
      if (error !== undefined) return error;
    }
  }
  return undefined;
}

/** Mesos' `common::validation::validateContainerInfo`: its volumes and Docker parameters. */
export function validateContainerInfo(container: ContainerInfo): string | undefined {
  for (const volume of container.volumes ?? []) {
    const error = validateVolume(volume);
    if (error !== undefined) return `Invalid volume: ${error}`;
  }
  if (container.type === "DOCKER") {
    if (container.docker === undefined) {
      return "DockerInfo 'docker' is not set for DOCKER typed ContainerInfo";
    }
    // Docker containers are named by the containerizer, which finds them by that name.
    if ((container.docker.parameters ?? []).some((p) => p.key === "name")) {
      return "Parameter in DockerInfo must not be 'name'";
    }
  }
  return undefined;
}

function validateVolume(volume: NonNullable<ContainerInfo["volumes"]>[number]): string | undefined {
  const set = [volume.host_path, volume.image, volume.source].filter((v) => v !== undefined);
  if (set.length !== 1) return "Only one of them should be set: 'host_path', 'image' and 'source'";
  const source = volume.source;
  if (source === undefined) return undefined;
  switch (source.type) {
    case "DOCKER_VOLUME":
      return source.docker_volume === undefined
        ? "'source.docker_volume' is not set for DOCKER_VOLUME volume"
        : undefined;
    case "HOST_PATH":
      return source.host_path === undefined
        ? "'source.host_path' is not set for HOST_PATH volume"
        : undefined;
    case "SANDBOX_PATH":
      return source.sandbox_path === undefined
        ? "'source.sandbox_path' is not set for SANDBOX_PATH volume"
        : undefined;
    case "SECRET":
      return source.secret === undefined
        ? "'source.secret' is not set for SECRET volume"
        : undefined;
    case "CSI_VOLUME":
      if (source.csi_volume === undefined) return "'source.csi_volume' is not set for CSI volume";
      return source.csi_volume.static_provisioning === undefined
        ? "'source.csi_volume.static_provisioning' is not set for CSI volume"
        : undefined;
    default:
      return "'source.type' is unknown";
  }
}

function validateHealthCheck(check: HealthCheck): string | undefined {
  switch (check.type) {
    case undefined:
      return "HealthCheck must specify 'type'";
    case "COMMAND": {
      if (check.command === undefined) {
        return "Expecting 'command' to be set for COMMAND health check";
      }
      if (check.command.value === undefined) {
        const what = (check.command.shell ?? true) ? "'shell command'" : "'executable path'";
        return `Command health check must contain ${what}`;
      }
      const error = validateCommandInfo(check.command);
      if (error !== undefined) return `Health check's \`CommandInfo\` is invalid: ${error}`;
      break;
    }
    case "HTTP":
      if (check.http === undefined) return "Expecting 'http' to be set for HTTP health check";
      if (check.http.scheme !== undefined && !["http", "https"].includes(check.http.scheme)) {
        return `Unsupported HTTP health check scheme: '${check.http.scheme}'`;
      }
      if (check.http.path !== undefined && !check.http.path.startsWith("/")) {
        return `The path '${check.http.path}' of HTTP health check must start with '/'`;
      }
      break;
    case "TCP":
      if (check.tcp === undefined) return "Expecting 'tcp' to be set for TCP health check";
      break;
    default:
      return `'${check.type}' is not a valid health check type`;
  }
  for (const field of ["delay_seconds", "grace_period_seconds", "interval_seconds"] as const) {
    const value = check[field];
    if (value !== undefined && value < 0) return `Expecting '${field}' to be non-negative`;
  }
  if (check.timeout_seconds !== undefined && check.timeout_seconds < 0) {
    return "Expecting 'timeout_seconds' to be non-negative";
  }
  return undefined;
}

function validateCheckInfo(check: CheckInfo): string | undefined {
  switch (check.type) {
    case undefined:
      return "CheckInfo must specify 'type'";
    case "COMMAND": {
      const command = check.command?.command;
      if (command === undefined) return "Expecting 'command' to be set for COMMAND check";
      if (command.value === undefined) {
        const what = (command.shell ?? true) ? "'shell command'" : "'executable path'";
        return `Command check must contain ${what}`;
      }
      const error = validateCommandInfo(command);
      if (error !== undefined) return `Check's \`CommandInfo\` is invalid: ${error}`;
      break;
    }
    case "HTTP":
      if (check.http === undefined) return "Expecting 'http' to be set for HTTP check";
      if (check.http.path !== undefined && !check.http.path.startsWith("/")) {
        return `The path '${check.http.path}' of HTTP check must start with '/'`;
      }
      break;
    case "TCP":
      if (check.tcp === undefined) return "Expecting 'tcp' to be set for TCP check";
      break;
    default:
      return `'${check.type}' is not a valid check type`;
  }
  for (const field of ["delay_seconds", "interval_seconds", "timeout_seconds"] as const) {
    const value = check[field];
    if (value !== undefined && value < 0) return `Expecting '${field}' to be non-negative`;
  }
  return undefined;
}

function validateTaskResources(task: TaskInfo): string | undefined {
  const resources = task.resources ?? [];
  if (resources.length === 0) return "Task uses no resources";
  const invalid = validateResourceList(resources);
  if (invalid !== undefined) return `Task uses invalid resources: ${invalid}`;
  const duplicate = validateUniquePersistenceId(resources);
  if (duplicate !== undefined) return `Task uses duplicate persistence ID: ${duplicate}`;
  const roles = validateAllocatedToSingleRole(resources);
  if (roles !== undefined) return `Invalid task resources: ${roles}`;
  const mix = validateRevocableMix(resources);
  if (mix !== undefined) return `Task mixes revocable and non-revocable resources: ${mix}`;
  return undefined;
}

function validateLimits(task: TaskInfo, ctx: LaunchContext): string | undefined {
  const limits = task.limits ?? {};
  const names = Object.keys(limits);
  if (names.length === 0) return undefined;
  if (!ctx.agentSupportsLimits) return "Agent is not capable of handling task resource limits";
  if (names.some((n) => n !== "cpus" && n !== "mem")) {
    return "Only cpus and mem may be included in a task's resource limits";
  }
  const requested = Resources.from((task.resources ?? []) as CoreResource[]);
  if (limits.cpus !== undefined) {
    const cpus = requested.cpus();
    if (cpus === undefined) {
      return "When a CPU limit is specified, a CPU request must also be specified";
    }
    if (limits.cpus.value < cpus) {
      return "The cpu limit must be greater than or equal to the cpu request";
    }
  }
  if (limits.mem !== undefined) {
    const mem = requested.mem();
    if (mem === undefined) {
      return "When a memory limit is specified, a memory request must also be specified";
    }
    if (Number.isFinite(limits.mem.value) && limits.mem.value < mem) {
      return "The memory limit must be greater than or equal to the memory request";
    }
  }
  return undefined;
}

/** Checks of a task on its own (shared by LAUNCH and LAUNCH_GROUP). */
export function validateTaskFields(task: TaskInfo, ctx: LaunchContext): string | undefined {
  const taskId = task.task_id.value;
  return first([
    () => validateId(taskId),
    () => {
      const inUse = ctx.taskIdInUse(taskId);
      if (inUse === "active") return `Task has duplicate ID: ${taskId}`;
      if (inUse === "unreachable") return `Task reuses the ID of an unreachable task: ${taskId}`;
      return undefined;
    },
    () =>
      task.agent_id.value === ctx.agentId
        ? undefined
        : `Task uses invalid agent ${task.agent_id.value} while agent ${ctx.agentId} is expected`,
    () =>
      (task.kill_policy?.grace_period?.nanoseconds ?? 0) < 0
        ? "Task's 'kill_policy.grace_period' must be non-negative"
        : undefined,
    () =>
      (task.max_completion_time?.nanoseconds ?? 0) < 0
        ? "Task's `max_completion_time` must be non-negative"
        : undefined,
    () => {
      if (task.check === undefined) return undefined;
      const error = validateCheckInfo(task.check);
      return error === undefined ? undefined : `Task uses invalid check: ${error}`;
    },
    () => {
      if (task.health_check === undefined) return undefined;
      const error = validateHealthCheck(task.health_check);
      return error === undefined ? undefined : `Task uses invalid health check: ${error}`;
    },
    () => validateTaskResources(task),
    () => {
      const error = task.command === undefined ? undefined : validateCommandInfo(task.command);
      return error === undefined ? undefined : `Task's \`CommandInfo\` is invalid: ${error}`;
    },
    () => {
      const error =
        task.container === undefined ? undefined : validateContainerInfo(task.container);
      return error === undefined ? undefined : `Task's \`ContainerInfo\` is invalid: ${error}`;
    },
    () => validateLimits(task, ctx),
  ]);
}

const executorCodec = codecFor("mesos.v1.ExecutorInfo");

/** True when two ExecutorInfos are the same message (compared by their encoding). */
export function sameExecutorInfo(a: ExecutorInfo, b: ExecutorInfo): boolean {
  return executorCodec.encodeProtobuf(a).equals(executorCodec.encodeProtobuf(b));
}

/** Checks of an ExecutorInfo for a framework on an agent. */
export function validateExecutorInfo(
  executor: ExecutorInfo,
  ctx: LaunchContext,
): string | undefined {
  return first([
    () => {
      if (executor.type === "DEFAULT" && executor.command !== undefined) {
        return "'ExecutorInfo.command' must not be set for 'DEFAULT' executor";
      }
      if (executor.type === "CUSTOM" && executor.command === undefined) {
        return "'ExecutorInfo.command' must be set for 'CUSTOM' executor";
      }
      return undefined;
    },
    () => validateId(executor.executor_id.value),
    () =>
      (executor.shutdown_grace_period?.nanoseconds ?? 0) < 0
        ? "ExecutorInfo's 'shutdown_grace_period' must be non-negative"
        : undefined,
    () => {
      const error =
        executor.command === undefined ? undefined : validateCommandInfo(executor.command);
      return error === undefined ? undefined : `Executor's \`CommandInfo\` is invalid: ${error}`;
    },
    () => {
      const container = executor.container;
      const error = container === undefined ? undefined : validateContainerInfo(container);
      return error === undefined ? undefined : `Executor's \`ContainerInfo\` is invalid: ${error}`;
    },
    () => {
      const fid = executor.framework_id?.value;
      if (fid === undefined) return "'ExecutorInfo.framework_id' must be set";
      return fid === ctx.frameworkId
        ? undefined
        : `ExecutorInfo has an invalid FrameworkID (Actual: ${fid} vs Expected: ${ctx.frameworkId})`;
    },
    () => {
      const resources = executor.resources ?? [];
      const invalid = validateResourceList(resources);
      if (invalid !== undefined) return `Executor uses invalid resources: ${invalid}`;
      const duplicate = validateUniquePersistenceId(resources);
      if (duplicate !== undefined) return `Executor uses duplicate persistence ID: ${duplicate}`;
      const roles = validateAllocatedToSingleRole(resources);
      if (roles !== undefined) return `Invalid executor resources: ${roles}`;
      const mix = validateRevocableMix(resources);
      if (mix !== undefined) return `Executor mixes revocable and non-revocable resources: ${mix}`;
      return undefined;
    },
    () => {
      const existing = ctx.existingExecutor(executor.executor_id.value);
      return existing === undefined || sameExecutorInfo(existing, executor)
        ? undefined
        : "ExecutorInfo is not compatible with existing ExecutorInfo with same ExecutorID";
    },
  ]);
}

/**
 * Validates a task of a LAUNCH operation against what is left of the
 * offers (`available`). Undefined means it can be launched.
 */
export function validateLaunchTask(
  task: TaskInfo,
  ctx: LaunchContext,
  available: Resources,
): string | undefined {
  const own = validateTaskFields(task, ctx);
  if (own !== undefined) return own;
  if ((task.executor === undefined) === (task.command === undefined)) {
    return "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present";
  }
  const total = Resources.from((task.resources ?? []) as CoreResource[]);
  const executor = task.executor;
  if (executor !== undefined) {
    const error = validateExecutorInfo(executor, ctx);
    if (error !== undefined) return error;
    if (executor.type !== undefined && executor.type !== "CUSTOM") {
      return "'ExecutorInfo.type' must be 'CUSTOM'";
    }
    if (executor.command === undefined) return "'ExecutorInfo.command' must be set";
    if ((executor.resources ?? []).some((r) => r.shared !== undefined)) {
      const listed = Resources.from((executor.resources ?? []) as CoreResource[]).toString();
      return `Executor resources ${listed} should not contain any shared resources`;
    }
    if (executor.container?.linux_info?.share_cgroups === true) {
      return "The 'share_cgroups' field cannot be set to 'true' on executor containers";
    }
    if (ctx.existingExecutor(executor.executor_id.value) === undefined) {
      total.add(Resources.from((executor.resources ?? []) as CoreResource[]));
    }
  }
  const combined = [...(task.resources ?? []), ...(executor?.resources ?? [])];
  const invalid = validateResourceList(combined);
  if (invalid !== undefined) return `Task and its executor use invalid resources: ${invalid}`;
  if (
    executor !== undefined &&
    overlappingSetsOrRanges([task.resources ?? [], executor.resources ?? []])
  ) {
    return (
      `There are overlapping resources in the task resources ${formatResourceField(task.resources ?? [])} ` +
      `and executor resources ${formatResourceField(executor.resources ?? [])}`
    );
  }
  const duplicate = validateUniquePersistenceId(combined);
  if (duplicate !== undefined) {
    return `Task and its executor use duplicate persistence ID: ${duplicate}`;
  }
  const mix = validateRevocableMix(combined);
  if (mix !== undefined)
    return `Task and its executor mix revocable and non-revocable resources: ${mix}`;
  if (!available.contains(total)) {
    return (
      `Total resources ${total.toString()} required by task and its executor is more than ` +
      `available ${available.toString()}`
    );
  }
  if (task.container?.linux_info?.share_cgroups === false) {
    return "Only tasks in a task group may have 'share_cgroups' set to 'false'";
  }
  return undefined;
}

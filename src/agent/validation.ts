/**
 * The agent's checks of a v1 operator call before it is answered, in the
 * order and with the wording of a Mesos agent (its agent call validation):
 * the sub-message each call type needs, container ids (Mesos' id rules, at
 * most 242 characters, no `.` or space, the parent checked the same way),
 * a nested container call's parent, the environment of a command, the
 * volumes of a ContainerInfo, a standalone container's resources (valid,
 * unreserved, no persistent volume, not revocable) and `share_cgroups`.
 * A failure is answered `400 Failed to validate agent::Call: <reason>`.
 */
import type {
  CommandInfo,
  ContainerID,
  ContainerInfo,
  Resource,
  Value_Scalar,
} from "../common/protocol/generated/mesos-v1.js";
import type { Call } from "../common/protocol/generated/mesos-v1-agent.js";
import {
  type Resource as CoreResource,
  formatResource,
  isPersistentVolume,
  isReserved,
  isRevocable,
  upgradeResource,
  validateResource,
} from "../common/resources/index.js";
import { validateEnvironment } from "../common/secrets/validation.js";
import { validateId } from "../master/validation/framework.js";
import { validateContainerInfo } from "../master/validation/task.js";

/** Longest container id value (Mesos: the longest directory name AUFS allows). */
export const MAX_CONTAINER_ID_LENGTH = 242;

/** Mesos' container id rules, for the id and each of its parents. */
export function validateContainerId(id: ContainerID | undefined): string | undefined {
  const value = id?.value ?? "";
  const error = validateId(value);
  if (error !== undefined) return error;
  if (Buffer.byteLength(value, "utf8") > MAX_CONTAINER_ID_LENGTH) {
    return `'ContainerID.value' '${value}' exceeds the maximum length (${MAX_CONTAINER_ID_LENGTH})`;
  }
  // `.` joins the levels of a nested id; a space would need quoting in paths and logs.
  if (value.includes(".") || value.includes(" ")) {
    return `'ContainerID.value' '${value}' contains invalid characters`;
  }
  if (id?.parent !== undefined) {
    const parentError = validateContainerId(id.parent);
    if (parentError !== undefined) return `'ContainerID.parent' is invalid: ${parentError}`;
  }
  return undefined;
}

/** Mesos' `validateCommandInfo` (today: its environment). */
function validateCommand(command: CommandInfo): string | undefined {
  return validateEnvironment(command.environment);
}

/** The container id, command and ContainerInfo checks shared by the launch calls. */
function validateLaunch(
  field: string,
  launch: { container_id?: ContainerID; command?: CommandInfo; container?: ContainerInfo },
  needsParent: boolean,
): string | undefined {
  const idError = validateContainerId(launch.container_id);
  if (idError !== undefined) return `'${field}.container_id' is invalid: ${idError}`;
  if (needsParent && launch.container_id?.parent === undefined) {
    return `Expecting '${field}.container_id.parent' to be present`;
  }
  return validateLaunchBody(field, launch);
}

function validateLaunchBody(
  field: string,
  launch: { command?: CommandInfo; container?: ContainerInfo },
): string | undefined {
  if (launch.command !== undefined) {
    const error = validateCommand(launch.command);
    if (error !== undefined) return `'${field}.command' is invalid: ${error}`;
  }
  if (launch.container !== undefined) {
    const error = validateContainerInfo(launch.container);
    if (error !== undefined) return `'${field}.container' is invalid: ${error}`;
  }
  return undefined;
}

/** A `*_container` call naming one container: its id, and a parent when nested. */
function validateTarget(
  field: string,
  target: { container_id?: ContainerID },
  needsParent: boolean,
): string | undefined {
  const error = validateContainerId(target.container_id);
  if (error !== undefined) return `'${field}.container_id' is invalid: ${error}`;
  if (needsParent && target.container_id?.parent === undefined) {
    return `Expecting '${field}.container_id.parent' to be present`;
  }
  return undefined;
}

/** LAUNCH_CONTAINER: resources, command, container, and what nesting allows. */
function validateLaunchContainer(
  launch: NonNullable<Call["launch_container"]>,
): string | undefined {
  const idError = validateContainerId(launch.container_id);
  if (idError !== undefined) return `'launch_container.container_id' is invalid: ${idError}`;
  const resources: readonly Resource[] = launch.resources ?? [];
  for (const r of resources) {
    const error = validateResource(r as CoreResource);
    if (error !== undefined) {
      return `Invalid resources: Resource '${formatResource(r as CoreResource)}' is invalid: ${error}`;
    }
  }
  const gpus = resources
    .filter((r) => r.name === "gpus" && r.type === "SCALAR")
    .reduce((sum, r) => sum + (r.scalar?.value ?? 0), 0);
  if (Math.trunc(gpus * 1000) % 1000 !== 0) {
    return "Invalid GPU resources: The 'gpus' resource must be an unsigned integer";
  }
  const standalone = launch.container_id.parent === undefined;
  if (standalone) {
    // Standalone containers run outside offers: the master accounts for none of these.
    for (const r of resources) {
      const upgraded = upgradeResource(r as CoreResource);
      if (isReserved(upgraded)) return "'launch_container.resources' must be unreserved";
      if (isPersistentVolume(upgraded)) {
        return "'launch_container.resources' may not use persistent volumes";
      }
      if (isRevocable(upgraded)) return "'launch_container.resources' must be non-revocable";
    }
  }
  const body = validateLaunchBody("launch_container", launch);
  if (body !== undefined) return body;
  const explicitShare = launch.container?.linux_info?.share_cgroups;
  const share = explicitShare ?? true;
  const twiceNested = launch.container_id.parent?.parent !== undefined;
  const limits: Readonly<Record<string, Value_Scalar>> = launch.limits ?? {};
  if (twiceNested && resources.length > 0) {
    return "'launch_container' is invalid: containers nested at the second level or greater cannot specify resources";
  }
  if (twiceNested && Object.keys(limits).length > 0) {
    return "'launch_container' is invalid: containers nested at the second level or greater cannot specify resource limits";
  }
  if (twiceNested && !share) {
    return "'launch_container' is invalid: containers nested at the second level or greater cannot set 'share_cgroups' to 'false'";
  }
  if (standalone && explicitShare === true) {
    return "'launch_container' is invalid: containers without a parent cannot set 'share_cgroups' to 'true'";
  }
  return undefined;
}

/**
 * Mesos' agent call validation; undefined when the call may be answered.
 * (Missing required fields are refused earlier, when the body is decoded.)
 */
export function validateAgentCall(call: Call): string | undefined {
  if (call.type === undefined) return "Expecting 'type' to be present";
  const missing = (field: keyof Call) =>
    call[field] === undefined ? `Expecting '${field}' to be present` : undefined;
  switch (call.type) {
    case "GET_METRICS":
      return missing("get_metrics");
    case "SET_LOGGING_LEVEL":
      return missing("set_logging_level");
    case "LIST_FILES":
      return missing("list_files");
    case "READ_FILE":
      return missing("read_file");
    case "LAUNCH_NESTED_CONTAINER": {
      const launch = call.launch_nested_container;
      if (launch === undefined) return missing("launch_nested_container");
      const error = validateLaunch("launch_nested_container", launch, true);
      if (error !== undefined) return error;
      if (
        launch.container?.linux_info?.share_cgroups === false &&
        launch.container_id.parent?.parent !== undefined
      ) {
        return "'launch_nested_container' is invalid: containers nested at the second level or greater cannot set 'share_cgroups' to 'false'";
      }
      return undefined;
    }
    case "WAIT_NESTED_CONTAINER":
      return call.wait_nested_container === undefined
        ? missing("wait_nested_container")
        : validateTarget("wait_nested_container", call.wait_nested_container, true);
    case "KILL_NESTED_CONTAINER":
      return call.kill_nested_container === undefined
        ? missing("kill_nested_container")
        : validateTarget("kill_nested_container", call.kill_nested_container, true);
    case "REMOVE_NESTED_CONTAINER":
      return call.remove_nested_container === undefined
        ? missing("remove_nested_container")
        : validateTarget("remove_nested_container", call.remove_nested_container, true);
    case "LAUNCH_NESTED_CONTAINER_SESSION": {
      const launch = call.launch_nested_container_session;
      if (launch === undefined) return missing("launch_nested_container_session");
      const error = validateLaunch("launch_nested_container_session", launch, true);
      if (error !== undefined) return error;
      if (
        launch.container?.linux_info !== undefined &&
        launch.container.linux_info.share_cgroups === false
      ) {
        return "'launch_nested_container_session.container.linux_info' is invalid: 'share_cgroups' cannot be set to 'false' for nested container sessions";
      }
      return undefined;
    }
    case "ATTACH_CONTAINER_INPUT": {
      const attach = call.attach_container_input;
      if (attach === undefined) return missing("attach_container_input");
      if (attach.type === undefined) {
        return "Expecting 'attach_container_input.type' to be present";
      }
      if (attach.type === "UNKNOWN") return "'attach_container_input.type' is unknown";
      if (attach.type === "CONTAINER_ID") {
        return validateTarget("attach_container_input", attach, false);
      }
      return undefined;
    }
    case "ATTACH_CONTAINER_OUTPUT":
      return call.attach_container_output === undefined
        ? missing("attach_container_output")
        : validateTarget("attach_container_output", call.attach_container_output, false);
    case "LAUNCH_CONTAINER":
      return call.launch_container === undefined
        ? missing("launch_container")
        : validateLaunchContainer(call.launch_container);
    case "WAIT_CONTAINER":
      return call.wait_container === undefined
        ? missing("wait_container")
        : validateTarget("wait_container", call.wait_container, false);
    case "KILL_CONTAINER":
      return call.kill_container === undefined
        ? missing("kill_container")
        : validateTarget("kill_container", call.kill_container, false);
    case "REMOVE_CONTAINER":
      return call.remove_container === undefined
        ? missing("remove_container")
        : validateTarget("remove_container", call.remove_container, false);
    case "ADD_RESOURCE_PROVIDER_CONFIG": {
      const add = call.add_resource_provider_config;
      if (add === undefined) return missing("add_resource_provider_config");
      return add.info?.id === undefined
        ? undefined
        : "Expecting 'add_resource_provider_config.info.id' to be unset";
    }
    case "UPDATE_RESOURCE_PROVIDER_CONFIG": {
      const update = call.update_resource_provider_config;
      if (update === undefined) return missing("update_resource_provider_config");
      return update.info?.id === undefined
        ? undefined
        : "Expecting 'update_resource_provider_config.info.id' to be unset";
    }
    case "REMOVE_RESOURCE_PROVIDER_CONFIG":
      return missing("remove_resource_provider_config");
    case "MARK_RESOURCE_PROVIDER_GONE":
      return missing("mark_resource_provider_gone");
    default:
      return undefined;
  }
}

/**
 * Turns mesos-execute's flags into what it will do: the FrameworkInfo to
 * subscribe with and the task (or task group) to launch. Pure: every
 * problem is a one-line error, checked before anything touches the network,
 * in the order Mesos checks them.
 */
import type { FlagValues } from "../../common/flags/spec.js";
import type {
  ContainerInfo,
  FrameworkInfo,
  FrameworkInfo_Capability_Type,
  TaskGroupInfo,
  TaskInfo,
} from "../../common/protocol/generated/mesos-v1.js";
import { codecFor } from "../../common/protocol/index.js";
import { parseMasterSpec } from "../../scheduler/master-address.js";
import { parseResourceText } from "../../scheduler/resources.js";
import { type ContentType, parseContentType } from "../../scheduler/wire.js";
import { buildContainerInfo, type ContainerResult } from "./container.js";
import type { ExecuteFlags } from "./flags.js";

/** What mesos-execute will do. */
export interface ExecutionPlan {
  readonly master: string;
  readonly contentType: ContentType;
  readonly framework: FrameworkInfo;
  /** Exactly one of `task` and `taskGroup` is set. */
  readonly task?: TaskInfo;
  readonly taskGroup?: TaskGroupInfo;
  /** The default executor's container (a task group's `--networks`, CNI networks). */
  readonly executorContainer?: ContainerInfo;
  readonly killAfterMs?: number;
  readonly credential?: { readonly principal: string; readonly secret: string };
}

export type PlanResult =
  | { readonly ok: true; readonly plan: ExecutionPlan }
  | { readonly ok: false; readonly error: string };

/** Features whose flags are accepted but refused at start, and where they come from. */
const NOT_YET: ReadonlyArray<readonly [keyof FlagValues<ExecuteFlags>, string]> = [
  ["appc_image", "the agent fetches Docker images only; use --docker_image"],
  ["package", "uploading packages to HDFS is not part of mesos-ts yet"],
];

/** Builds the plan from loaded flags; `user` is the local user name. */
export function planExecution(flags: FlagValues<ExecuteFlags>, user: string): PlanResult {
  const fail = (error: string): PlanResult => ({ ok: false, error });

  // The same checks, in the same order, as Mesos' mesos-execute.
  if (flags.task !== undefined && flags.task_group !== undefined) {
    return fail(
      "Either task or task group should be set but not both. Provide either '--task' OR '--task_group'",
    );
  }
  if (flags.task === undefined && flags.task_group === undefined) {
    if (flags.name === undefined) return fail("Missing required option --name");
    if (flags.shell && flags.command === undefined) {
      return fail("Missing required option --command");
    }
  } else {
    if (
      flags.name !== undefined ||
      flags.command !== undefined ||
      flags.env !== undefined ||
      flags.appc_image !== undefined ||
      flags.docker_image !== undefined ||
      flags.volumes !== undefined
    ) {
      return fail(
        "'--name, --command, --env, --appc_image, --docker_image, --volumes' can only be set " +
          "when both '--task' and '--task_group' are not set",
      );
    }
    if (flags.task !== undefined && flags.networks !== undefined) {
      return fail("'--networks' can only be set when '--task' is not set");
    }
    // Mesos drops these silently with --task/--task_group; we say so instead.
    const commandOnly = [
      flags.rlimits !== undefined ? "--rlimits" : undefined,
      flags.effective_capabilities !== undefined ? "--effective_capabilities" : undefined,
      flags.bounding_capabilities !== undefined ? "--bounding_capabilities" : undefined,
      flags.tty ? "--tty" : undefined,
      flags.containerizer === "docker" ? "--containerizer=docker" : undefined,
    ].find((f) => f !== undefined);
    if (commandOnly !== undefined) {
      return fail(
        `'${commandOnly}' only applies to --command; with '--task' or '--task_group' ` +
          "put it in the TaskInfo's 'container'",
      );
    }
  }
  const contentType = parseContentType(flags.content_type);
  if (contentType === undefined) return fail(`Invalid content type '${flags.content_type}'`);
  if (flags.appc_image !== undefined && flags.docker_image !== undefined) {
    return fail("Flags '--docker_image' and '--appc_image' are both set");
  }

  for (const [name, why] of NOT_YET) {
    if (flags[name] !== undefined) return fail(`--${name} is not supported yet (${why})`);
  }
  // As Mesos splits it: blank entries (`--networks=` or `a,,b`) are dropped.
  const networks = (flags.networks ?? "").split(",").filter((n) => n !== "");
  const commandMode = flags.task === undefined && flags.task_group === undefined;
  const container: ContainerResult = commandMode
    ? buildContainerInfo({
        containerizer: flags.containerizer === "" ? "mesos" : flags.containerizer,
        docker_image: flags.docker_image,
        volumes: flags.volumes,
        rlimits: flags.rlimits,
        effective_capabilities: flags.effective_capabilities,
        bounding_capabilities: flags.bounding_capabilities,
        networks,
        tty: flags.tty,
      })
    : { ok: true };
  if (!container.ok) return container;

  const master = parseMasterSpec(flags.master);
  if (!master.ok) return fail(master.error);

  const capabilities: FrameworkInfo_Capability_Type[] = [
    "RESERVATION_REFINEMENT",
    "TASK_KILLING_STATE",
    "REVOCABLE_RESOURCES",
  ];
  if (flags.partition_aware) capabilities.push("PARTITION_AWARE");
  for (const name of flags.framework_capabilities ?? []) {
    if (!KNOWN_CAPABILITIES.has(name)) {
      return fail(`Flags '--framework_capabilities' specifies an unknown capability '${name}'`);
    }
    if (name !== "GPU_RESOURCES") {
      return fail(`Flags '--framework_capabilities' specifies an unsupported capability '${name}'`);
    }
    capabilities.push(name);
  }

  const framework: FrameworkInfo = {
    user,
    name: "mesos-execute instance",
    role: flags.role,
    checkpoint: flags.checkpoint,
    capabilities: capabilities.map((type) => ({ type })),
    ...(flags.principal === undefined ? {} : { principal: flags.principal }),
  };

  const base = {
    master: flags.master,
    contentType,
    framework,
    ...(flags.kill_after === undefined ? {} : { killAfterMs: flags.kill_after.toMs() }),
    ...(flags.principal !== undefined && flags.secret !== undefined
      ? { credential: { principal: flags.principal, secret: flags.secret } }
      : {}),
  };

  if (flags.task !== undefined) {
    const task = decodeTask(flags.task, "--task");
    if (!task.ok) return task;
    return { ok: true, plan: { ...base, task: task.task } };
  }
  if (flags.task_group !== undefined) {
    const group = decodeTaskGroup(flags.task_group);
    if (!group.ok) return group;
    // As Mesos: the networks go on the default executor's container, as CNI networks.
    const executorContainer: ContainerInfo | undefined =
      networks.length === 0
        ? undefined
        : { type: "MESOS", network_infos: networks.map((name) => ({ name })) };
    return {
      ok: true,
      plan: {
        ...base,
        taskGroup: group.group,
        ...(executorContainer === undefined ? {} : { executorContainer }),
      },
    };
  }

  const name = flags.name as string;
  const resources = parseResourceText(flags.resources);
  if (!resources.ok) {
    return fail(`Failed to parse resources '${flags.resources}': ${resources.error}`);
  }
  const environment = environmentOf(flags.env);
  if (!environment.ok) return environment;
  const command = flags.command ?? "";
  const argv = command.split(/\s+/).filter((w) => w !== "");
  const task: TaskInfo = {
    name,
    task_id: { value: name },
    agent_id: { value: "" },
    resources: resources.resources,
    command: {
      ...(flags.shell
        ? { shell: true, value: command }
        : { shell: false, ...(argv.length === 0 ? {} : { value: argv[0], arguments: argv }) }),
      ...(environment.variables.length === 0
        ? {}
        : { environment: { variables: environment.variables } }),
    },
    ...(container.container === undefined ? {} : { container: container.container }),
  };
  return { ok: true, plan: { ...base, task } };
}

/** Every name of FrameworkInfo.Capability.Type; UNKNOWN is a name too, so it is "unsupported". */
const KNOWN_CAPABILITIES: ReadonlySet<string> = new Set([
  "UNKNOWN",
  "REVOCABLE_RESOURCES",
  "TASK_KILLING_STATE",
  "GPU_RESOURCES",
  "SHARED_RESOURCES",
  "PARTITION_AWARE",
  "MULTI_ROLE",
  "RESERVATION_REFINEMENT",
  "REGION_AWARE",
]);

type EnvResult =
  | { ok: true; variables: { name: string; value: string }[] }
  | { ok: false; error: string };

function environmentOf(env: unknown): EnvResult {
  if (env === undefined) return { ok: true, variables: [] };
  if (env === null || typeof env !== "object" || Array.isArray(env)) {
    return { ok: false, error: "--env must be a JSON object of names to values" };
  }
  const variables: { name: string; value: string }[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (typeof value !== "string") {
      return { ok: false, error: `--env: the value of '${name}' must be a string` };
    }
    variables.push({ name, value });
  }
  return { ok: true, variables };
}

/** Mesos lets `agent_id` be left out of --task; the schema requires it, so fill it in. */
function withAgentId(task: unknown): unknown {
  if (task === null || typeof task !== "object" || Array.isArray(task)) return task;
  return "agent_id" in task ? task : { ...task, agent_id: { value: "" } };
}

function decodeTask(
  json: unknown,
  flag: string,
): { ok: true; task: TaskInfo } | { ok: false; error: string } {
  const decoded = codecFor("mesos.v1.TaskInfo").decodeJson(withAgentId(json));
  if (!decoded.ok) return { ok: false, error: `Failed to parse ${flag}: ${decoded.error.message}` };
  return { ok: true, task: decoded.value };
}

function decodeTaskGroup(
  json: unknown,
): { ok: true; group: TaskGroupInfo } | { ok: false; error: string } {
  let input = json;
  if (input !== null && typeof input === "object" && !Array.isArray(input)) {
    const tasks = (input as { tasks?: unknown }).tasks;
    if (Array.isArray(tasks)) input = { ...input, tasks: tasks.map(withAgentId) };
  }
  const decoded = codecFor("mesos.v1.TaskGroupInfo").decodeJson(input);
  if (!decoded.ok) {
    return { ok: false, error: `Failed to parse --task_group: ${decoded.error.message}` };
  }
  if ((decoded.value.tasks ?? []).length === 0) {
    return { ok: false, error: "--task_group holds no tasks" };
  }
  return { ok: true, group: decoded.value };
}

/**
 * Pieces of the legacy (v0) JSON documents that the master's and the
 * agent's `/state` share: labels as a bare array, a task status (its
 * container status with only the keys Mesos writes there), and a command.
 */
import type {
  CommandInfo,
  ContainerStatus,
  Labels,
  NetworkInfo,
  TaskStatus,
} from "../protocol/generated/mesos-v1.js";
import { codecFor } from "../protocol/index.js";

type Json = Record<string, unknown>;

function pb(typeName: string, value: unknown): unknown {
  return codecFor(typeName).toJsonValue(value);
}

/** Labels as the legacy documents write them: a bare array of `{key, value?}`. */
export function labelsJson(labels: Labels): Json[] {
  return (labels.labels ?? []).map((l) =>
    l.value === undefined ? { key: l.key } : { key: l.key, value: l.value },
  );
}

/** A network of a container status: labels as a bare array, the rest as protobuf JSON. */
function networkJson(info: NetworkInfo): Json {
  const out: Json = {};
  if (info.groups !== undefined && info.groups.length > 0) out.groups = info.groups;
  if (info.labels !== undefined) out.labels = labelsJson(info.labels);
  if (info.ip_addresses !== undefined && info.ip_addresses.length > 0) {
    out.ip_addresses = info.ip_addresses.map((a) => pb("mesos.v1.NetworkInfo.IPAddress", a));
  }
  if (info.name !== undefined) out.name = info.name;
  if (info.port_mappings !== undefined && info.port_mappings.length > 0) {
    out.port_mappings = info.port_mappings.map((m) => pb("mesos.v1.NetworkInfo.PortMapping", m));
  }
  return out;
}

/**
 * A status's container status in the legacy documents: container id,
 * networks and cgroup info only. Mesos leaves `executor_pid` out of them
 * (the v1 API shows it).
 */
export function legacyContainerStatusJson(status: ContainerStatus): Json {
  const out: Json = {};
  if (status.container_id !== undefined) {
    out.container_id = pb("mesos.v1.ContainerID", status.container_id);
  }
  if (status.network_infos !== undefined && status.network_infos.length > 0) {
    out.network_infos = status.network_infos.map(networkJson);
  }
  if (status.cgroup_info !== undefined) {
    out.cgroup_info = pb("mesos.v1.CgroupInfo", status.cgroup_info);
  }
  return out;
}

/** A task's status in the legacy documents' `statuses`: state, time, labels, container status, health. */
export function legacyStatusJson(status: TaskStatus): Json {
  const out: Json = { state: status.state, timestamp: status.timestamp ?? 0 };
  if (status.labels !== undefined) out.labels = labelsJson(status.labels);
  if (status.container_status !== undefined) {
    out.container_status = legacyContainerStatusJson(status.container_status);
  }
  if (status.healthy !== undefined) out.healthy = status.healthy;
  return out;
}

/**
 * A command as the legacy documents write it: `shell`, `value`, `argv`, the
 * environment as bare `{name, value}` pairs, and `uris`. A SECRET variable
 * shows its name with an empty value: the secret itself is never written
 * (Mesos writes only each variable's name and value there).
 */
export function legacyCommandJson(command: CommandInfo | undefined): Json {
  const out: Json = {};
  if (command?.shell !== undefined) out.shell = command.shell;
  if (command?.value !== undefined) out.value = command.value;
  out.argv = command?.arguments ?? [];
  if (command?.environment !== undefined) {
    out.environment = {
      variables: (command.environment.variables ?? []).map((v) => ({
        name: v.name,
        value: v.value ?? "",
      })),
    };
  }
  out.uris = (command?.uris ?? []).map((u) => ({
    value: u.value,
    executable: u.executable ?? false,
  }));
  return out;
}

/**
 * The `ContainerStatus` an agent attaches to the status updates of tasks
 * that reached their executor (as Mesos does): the container's id, the
 * executor's pid, and the address tasks on the host network are reached at.
 * Service discovery (mesos-dns, Marathon) reads a task's IP from
 * `statuses[].container_status.network_infos`.
 */

import { isIPv6 } from "node:net";
import { runShell, type ShellRunner } from "../common/flags/listen-ip.js";
import type {
  ContainerStatus,
  NetworkInfo,
  TaskStatus,
} from "../common/protocol/generated/mesos-v1.js";

/** The addresses reported for a container without networks of its own: the agent's. */
export function hostNetworkInfo(ip: string | undefined, ip6: string | undefined): NetworkInfo[] {
  const addresses: NonNullable<NetworkInfo["ip_addresses"]> = [];
  // IPv4 is the protocol's default, so it is left unset (as Mesos leaves it).
  if (ip !== undefined) addresses.push({ ip_address: ip });
  if (ip6 !== undefined) addresses.push({ ip_address: ip6, protocol: "IPv6" });
  return addresses.length === 0 ? [] : [{ ip_addresses: addresses }];
}

/**
 * `status` with the container's status merged in: what the executor sent
 * stays (a nested container's id, the networks of a container with its own
 * IP); the container id, executor pid and host addresses fill the rest.
 */
export function withContainerStatus(
  status: TaskStatus,
  container: { containerId: string; pid: number | undefined; networkInfos: NetworkInfo[] },
): TaskStatus {
  const sent = status.container_status;
  const merged: ContainerStatus = { ...sent };
  // An id sent by the executor names the (nested) container the task runs in.
  if (merged.container_id === undefined) merged.container_id = { value: container.containerId };
  if (
    merged.executor_pid === undefined &&
    container.pid !== undefined &&
    sent?.container_id === undefined
  ) {
    merged.executor_pid = container.pid;
  }
  if (merged.network_infos === undefined || merged.network_infos.length === 0) {
    if (container.networkInfos.length > 0) merged.network_infos = container.networkInfos;
  }
  return { ...status, container_status: merged };
}

/**
 * The agent's advertised IPv6 address: `--ip6`, or the trimmed output of
 * `--ip6_discovery_command` (run once at start through the shell), which
 * must be an IPv6 address.
 */
export function resolveIp6(
  flags: { ip6?: string | undefined; ip6_discovery_command?: string | undefined },
  run: ShellRunner = runShell,
): { ok: true; value: string | undefined } | { ok: false; error: string } {
  let value = flags.ip6;
  if (flags.ip6_discovery_command !== undefined) {
    try {
      value = run(flags.ip6_discovery_command).trim();
    } catch (e) {
      const reason = ((e as Error).message ?? String(e)).split("\n")[0];
      return { ok: false, error: `Failed to run --ip6_discovery_command: ${reason}` };
    }
  }
  if (value === undefined) return { ok: true, value: undefined };
  if (!isIPv6(value)) return { ok: false, error: `Failed to parse IPv6 address '${value}'` };
  return { ok: true, value };
}

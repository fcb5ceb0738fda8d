/**
 * The legacy (v0) JSON of a status' container status, shared by the
 * master's and the agent's documents: Mesos writes container_id, network_infos (labels as a bare
 * array, IP addresses with their default protocol) and cgroup_info, and
 * never executor_pid.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { legacyContainerStatusJson } from "../../src/common/http/legacy-json.js";
import type { ContainerStatus } from "../../src/common/protocol/generated/mesos-v1.js";
import { taskJson } from "../../src/master/http/state-json.js";

const status: ContainerStatus = {
  container_id: { value: "child", parent: { value: "parent" } },
  executor_pid: 4242,
  network_infos: [
    {
      name: "overlay",
      groups: ["g1"],
      labels: { labels: [{ key: "k", value: "v" }, { key: "bare" }] },
      ip_addresses: [{ ip_address: "10.0.0.7" }],
      port_mappings: [{ host_port: 31000, container_port: 80 }],
    },
    {},
  ],
  cgroup_info: { net_cls: { classid: 7 } },
};

const expected = {
  container_id: { value: "child", parent: { value: "parent" } },
  network_infos: [
    {
      groups: ["g1"],
      labels: [{ key: "k", value: "v" }, { key: "bare" }],
      ip_addresses: [{ protocol: "IPv4", ip_address: "10.0.0.7" }],
      name: "overlay",
      port_mappings: [{ host_port: 31000, container_port: 80 }],
    },
    {},
  ],
  cgroup_info: { net_cls: { classid: 7 } },
};

test("legacy state JSON: a container status has Mesos' keys, labels as an array, no executor_pid", () => {
  assert.deepEqual(legacyContainerStatusJson(status), expected);
  assert.deepEqual(legacyContainerStatusJson({ executor_pid: 1 }), {});
});

test("legacy state JSON: a task's statuses carry the legacy container status", () => {
  const json = taskJson({
    name: "t",
    task_id: { value: "t" },
    framework_id: { value: "f" },
    agent_id: { value: "a" },
    state: "TASK_RUNNING",
    resources: [],
    statuses: [
      { task_id: { value: "t" }, state: "TASK_RUNNING", timestamp: 1.5, container_status: status },
    ],
  });
  const statuses = json.statuses as Record<string, unknown>[];
  assert.deepEqual(statuses[0], {
    state: "TASK_RUNNING",
    timestamp: 1.5,
    container_status: expected,
  });
});

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  hostNetworkInfo,
  resolveIp6,
  withContainerStatus,
} from "../../src/agent/container-status.js";

test("container status: host addresses leave IPv4's protocol unset and mark IPv6", () => {
  assert.deepEqual(hostNetworkInfo("10.0.0.5", "fd00::5"), [
    { ip_addresses: [{ ip_address: "10.0.0.5" }, { ip_address: "fd00::5", protocol: "IPv6" }] },
  ]);
  assert.deepEqual(hostNetworkInfo(undefined, undefined), []);
});

test("container status: what the executor sent wins; the rest is filled from the container", () => {
  const host = hostNetworkInfo("10.0.0.5", undefined);
  const plain = withContainerStatus(
    { task_id: { value: "t" }, state: "TASK_RUNNING" },
    { containerId: "c1", pid: 42, networkInfos: host },
  );
  assert.deepEqual(plain.container_status, {
    container_id: { value: "c1" },
    executor_pid: 42,
    network_infos: host,
  });
  const own = [{ ip_addresses: [{ ip_address: "172.17.0.2" }] }];
  const nested = withContainerStatus(
    {
      task_id: { value: "t" },
      state: "TASK_RUNNING",
      container_status: { container_id: { value: "nested" }, network_infos: own },
    },
    { containerId: "c1", pid: 42, networkInfos: host },
  );
  // A nested container's id and networks stay; the executor's pid is not its pid.
  assert.deepEqual(nested.container_status, {
    container_id: { value: "nested" },
    network_infos: own,
  });
});

test("container status: --ip6 is validated, --ip6_discovery_command's output trimmed", () => {
  assert.deepEqual(resolveIp6({}), { ok: true, value: undefined });
  assert.deepEqual(resolveIp6({ ip6: "fd00::1" }), { ok: true, value: "fd00::1" });
  assert.deepEqual(resolveIp6({ ip6_discovery_command: "echo '  ::1  '" }), {
    ok: true,
    value: "::1",
  });
  const bad = resolveIp6({ ip6: "10.0.0.1" });
  assert.equal(bad.ok, false);
  const failing = resolveIp6({ ip6_discovery_command: "exit 3" });
  assert.equal(failing.ok, false);
  assert.match(failing.ok ? "" : failing.error, /--ip6_discovery_command/);
});

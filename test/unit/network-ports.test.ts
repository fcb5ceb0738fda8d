import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { test } from "node:test";
import { createIsolators } from "../../src/agent/containerizer/isolators/index.js";
import type { ContainerLimitation } from "../../src/agent/containerizer/isolators/isolator.js";
import {
  isolatedPortRange,
  joinsNamedNetwork,
  NetworkPortsIsolator,
  rootContainerOf,
  unallocatedPorts,
} from "../../src/agent/containerizer/isolators/network-ports.js";
import {
  parseListeningSockets,
  socketInodeOfLink,
} from "../../src/agent/containerizer/isolators/proc-net-tcp.js";
import { silentLogger } from "../../src/common/observability/logger.js";

const TCP = [
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
  "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0",
  "   1: 00000000:7A69 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4343 1 0000000000000000 100 0 0 10 0",
  // Established (01): not a listener.
  "   2: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 20 4 30 10 -1",
  // A listener without an inode (0) and a torn line.
  "   3: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 0 1",
  "   4: 00000000:00",
  "",
].join("\n");

const TCP6 = [
  "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
  "   0: 00000000000000000000000000000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5151 1 0000000000000000 100 0 0 10 0",
  "   1: 0000000000000000FFFF00000100007F:1F92 0000000000000000FFFF00000100007F:A1B2 06 00000000:00000000 03:00000766 00000000     0        0 0 3 0000000000000000",
].join("\n");

test("network/ports: listening sockets are read from /proc/net/tcp text as inode -> port", () => {
  assert.deepEqual(
    parseListeningSockets(TCP),
    new Map([
      [4242, 8080],
      [4343, 31337],
    ]),
  );
});

test("network/ports: IPv6 listeners are read from /proc/net/tcp6 text too", () => {
  assert.deepEqual(parseListeningSockets(TCP6), new Map([[5151, 8081]]));
  assert.deepEqual(parseListeningSockets("garbage\n\n  1: x y z"), new Map());
});

test("network/ports: only socket fd links name a socket inode", () => {
  assert.equal(socketInodeOfLink("socket:[4242]"), 4242);
  assert.equal(socketInodeOfLink("pipe:[4242]"), undefined);
  assert.equal(socketInodeOfLink("/dev/null"), undefined);
  assert.equal(socketInodeOfLink("socket:[]"), undefined);
});

test("network/ports: a port outside the allocation is unallocated, one inside is not", () => {
  assert.deepEqual(unallocatedPorts([31000, 31005], [31000, 31001], undefined), [31005, 31005]);
  assert.deepEqual(unallocatedPorts([31000, 31001], [31000, 31001], undefined), []);
  assert.deepEqual(unallocatedPorts([], [], undefined), []);
  // Adjacent ports coalesce into one range.
  assert.deepEqual(unallocatedPorts([8080, 8081, 9000], [], undefined), [8080, 8081, 9000, 9000]);
});

test("network/ports: ports outside the isolated range are never unallocated", () => {
  assert.deepEqual(unallocatedPorts([8080, 31005], [31000, 31001], [31000, 32000]), [31005, 31005]);
  assert.deepEqual(unallocatedPorts([8080], [], [31000, 32000]), []);
});

test("network/ports: the isolated range comes from --container_ports_isolated_range", () => {
  const base = { checkAgentPortRangeOnly: false, defaultRole: "*" };
  assert.deepEqual(isolatedPortRange(base), { ok: true, ports: undefined });
  assert.deepEqual(isolatedPortRange({ ...base, isolatedRange: "[0-35000]" }), {
    ok: true,
    ports: [0, 35000],
  });
  const bad = isolatedPortRange({ ...base, isolatedRange: "35000" });
  assert.equal(bad.ok, false);
  assert.match(bad.ok ? "" : bad.error, /Invalid --container_ports_isolated_range '35000'/);
});

test("network/ports: --check_agent_port_range_only uses the agent's ports, or its default range", () => {
  const only = { checkAgentPortRangeOnly: true, defaultRole: "*" };
  assert.deepEqual(isolatedPortRange(only), { ok: true, ports: [31000, 32000] });
  assert.deepEqual(isolatedPortRange({ ...only, agentResources: "cpus:2;mem:512" }), {
    ok: true,
    ports: [31000, 32000],
  });
  assert.deepEqual(
    isolatedPortRange({ ...only, agentResources: "cpus:2;ports:[5000-5010,6000-6000]" }),
    { ok: true, ports: [5000, 5010, 6000, 6000] },
  );
});

test("network/ports: the two range flags together are a start-up error", () => {
  const both = isolatedPortRange({
    checkAgentPortRangeOnly: true,
    isolatedRange: "[0-35000]",
    defaultRole: "*",
  });
  assert.equal(both.ok, false);
  const built = createIsolators(
    {
      names: ["posix/cpu", "network/ports"],
      cgroups: { error: "none" },
      root: false,
      enableCfs: false,
      limitSwap: false,
      diskWatchIntervalMs: 1000,
      enforceDiskQuota: false,
      du: async () => ({ code: 0, output: "" }),
      commandExecutorAllowanceMb: 0,
      ports: {
        watchIntervalMs: 1000,
        enforce: true,
        checkAgentPortRangeOnly: true,
        isolatedRange: "[1-2]",
        defaultRole: "*",
      },
    },
    { logger: silentLogger, limit: () => {} },
  );
  assert.equal(built.ok, false);
  assert.match(
    built.ok ? "" : built.error,
    /Only one of `--check_agent_port_range_only` or '--container_ports_isolated_range` should be specified/,
  );
});

test("network/ports: the isolator is built without root or cgroups", () => {
  const built = createIsolators(
    {
      names: ["posix/cpu", "network/ports"],
      cgroups: { error: "none" },
      root: false,
      enableCfs: false,
      limitSwap: false,
      diskWatchIntervalMs: 1000,
      enforceDiskQuota: false,
      du: async () => ({ code: 0, output: "" }),
      commandExecutorAllowanceMb: 0,
    },
    { logger: silentLogger, limit: () => {} },
  );
  assert.ok(built.ok);
  assert.deepEqual(
    built.isolators.map((i) => i.name),
    ["posix/cpu", "network/ports"],
  );
});

test("network/ports: nested containers belong to their top-level container", () => {
  assert.equal(rootContainerOf("abc"), "abc");
  assert.equal(rootContainerOf("abc/mesos/def"), "abc");
  assert.equal(rootContainerOf("abc/mesos/def/mesos/ghi"), "abc");
});

test("network/ports: only a container joining a named network has its own namespace", () => {
  assert.equal(joinsNamedNetwork(undefined), false);
  assert.equal(joinsNamedNetwork({ type: "MESOS", network_infos: [{}] }), false);
  assert.equal(joinsNamedNetwork({ type: "MESOS", network_infos: [{ name: "net1" }] }), true);
});

const onLinux = process.platform === "linux" ? undefined : "reads /proc (Linux only)";

function listen(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolve({ server, port: typeof address === "object" && address !== null ? address.port : 0 });
    });
  });
}

/** The isolator watching this test process as container `id` with the given ports. */
async function watchSelf(
  enforce: boolean,
  ports: { begin: number; end: number }[],
  limits: { id: string; limitation: ContainerLimitation }[],
  warnings: string[] = [],
): Promise<NetworkPortsIsolator> {
  const isolator = new NetworkPortsIsolator(
    {
      logger: { ...silentLogger, warn: (m: string) => warnings.push(m) },
      limit: (id, limitation) => limits.push({ id, limitation }),
    },
    { intervalMs: 3_600_000, enforce, isolatedPorts: undefined },
  );
  await isolator.prepare({
    containerId: "c1",
    directory: "/nonexistent",
    executor: { executor_id: { value: "e1" } },
    commandExecutor: true,
    resources: { ports: { range: ports } },
  });
  await isolator.isolate("c1", process.pid);
  return isolator;
}

test("network/ports: a process listening on a port it was not given is a limitation", {
  skip: onLinux,
}, async () => {
  const { server, port } = await listen();
  const limits: { id: string; limitation: ContainerLimitation }[] = [];
  const isolator = await watchSelf(true, [], limits);
  try {
    await isolator.check();
    assert.equal(limits.length, 1);
    assert.equal(limits[0]?.id, "c1");
    assert.equal(limits[0]?.limitation.reason, "REASON_CONTAINER_LIMITATION");
    assert.match(limits[0]?.limitation.message ?? "", new RegExp(`\\[${port}-${port}\\]`));
    // Reported once.
    await isolator.check();
    assert.equal(limits.length, 1);
  } finally {
    await isolator.cleanup("c1");
    server.close();
  }
});

test("network/ports: a process listening on its given port is left alone", {
  skip: onLinux,
}, async () => {
  const { server, port } = await listen();
  const limits: { id: string; limitation: ContainerLimitation }[] = [];
  const isolator = await watchSelf(true, [{ begin: port, end: port }], limits);
  try {
    await isolator.check();
    assert.deepEqual(limits, []);
    // The allocation shrinks: now the port is not its own.
    await isolator.update("c1", { ports: { range: [] } });
    await isolator.check();
    assert.equal(limits.length, 1);
  } finally {
    await isolator.cleanup("c1");
    server.close();
  }
});

test("network/ports: without enforcement a violation is only logged, once per set of ports", {
  skip: onLinux,
}, async () => {
  const { server, port } = await listen();
  const limits: { id: string; limitation: ContainerLimitation }[] = [];
  const warnings: string[] = [];
  const isolator = await watchSelf(false, [], limits, warnings);
  try {
    await isolator.check();
    await isolator.check();
    assert.deepEqual(limits, []);
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0] ?? "",
      new RegExp(`listening on unallocated port\\(s\\): \\[${port}-`),
    );
  } finally {
    await isolator.cleanup("c1");
    server.close();
  }
});

test("network/ports: a nested container's listener stops its top-level container", {
  skip: onLinux,
}, async () => {
  const { server } = await listen();
  const limits: { id: string; limitation: ContainerLimitation }[] = [];
  const isolator = new NetworkPortsIsolator(
    { logger: silentLogger, limit: (id, limitation) => limits.push({ id, limitation }) },
    { intervalMs: 3_600_000, enforce: true, isolatedPorts: undefined },
  );
  const executor = { executor_id: { value: "e1" } };
  const base = { directory: "/nonexistent", executor, commandExecutor: false };
  try {
    await isolator.prepare({ ...base, containerId: "root", resources: { ports: { range: [] } } });
    await isolator.prepare({ ...base, containerId: "root/mesos/child", resources: {} });
    // The top-level container's own tree is elsewhere (pid 1 is never counted).
    await isolator.isolate("root", 1);
    await isolator.isolate("root/mesos/child", process.pid);
    await isolator.check();
    assert.equal(limits.length, 1);
    assert.equal(limits[0]?.id, "root");
    assert.match(limits[0]?.limitation.message ?? "", /Container root\.child is listening/);
  } finally {
    await isolator.cleanup("root/mesos/child");
    await isolator.cleanup("root");
    server.close();
  }
});

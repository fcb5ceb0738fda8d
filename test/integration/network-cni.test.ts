/**
 * The `network/cni` isolator with a real master and agent and the Debian
 * `containernetworking-plugins` (bridge, host-local): a command task on a
 * bridge network gets its own namespace with an address of the subnet, the
 * IP is in its status, the host-local lease is released once it ends (DEL
 * ran), an unknown network fails the task, and the agent refuses flags
 * Mesos refuses. Needs root (namespaces, the bridge).
 *
 * The agent listens on every address and advertises the bridge's gateway
 * address, which the test puts on the bridge first: the executor in the
 * container's namespace reaches the agent there (loopback is its own).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { executorsCheckpointed } from "../harness/checkpoints.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import {
  binPath,
  type DaemonHandle,
  freePort,
  getJson,
  mountsUnder,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitLong,
} from "../harness/processes.js";
import { executeTask, processesWithMarker, sandboxOf, scalar } from "./containerizer-helpers.js";
import { buildLegacyImage, busyboxFiles, imageContainer, imageSkip } from "./images-helpers.js";

const PLUGINS = "/usr/lib/cni";
const skip =
  process.platform !== "linux"
    ? "network namespaces are Linux only"
    : process.getuid?.() !== 0
      ? "needs root (network namespaces, a bridge)"
      : !existsSync(join(PLUGINS, "bridge")) || !existsSync(join(PLUGINS, "host-local"))
        ? "needs the CNI plugins (Debian package containernetworking-plugins)"
        : undefined;

// One subnet and bridge per run, so runs side by side do not meet.
const octet = 16 + (process.pid % 200);
const SUBNET = `10.213.${octet}.0/24`;
const GATEWAY = `10.213.${octet}.1`;
const BRIDGE = `mcni${process.pid % 100_000}`;
const NETWORK = "mesos-test-bridge";
const NO_DNS_NETWORK = "mesos-test-nodns";
// Its own bridge (the plugin puts its gateway there); the host routes to the agent's address.
const BRIDGE2 = `mcnd${process.pid % 100_000}`;

let master: DaemonHandle;
let agent: DaemonHandle;
let ipamDir: string;
let configDir: string;

function hostnameOfAgent(): string {
  return hostname();
}

/** The agents' --runtime_dir (namespace bind mounts are made under them). */
const runtimeDirs: string[] = [];
function runtimeDir(): string {
  const dir = tempDir("mesos-cni-run-");
  runtimeDirs.push(dir);
  return dir;
}

function ip(...args: string[]): void {
  spawnSync("ip", args, { stdio: "ignore" });
}

before(async () => {
  if (skip !== undefined) return;
  configDir = tempDir("mesos-cni-conf-");
  ipamDir = tempDir("mesos-cni-ipam-");
  writeFileSync(
    join(configDir, "bridge.conf"),
    JSON.stringify({
      cniVersion: "0.4.0",
      name: NETWORK,
      type: "bridge",
      bridge: BRIDGE,
      isGateway: true,
      ipam: { type: "host-local", subnet: SUBNET, dataDir: ipamDir },
      // The bridge plugin answers with these: the task's /etc/resolv.conf.
      dns: { nameservers: ["192.0.2.53"], search: ["cni.example"] },
    }),
  );
  // A second network whose plugin answers no DNS: --default_container_dns.
  writeFileSync(
    join(configDir, "nodns.conf"),
    JSON.stringify({
      cniVersion: "0.4.0",
      name: NO_DNS_NETWORK,
      type: "bridge",
      bridge: BRIDGE2,
      isGateway: true,
      ipam: {
        type: "host-local",
        subnet: `10.214.${octet}.0/24`,
        dataDir: ipamDir,
        routes: [{ dst: "0.0.0.0/0" }],
      },
    }),
  );
  ip("link", "add", BRIDGE, "type", "bridge");
  ip("addr", "add", `${GATEWAY}/24`, "dev", BRIDGE);
  ip("link", "set", BRIDGE, "up");
  ({ master, agent } = await startOneAgentCluster({
    ip: "0.0.0.0",
    advertise_ip: GATEWAY,
    isolation: "posix/cpu,posix/mem,network/cni",
    network_cni_config_dir: configDir,
    network_cni_plugins_dir: PLUGINS,
    runtime_dir: runtimeDir(),
    default_container_dns: JSON.stringify({
      mesos: [
        {
          network_mode: "CNI",
          network_name: NO_DNS_NETWORK,
          dns: { nameservers: ["192.0.2.54"], options: ["ndots:1"] },
        },
      ],
    }),
  }));
});

after(async () => {
  await stopAll();
  if (skip !== undefined) return;
  // A test that failed half-way may leave namespaces held by their bind mounts.
  for (const dir of runtimeDirs) {
    for (const target of mountsUnder(dir)) spawnSync("umount", ["--lazy", target]);
  }
  ip("link", "del", BRIDGE);
  ip("link", "del", BRIDGE2);
});

const small = [scalar("cpus", 0.1), scalar("mem", 64)];

/** The addresses host-local holds (a file per leased IP). */
function leases(): string[] {
  const dir = join(ipamDir, NETWORK);
  return existsSync(dir) ? readdirSync(dir).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : [];
}

test("network/cni: a task on a bridge network gets eth0 in the subnet, reported in its status; DEL releases the lease", {
  skip,
}, async () => {
  const run = await executeTask(master, {
    name: "cni-task",
    resources: small,
    command:
      "ip -o -4 addr show; echo HOSTNAME=$(hostname); cat /etc/hosts /etc/resolv.conf; echo LIBPROCESS_IP=$LIBPROCESS_IP",
    container: { type: "MESOS", network_infos: [{ name: NETWORK }] },
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  const sandbox = await sandboxOf(agent, "cni-task");
  const output = readFileSync(join(sandbox, "stdout"), "utf8");
  const eth0 = new RegExp(`eth0\\s+inet (10\\.213\\.${octet}\\.\\d+)/24`).exec(output);
  assert.ok(eth0 !== null, `no eth0 address in ${SUBNET}:\n${output}`);
  const address = eth0[1];
  assert.match(output, /\blo\s+inet 127\.0\.0\.1\/8/, "the loopback interface is up");
  assert.match(output, /LIBPROCESS_IP=0\.0\.0\.0/);
  // The plugin's DNS answer, in Mesos' resolv.conf order.
  assert.match(output, /^search cni\.example\nnameserver 192\.0\.2\.53$/m, output);
  // Its hostname is its container id (a UTS namespace of its own), in its /etc/hosts with its IP.
  const hostname = /^HOSTNAME=(\S+)$/m.exec(output)?.[1];
  assert.ok(hostname !== undefined && hostname !== hostnameOfAgent(), output);
  assert.match(output, new RegExp(`^${address?.replace(/\./g, "\\.")} ${hostname}$`, "m"));

  // The master's /state has the address in the task's statuses.
  interface State {
    frameworks?: { completed_tasks?: StateTask[]; tasks?: StateTask[] }[];
    completed_frameworks?: { completed_tasks?: StateTask[]; tasks?: StateTask[] }[];
  }
  interface StateTask {
    id: string;
    statuses?: {
      state: string;
      container_status?: {
        network_infos?: { name?: string; ip_addresses?: { ip_address?: string }[] }[];
      };
    }[];
  }
  const statuses = await waitLong("the task's statuses in the master's /state", async () => {
    const state = await getJson<State>(`${master.url}/state`);
    const frameworks = [...(state?.frameworks ?? []), ...(state?.completed_frameworks ?? [])];
    const task = frameworks
      .flatMap((f) => [...(f.completed_tasks ?? []), ...(f.tasks ?? [])])
      .find((t) => t.id === "cni-task");
    return task?.statuses?.some((s) => s.state === "TASK_FINISHED") ? task.statuses : undefined;
  });
  const running = statuses.find((s) => s.state === "TASK_RUNNING");
  const networks = running?.container_status?.network_infos ?? [];
  assert.equal(networks[0]?.name, NETWORK, JSON.stringify(statuses));
  assert.equal(networks[0]?.ip_addresses?.[0]?.ip_address, address, JSON.stringify(statuses));

  // DEL ran once the container was gone: host-local no longer holds the address.
  await waitLong("the host-local lease to be released", async () =>
    leases().includes(address ?? "") ? undefined : true,
  );
  await waitLong("the agent to log the detach", async () =>
    /Detached container \S+ from network/.test(agent.logs()) ? true : undefined,
  );
});

test("network/cni: a task naming an unknown network fails with Mesos' reason", {
  skip,
}, async () => {
  const run = await executeTask(master, {
    name: "cni-unknown",
    resources: small,
    command: "true",
    container: { type: "MESOS", network_infos: [{ name: "no-such-network" }] },
  });
  assert.equal(run.finalState, "TASK_FAILED", run.stdout);
  assert.equal(run.reason, "REASON_CONTAINER_LAUNCH_FAILED");
  assert.match(run.message ?? "", /Unknown CNI network 'no-such-network'/);
});

test("network/cni: a task without a network name stays on the host network", {
  skip,
}, async () => {
  const run = await executeTask(master, {
    name: "cni-host",
    resources: small,
    command: `ip -o -4 addr show dev ${BRIDGE}`,
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  const output = readFileSync(join(await sandboxOf(agent, "cni-host"), "stdout"), "utf8");
  assert.match(output, new RegExp(`inet ${GATEWAY.replace(/\./g, "\\.")}/24`), output);
});

/** Starts an agent expected to exit at once; returns its log. */
async function refusedAgent(flags: Record<string, string>): Promise<string> {
  const refused = await startAgent({
    master: master.address,
    flags: { isolation: "posix/cpu,network/cni", ...flags },
    waitReady: false,
  });
  const code = await refused.exited;
  assert.notEqual(code, 0);
  return refused.logs();
}

test("network/cni: the agent refuses to start without the plugins flag or with a missing config directory", {
  skip,
}, async () => {
  assert.match(
    await refusedAgent({ network_cni_config_dir: configDir }),
    /Missing required '--network_cni_plugins_dir' flag/,
  );
  assert.match(
    await refusedAgent({ network_cni_plugins_dir: PLUGINS }),
    /Missing required '--network_cni_config_dir' flag/,
  );
  const missing = join(tempDir("mesos-cni-"), "absent");
  assert.match(
    await refusedAgent({ network_cni_plugins_dir: PLUGINS, network_cni_config_dir: missing }),
    /The CNI network configuration directory '.*absent' does not exist/,
  );
});

test("network/cni: bad configuration files are logged and skipped (as Mesos), their networks unknown", {
  skip,
}, async () => {
  const dir = tempDir("mesos-cni-bad-");
  writeFileSync(join(dir, "a-broken.conf"), "{ not json");
  writeFileSync(join(dir, "b-nameless.conf"), JSON.stringify({ type: "bridge" }));
  writeFileSync(join(dir, "c-first.conf"), JSON.stringify({ name: "twice", type: "bridge" }));
  writeFileSync(join(dir, "d-second.conf"), JSON.stringify({ name: "twice", type: "bridge" }));
  writeFileSync(join(dir, "e-noplugin.conf"), JSON.stringify({ name: "p", type: "no-such" }));
  const other = await startAgent({
    master: master.address,
    flags: {
      isolation: "posix/cpu,network/cni",
      network_cni_config_dir: dir,
      network_cni_plugins_dir: PLUGINS,
      runtime_dir: runtimeDir(),
    },
  });
  const logs = other.logs();
  assert.match(logs, /Failed to parse CNI network configuration file '.*a-broken\.conf'/);
  assert.match(logs, /Failed to parse CNI network configuration file '.*b-nameless\.conf'/);
  assert.match(
    logs,
    /Multiple network configuration for a CNI network is not allowed\. Skipping configuration file '.*d-second\.conf/,
  );
  assert.match(logs, /since we failed to find CNI plugin 'no-such' used by this network/);
  await other.stop();
});

test("network/cni: a task group on the network shares the executor's eth0; MESOS_CONTAINER_IP is that address", {
  skip,
}, async () => {
  const task = (name: string) => ({
    name,
    task_id: { value: name },
    agent_id: { value: "" },
    resources: small,
    command: { value: "ip -o -4 addr show eth0; echo CONTAINER_IP=$MESOS_CONTAINER_IP" },
  });
  const run = await runBinary(
    "mesos-execute",
    [
      `--master=${master.address}`,
      `--task_group=${JSON.stringify({ tasks: [task("cni-group-a")] })}`,
      `--networks=${NETWORK}`,
    ],
    { timeoutMs: 45_000 },
  );
  assert.match(
    run.stdout,
    /Received status update TASK_FINISHED for task 'cni-group-a'/,
    run.stdout,
  );
  const executorSandbox = await sandboxOf(agent, "default-executor");
  const output = await waitLong("the task's output", async () => {
    const dirs = readdirSync(join(executorSandbox, "tasks"));
    const text = dirs.map((d) => readFileSync(join(executorSandbox, "tasks", d, "stdout"), "utf8"));
    return text.join("").includes("CONTAINER_IP=") ? text.join("") : undefined;
  });
  const eth0 = new RegExp(`eth0\\s+inet (10\\.213\\.${octet}\\.\\d+)/24`).exec(output);
  assert.ok(eth0 !== null, output);
  assert.match(output, new RegExp(`^CONTAINER_IP=${eth0[1]?.replace(/\./g, "\\.")}$`, "m"));
});

/** The long tasks' sleep, unique to this run (so only ours are killed). */
const MARKER = `600.${process.pid}`;

/** Waits until the master reports task `name` running. */
function running(on: DaemonHandle, name: string): Promise<true> {
  interface State {
    frameworks?: { tasks?: { id: string; state: string }[] }[];
  }
  return waitLong(`task '${name}' to be running`, async () => {
    const state = await getJson<State>(`${on.url}/state`);
    const tasks = (state?.frameworks ?? []).flatMap((f) => f.tasks ?? []);
    return tasks.some((t) => t.id === name && t.state === "TASK_RUNNING") ? true : undefined;
  });
}

/** Starts mesos-execute for a long checkpointed task on the network; returns it. */
function longTask(on: DaemonHandle, name: string): ChildProcess {
  return spawn(
    process.execPath,
    [
      binPath("mesos-execute"),
      `--master=${on.address}`,
      `--name=${name}`,
      `--command=sleep ${MARKER}`,
      "--resources=cpus:0.1;mem:48",
      `--networks=${NETWORK}`,
      "--checkpoint",
    ],
    { stdio: "ignore" },
  );
}

test("network/cni: a restarted agent still runs DEL for a recovered container and for one that ended while it was down", {
  skip,
}, async () => {
  const master2 = await startMaster();
  const port = await freePort();
  const flags = {
    work_dir: tempDir("mesos-cni-recovery-"),
    runtime_dir: runtimeDir(),
    ip: "0.0.0.0",
    advertise_ip: GATEWAY,
    isolation: "posix/cpu,posix/mem,network/cni",
    network_cni_config_dir: configDir,
    network_cni_plugins_dir: PLUGINS,
    registration_backoff_factor: "10ms",
    executor_reregistration_timeout: "5secs",
    executor_shutdown_grace_period: "1secs",
  };
  let agent2 = await startAgent({ master: master2.address, port, flags });
  const before = new Set(leases());
  const leaseOf = async (name: string) => {
    await running(master2, name);
    return await waitLong(`the lease of ${name}`, async () => leases().find((l) => !before.has(l)));
  };

  // 1. Recovered: the agent is killed and restarted; the task ends afterwards.
  const first = longTask(master2, "cni-recovered");
  try {
    const lease = await leaseOf("cni-recovered");
    await executorsCheckpointed(flags.work_dir);
    agent2.kill("SIGKILL");
    await agent2.exited;
    agent2 = await startAgent({ master: master2.address, port, flags });
    await waitLong("the executor to subscribe again", async () =>
      /Received Subscribe request for HTTP executor 'cni-recovered'/.test(agent2.logs())
        ? true
        : undefined,
    );
    first.kill("SIGTERM");
    await waitLong("the recovered container's lease to be released", async () =>
      leases().includes(lease) ? undefined : true,
    ).catch((e: unknown) => {
      const lines = agent2.logs().split("\n");
      throw new Error(
        `${(e as Error).message}\n${lines.filter((l) => /CNI|network|ecover|xecutor/.test(l)).join("\n")}`,
      );
    });
  } finally {
    first.kill("SIGKILL");
  }

  // 2. Orphaned: the executor dies while the agent is down.
  for (const l of leases()) before.add(l);
  const second = longTask(master2, "cni-orphan");
  try {
    const lease = await leaseOf("cni-orphan");
    const pidFile = (await executorsCheckpointed(flags.work_dir, 2)).find((f) =>
      f.includes("/executors/cni-orphan/"),
    );
    assert.ok(pidFile !== undefined);
    const executorPid = Number(readFileSync(pidFile, "utf8").trim());
    agent2.kill("SIGKILL");
    await agent2.exited;
    second.kill("SIGKILL");
    // The executor and its task die while the agent is down.
    for (const pid of [executorPid, ...processesWithMarker(`sleep ${MARKER}`)]) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    agent2 = await startAgent({ master: master2.address, port, flags });
    // Swept at recovery or, with nothing left to recover, before the next launch.
    const third = longTask(master2, "cni-after");
    try {
      await waitLong("the orphan's lease to be released", async () =>
        leases().includes(lease) ? undefined : true,
      );
      assert.match(agent2.logs(), /Removing unknown orphaned container/);
    } finally {
      third.kill("SIGKILL");
    }
  } finally {
    second.kill("SIGKILL");
  }
  await agent2.stop();
});

test("network/cni: a running container's statistics carry its interface counters (--network_cni_metrics)", {
  skip,
}, async () => {
  const scheduler = longTask(master, "cni-stats");
  try {
    await running(master, "cni-stats");
    type Entry = { executor_id: string; statistics: Record<string, number> };
    // The executor talks to the agent over eth0: packets go out of it.
    const stats = await waitLong("interface counters in /monitor/statistics", async () => {
      const all = await getJson<Entry[]>(`${agent.url}/monitor/statistics`).catch(() => undefined);
      const s = all?.find((e) => e.executor_id === "cni-stats")?.statistics;
      return (s?.net_tx_packets ?? 0) > 0 ? s : undefined;
    });
    assert.ok((stats.net_tx_bytes ?? 0) > 0, JSON.stringify(stats));
    assert.ok((stats.net_rx_packets ?? 0) > 0, JSON.stringify(stats));
  } finally {
    scheduler.kill("SIGTERM");
  }
});

test("network/cni: --default_container_dns gives the resolv.conf of a network whose plugin names no nameservers", {
  skip,
}, async () => {
  const run = await executeTask(master, {
    name: "cni-default-dns",
    resources: small,
    command: "cat /etc/resolv.conf",
    container: { type: "MESOS", network_infos: [{ name: NO_DNS_NETWORK }] },
  });
  const sandbox = await sandboxOf(agent, "cni-default-dns");
  assert.equal(run.finalState, "TASK_FINISHED", readFileSync(join(sandbox, "stderr"), "utf8"));
  const output = readFileSync(join(sandbox, "stdout"), "utf8");
  assert.equal(output, "options ndots:1\nnameserver 192.0.2.54\n");
});

test("network/cni: a container with an image gets its hosts, hostname and resolv.conf in the image; on the host network the host's", {
  skip: skip ?? imageSkip,
}, async () => {
  const registry = tempDir("mesos-cni-registry-");
  buildLegacyImage(registry, "cniimage.tar", {
    repository: "cniimage",
    layers: [{ files: { ...busyboxFiles(), "etc/hosts": "image hosts\n" } }],
    config: { Env: ["PATH=/bin"] },
  });
  const { master: master3, agent: agent3 } = await startOneAgentCluster({
    ip: "0.0.0.0",
    advertise_ip: GATEWAY,
    isolation: "filesystem/linux,docker/runtime,network/cni",
    image_providers: "docker",
    docker_registry: registry,
    docker_store_dir: tempDir("mesos-cni-store-"),
    network_cni_config_dir: configDir,
    network_cni_plugins_dir: PLUGINS,
    runtime_dir: runtimeDir(),
  });
  const command = "echo HOSTNAME=$(cat /etc/hostname); cat /etc/hosts /etc/resolv.conf";
  const onNetwork = await executeTask(master3, {
    name: "cni-image",
    resources: small,
    command,
    container: { ...imageContainer("cniimage"), network_infos: [{ name: NETWORK }] },
  });
  assert.equal(onNetwork.finalState, "TASK_FINISHED", onNetwork.stdout);
  const output = readFileSync(join(await sandboxOf(agent3, "cni-image"), "stdout"), "utf8");
  const name = /^HOSTNAME=(\S+)$/m.exec(output)?.[1];
  assert.ok(name !== undefined, output);
  assert.match(output, new RegExp(`^10\\.213\\.${octet}\\.\\d+ ${name}$`, "m"), output);
  assert.match(output, /^nameserver 192\.0\.2\.53$/m, output);
  assert.doesNotMatch(output, /image hosts/);

  const onHost = await executeTask(master3, {
    name: "cni-image-host",
    resources: small,
    command: "cat /etc/hosts",
    container: imageContainer("cniimage"),
  });
  assert.equal(onHost.finalState, "TASK_FINISHED", onHost.stdout);
  const hostOutput = readFileSync(
    join(await sandboxOf(agent3, "cni-image-host"), "stdout"),
    "utf8",
  );
  assert.equal(hostOutput, readFileSync("/etc/hosts", "utf8"));
});

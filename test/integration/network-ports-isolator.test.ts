/**
 * The `network/ports` isolator with a real master and agent
 * (`--isolation=posix/cpu,posix/mem,network/ports`, a 1 s watch interval,
 * `--enforce_container_ports`) and command tasks started with
 * mesos-execute that listen with Node's `net` module. Reads /proc: Linux
 * only; needs no root (the tasks run as the agent's user).
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import {
  type DaemonHandle,
  freePort,
  runBinary,
  stopAll,
  tempDir,
  waitFor,
} from "../harness/processes.js";
import { executeTask, limitedResourcesOf, scalar } from "./containerizer-helpers.js";

const skip = process.platform !== "linux" ? "reads /proc/net/tcp (Linux only)" : undefined;
let master: DaemonHandle;
let given: number;
let other: number;

before(async () => {
  if (skip !== undefined) return;
  given = await freePort();
  do other = await freePort();
  while (other === given);
  ({ master } = await startOneAgentCluster({
    isolation: "posix/cpu,posix/mem,network/ports",
    container_ports_watch_interval: "1secs",
    enforce_container_ports: true,
    resources: `cpus:2;mem:1024;disk:1024;ports:[${given}-${given},${other}-${other}]`,
  }));
});

after(stopAll);

/** A shell command that listens on `port` until killed. */
function listenOn(port: number): string {
  const script = `require("node:net").createServer().listen(${port}, "127.0.0.1")`;
  return `exec ${JSON.stringify(process.execPath)} -e '${script}'`;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

const small = [scalar("cpus", 0.1), scalar("mem", 64)];
const portsResource = (port: number) => ({
  name: "ports",
  type: "RANGES",
  ranges: { range: [{ begin: port, end: port }] },
});

test("network/ports: a task listening on a port it was not given fails with REASON_CONTAINER_LIMITATION", {
  skip,
}, async () => {
  const run = await executeTask(master, {
    name: "wrong-port",
    resources: [...small, portsResource(given)],
    command: listenOn(other),
    killAfter: "20secs",
  });
  assert.equal(run.finalState, "TASK_FAILED", run.stdout);
  assert.equal(run.reason, "REASON_CONTAINER_LIMITATION", run.stdout);
  assert.match(run.message ?? "", new RegExp(`unallocated port\\(s\\): \\[${other}-${other}\\]`));
  // The status names the ports, as Mesos' TaskStatus.limitation does.
  assert.deepEqual(await limitedResourcesOf(master, "wrong-port"), [
    { name: "ports", type: "RANGES", ranges: { range: [{ begin: other, end: other }] } },
  ]);
});

test("network/ports: a task listening on its given port keeps running until it is killed", {
  skip,
}, async () => {
  const running = executeTask(master, {
    name: "right-port",
    resources: [...small, portsResource(given)],
    command: listenOn(given),
    killAfter: "5secs",
  });
  // It really listens (the isolator looks at least every second from here on).
  await waitFor(`the task to listen on ${given}`, () => accepts(given), { timeoutMs: 30_000 });
  const run = await running;
  assert.equal(run.finalState, "TASK_KILLED", run.stdout);
  assert.notEqual(run.reason, "REASON_CONTAINER_LIMITATION", run.stdout);
});

test("network/ports: a later task (from the agent's executor pool) is watched too", {
  skip,
}, async () => {
  const run = await executeTask(master, {
    name: "wrong-port-again",
    resources: [...small, portsResource(given)],
    command: listenOn(other),
    killAfter: "20secs",
  });
  assert.equal(run.finalState, "TASK_FAILED", run.stdout);
  assert.equal(run.reason, "REASON_CONTAINER_LIMITATION", run.stdout);
});

test("network/ports: a task group member listening outside the group's ports fails the executor's container", {
  skip,
}, async () => {
  const task = (id: string, command: string, ports: object[]) => ({
    name: id,
    task_id: { value: id },
    resources: [...small, ...ports],
    command: { value: command },
  });
  const group = {
    tasks: [
      task("group-right", listenOn(given), [portsResource(given)]),
      task("group-wrong", listenOn(other), []),
    ],
  };
  const run = await runBinary(
    "mesos-execute",
    [`--master=${master.address}`, `--task_group=${JSON.stringify(group)}`, "--kill_after=20secs"],
    { timeoutMs: 45_000 },
  );
  const output = run.stdout + run.stderr;
  for (const id of ["group-right", "group-wrong"]) {
    assert.ok(output.includes(`Received status update TASK_FAILED for task '${id}'`), output);
  }
  assert.match(output, /reason: REASON_CONTAINER_LIMITATION\n/);
  assert.match(
    output,
    // The nested container's id as Mesos writes it: <executor container>.<task container>.
    new RegExp(
      `Container [0-9a-f-]+\\.[0-9a-f-]+ is listening on unallocated port\\(s\\): \\[${other}-${other}\\]`,
    ),
  );
});

test("network/ports: --check_agent_port_range_only with --container_ports_isolated_range stops the agent with Mesos' message", {
  skip,
}, async () => {
  const run = await runBinary(
    "mesos-agent",
    [
      "--master=127.0.0.1:1",
      `--work_dir=${tempDir("mesos-ports-agent-")}`,
      "--isolation=network/ports",
      "--check_agent_port_range_only",
      "--container_ports_isolated_range=[0-35000]",
    ],
    { timeoutMs: 30_000 },
  );
  assert.notEqual(run.code, 0);
  assert.match(
    run.stdout + run.stderr,
    /Only one of `--check_agent_port_range_only` or '--container_ports_isolated_range` should be specified/,
  );
});

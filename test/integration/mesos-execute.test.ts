/**
 * mesos-execute against a real master, a real agent and the real command
 * executor, all on loopback.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { mesosExecute } from "../harness/mesos-execute.js";
import {
  type DaemonHandle,
  getJson,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  waitFor,
  waitForAgents,
} from "../harness/processes.js";
import { sandboxOf } from "./containerizer-helpers.js";

let master: DaemonHandle;
let agent: DaemonHandle;

before(async () => {
  master = await startMaster();
  agent = await startAgent({ master: master.address });
  await waitForAgents(master, 1);
});

after(stopAll);

function execute(...args: string[]) {
  return mesosExecute(master, args);
}

test("mesos-execute: `echo hello` finishes, exits 0, and `hello` is in the sandbox stdout", async () => {
  const run = await execute("--name=hello", "--command=echo hello");
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const lines = run.stdout.split("\n");
  assert.match(lines[0] ?? "", /^Subscribed with ID \S+-0000$/);
  assert.match(lines[1] ?? "", /^Submitted task 'hello' to agent '\S+-S0'$/);
  assert.ok(lines.includes("Received status update TASK_RUNNING for task 'hello'"), run.stdout);
  assert.ok(lines.includes("Received status update TASK_FINISHED for task 'hello'"), run.stdout);
  assert.ok(lines.includes("  source: SOURCE_EXECUTOR"), run.stdout);
  const sandbox = await sandboxOf(agent, "hello");
  assert.match(readFileSync(join(sandbox, "stdout"), "utf8"), /^hello$/m);
});

test("mesos-execute: `exit 3` fails the task with the exit status in the message; exit code non-zero", async () => {
  const run = await execute("--name=fails", "--command=exit 3");
  assert.notEqual(run.code, 0);
  assert.ok(run.stdout.includes("Received status update TASK_FAILED for task 'fails'"), run.stdout);
  assert.match(run.stdout, / {2}message: '.*exited with status 3.*'/);
});

test("mesos-execute: --kill_after kills a `sleep 100` task with SIGTERM: TASK_KILLED, exit code non-zero", async () => {
  const run = await execute("--name=sleeper", "--command=sleep 100", "--kill_after=1secs");
  assert.notEqual(run.code, 0);
  const lines = run.stdout.split("\n");
  const running = lines.indexOf("Received status update TASK_RUNNING for task 'sleeper'");
  const asked = lines.findIndex((l) => l.startsWith("Asked to kill task 'sleeper' on agent '"));
  const killed = lines.indexOf("Received status update TASK_KILLED for task 'sleeper'");
  assert.ok(running >= 0 && asked > running && killed > asked, run.stdout);
  // SIGTERM was enough: the task ended within the grace period, without SIGKILL.
  assert.equal(lines[killed + 1], "  message: 'Command terminated with signal Terminated'");
});

test("mesos-execute: JSON and protobuf subscriptions both run a task to TASK_FINISHED", async () => {
  for (const contentType of ["json", "protobuf"]) {
    const run = await execute(
      `--name=ct-${contentType}`,
      "--command=true",
      `--content_type=${contentType}`,
    );
    assert.equal(run.code, 0, `${contentType}: ${run.stdout}${run.stderr}`);
    assert.ok(
      run.stdout.includes(`Received status update TASK_FINISHED for task 'ct-${contentType}'`),
      run.stdout,
    );
  }
});

test("mesos-execute: --task runs a TaskInfo given as JSON (agent_id left out)", async () => {
  const task = JSON.stringify({
    name: "from-json",
    task_id: { value: "from-json" },
    resources: [
      { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
      { name: "mem", type: "SCALAR", scalar: { value: 32 } },
    ],
    command: { value: "true" },
  });
  const run = await execute(`--task=${task}`);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.ok(run.stdout.includes("Submitted task 'from-json' to agent"), run.stdout);
  assert.ok(run.stdout.includes("Received status update TASK_FINISHED for task 'from-json'"));
});

test("mesos-execute: --env sets the command's environment", async () => {
  const run = await execute(
    "--name=env",
    '--command=test "$GREETING" = hi',
    '--env={"GREETING":"hi"}',
  );
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const without = await execute("--name=no-env", '--command=test "$GREETING" = hi');
  assert.notEqual(without.code, 0);
});

test("mesos-execute: a task that does not fit any offer is never launched (resources beyond the agent)", async () => {
  // The harness agent has 2 cpus; --kill_after cannot help, so bound the run.
  const run = await runBinary(
    "mesos-execute",
    [`--master=${master.address}`, "--name=huge", "--command=true", "--resources=cpus:64;mem:32"],
    { timeoutMs: 4000 },
  );
  assert.equal(run.code, null, "still waiting for a big enough offer when killed");
  assert.ok(!run.stdout.includes("Submitted task"), run.stdout);
});

test("mesos-execute: refuses features that are not there yet, and a bad zk:// URL, with a clear line", async () => {
  const tty = await execute("--name=x", "--command=true", "--tty");
  assert.equal(tty.code, 1);
  assert.match(tty.stderr, /--tty is not supported yet/);
  // Each refusal is its one line on stderr: no "has no effect yet" warning
  // for the refused flag, and nothing launched.
  for (const flag of ["--tty", "--appc_image=ubuntu", "--package=/etc/hostname"]) {
    const run = await execute("--name=x", "--command=true", flag);
    assert.equal(run.code, 1, flag);
    assert.equal(run.stdout, "", flag);
    const lines = run.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `${flag}: ${run.stderr}`);
    assert.match(lines[0] ?? "", /not supported yet/, flag);
  }
  const zk = await runBinary("mesos-execute", [
    "--master=zk://127.0.0.1:0/mesos",
    "--name=x",
    "--command=true",
  ]);
  assert.equal(zk.code, 1);
  assert.match(zk.stderr, /Invalid ZooKeeper URL .*bad port/);
});

test("mesos-execute: --task_group runs its tasks under the default executor", async () => {
  const group = JSON.stringify({
    tasks: [
      {
        name: "g1",
        task_id: { value: "g1" },
        resources: [
          { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
          { name: "mem", type: "SCALAR", scalar: { value: 32 } },
        ],
        command: { value: "true" },
      },
    ],
  });
  const run = await execute(`--task_group=${group}`);
  assert.match(run.stdout, /^Submitted task group with tasks \[ g1 \] to agent '\S+'$/m);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.ok(run.stdout.includes("Received status update TASK_FINISHED for task 'g1'"));
});

test("mesos-execute: a task too big for every agent launches once an agent with room registers (offers are not suppressed before the launch)", async () => {
  const declines = async () => {
    const snapshot = await getJson<Record<string, number>>(`${master.url}/metrics/snapshot`);
    return snapshot?.["master/messages_decline_offers"] ?? 0;
  };
  const before = await declines();
  // The harness agent has 2 cpus: its offer is declined first.
  const pending = execute("--name=patient", "--command=true", "--resources=cpus:3;mem:32");
  await waitFor("mesos-execute to decline the small agent's offer", async () => {
    return (await declines()) > before;
  });
  const big = await startAgent({
    master: master.address,
    flags: { resources: "cpus:4;mem:256;disk:64" },
  });
  try {
    const run = await pending;
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /^Submitted task 'patient' to agent '\S+'$/m);
    assert.ok(run.stdout.includes("Received status update TASK_FINISHED for task 'patient'"));
  } finally {
    await big.stop();
  }
});

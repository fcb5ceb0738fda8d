/**
 * mesos-local: a master and agents in one process, used by mesos-execute.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { runBinary, startDaemon, stopAll, waitFor, waitForAgents } from "../harness/processes.js";

after(stopAll);

test("mesos-local: starts a master and two agents in one process and runs a task", async () => {
  const local = await startDaemon("mesos-local", 5050, {
    flags: { num_slaves: 2, resources: "cpus:2;mem:1024;disk:1024" },
  });
  const agents = await waitForAgents(local, 2);
  assert.equal(agents.length, 2);
  await waitFor("the addresses printed", () => local.logs().includes("Web UI:"));
  const logs = local.logs();
  assert.match(logs, new RegExp(`^Master: +master@${local.address.replace(/\./g, "\\.")} `, "m"));
  assert.match(logs, new RegExp(`^Web UI: +http://${local.address.replace(/\./g, "\\.")} `, "m"));
  assert.match(logs, /^Agents: +slave\(1\)@\S+, slave\(2\)@\S+$/m);

  const run = await runBinary("mesos-execute", [
    `--master=${local.address}`,
    "--name=local-hello",
    "--command=echo hello",
  ]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.ok(run.stdout.includes("Received status update TASK_FINISHED for task 'local-hello'"));

  // Each agent serves its own endpoints under its process id.
  for (const id of ["slave(1)", "slave(2)"]) {
    const response = await fetch(`${local.url}/${id}/state`);
    assert.equal(response.status, 200, id);
  }
  await local.stop();
  assert.equal(await local.exited, 0);
});

test("mesos-local: an unknown flag stops it with a one-line error", async () => {
  const run = await runBinary("mesos-local", ["--no_such_flag=1"]);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /^Failed to load unknown flag 'no_such_flag'$/m);
});

/**
 * mesos-local: a master and agents in one process, used by mesos-execute.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, test } from "node:test";
import {
  binPath,
  freePort,
  runBinary,
  startDaemon,
  stopAll,
  tempDir,
  waitFor,
  waitForAgents,
} from "../harness/processes.js";

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

test("mesos-local: --ip_discovery_command's address is where the master listens and where its agents register", async () => {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      binPath("mesos-local"),
      "--ip_discovery_command=echo 127.0.0.3",
      `--port=${port}`,
      `--work_dir=${tempDir("local-ipdisc-")}`,
      "--resources=cpus:1;mem:256;disk:256",
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LIBPROCESS_IP: "127.0.0.1" } },
  );
  let output = "";
  const collect = (d: string) => {
    output += d;
  };
  child.stdout.setEncoding("utf8").on("data", collect);
  child.stderr.setEncoding("utf8").on("data", collect);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    const state = await waitFor(
      "an agent registered with the master on 127.0.0.3",
      async () => {
        if (child.exitCode !== null) throw new Error(`mesos-local exited:\n${output}`);
        const r = await fetch(`http://127.0.0.3:${port}/master/state`).catch(() => undefined);
        if (r?.status !== 200) return undefined;
        const s = (await r.json()) as { pid: string; slaves: { pid: string }[] };
        return s.slaves.length === 1 ? s : undefined;
      },
      { timeoutMs: 30_000 },
    );
    assert.equal(state.pid, `master@127.0.0.3:${port}`);
    assert.match(state.slaves[0]?.pid ?? "", /^slave\(1\)@127\.0\.0\.3:/);
  } finally {
    child.kill("SIGKILL");
    await exited;
  }
});

test("mesos-local: --ip with --ip_discovery_command is refused", async () => {
  const run = await runBinary("mesos-local", ["--ip=127.0.0.1", "--ip_discovery_command=echo x"]);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /Only one of --ip or --ip_discovery_command/);
});

/**
 * `mesos task exec` and `mesos task attach` refuse what the Mesos CLI
 * refuses, against a real master and agent: a task in a Docker container
 * (run by the docker containerizer through test/fixtures/fake-docker, no
 * Docker daemon needed) and attaching to a task launched without a TTY.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { after, before, test } from "node:test";
import { type FakeDocker, installFakeDocker } from "../fixtures/fake-docker/install.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import {
  binPath,
  type DaemonHandle,
  runBinary,
  stopAll,
  tempDir,
  waitFor,
} from "../harness/processes.js";

let master: DaemonHandle;
let docker: FakeDocker;
const executions: ChildProcess[] = [];

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("MESOS_") && !k.startsWith("LIBPROCESS_")) env[k] = v;
  }
  return { ...env, HOME: tempDir("mesos-cli-task-io-home-") };
}

function mesos(args: string[]) {
  return runBinary("mesos", ["--master", master.address, ...args], {
    env: cleanEnv(),
    timeoutMs: 30_000,
  });
}

/** Starts mesos-execute in the background and waits until the master lists the task running. */
async function runTask(name: string, extra: string[]): Promise<void> {
  const child = spawn(
    process.execPath,
    [
      binPath("mesos-execute"),
      `--master=${master.address}`,
      `--name=${name}`,
      "--command=sleep 120",
      "--resources=cpus:0.1;mem:32",
      ...extra,
    ],
    { env: cleanEnv(), stdio: "ignore" },
  );
  executions.push(child);
  await waitFor(`${name} running`, async () => {
    const r = await mesos(["task", "list"]);
    return new RegExp(`\\n${name} +\\S+ +TASK_RUNNING `).test(r.stdout) || undefined;
  });
}

before(async () => {
  docker = installFakeDocker(tempDir("fake-docker-"));
  ({ master } = await startOneAgentCluster({
    containerizers: "mesos,docker",
    docker: docker.path,
  }));
});

after(async () => {
  for (const child of executions) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill("SIGINT");
    await new Promise((resolve) => child.once("exit", resolve));
  }
  docker.removeAll();
  await stopAll();
});

test("task exec and task attach refuse a task in a Docker container, as the Mesos CLI", async () => {
  await runTask("io-docker", ["--containerizer=docker", "--docker_image=busybox"]);
  const expected =
    "mesos: task 'io-docker' runs in a DOCKER container: task exec and task attach work only " +
    "for tasks of the Mesos containerizer (UCR)\n";
  const exec = await mesos(["task", "exec", "io-docker", "ls"]);
  assert.deepEqual([exec.code, exec.stdout, exec.stderr], [1, "", expected]);
  const attach = await mesos(["task", "attach", "io-docker", "--no-stdin"]);
  assert.deepEqual([attach.code, attach.stdout, attach.stderr], [1, "", expected]);
});

test("task attach to a task launched without a TTY says so", async () => {
  await runTask("io-plain", []);
  const attach = await mesos(["task", "attach", "io-plain", "--no-stdin"]);
  assert.deepEqual(
    [attach.code, attach.stderr],
    [1, "mesos: cannot attach to task 'io-plain': it was launched without a TTY\n"],
  );
  // exec still works on the same task: it is a Mesos containerizer task.
  const exec = await mesos(["task", "exec", "io-plain", "--", "sh", "-c", "echo inside; exit 6"]);
  assert.deepEqual([exec.code, exec.stdout], [6, "inside\n"], exec.stderr);
});

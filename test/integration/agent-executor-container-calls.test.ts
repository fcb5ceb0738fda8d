/**
 * Container calls as Mesos' agent serves them, on real processes:
 * `command.user` of a nested container counts only with `--switch_user`,
 * and WAIT_CONTAINER / KILL_CONTAINER serve an executor's (top-level)
 * container: the WAIT answers with the executor's wait status once a KILL
 * has ended it, and the agent handles the executor's end as any other.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import type { ContainerID } from "../../src/common/protocol/generated/mesos-v1.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { binPath, type DaemonHandle, stopAll, tempDir, waitLong } from "../harness/processes.js";

const isRoot = process.getuid?.() === 0;
const sleepers: ChildProcess[] = [];

after(async () => {
  for (const sleeper of sleepers) {
    if (sleeper.exitCode !== null || sleeper.signalCode !== null) continue;
    const exited = new Promise((resolve) => sleeper.once("exit", resolve));
    sleeper.kill("SIGINT");
    await exited;
  }
  await stopAll();
});

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("MESOS_") && !k.startsWith("LIBPROCESS_")) env[k] = v;
  }
  return { ...env, HOME: tempDir("executor-calls-home-") };
}

function call(agent: DaemonHandle, body: unknown): Promise<Response> {
  return fetch(`${agent.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
}

async function containers(agent: DaemonHandle): Promise<ContainerID[]> {
  const r = await call(agent, { type: "GET_CONTAINERS", get_containers: {} });
  const body = (await r.json()) as {
    get_containers?: { containers?: { container_id: ContainerID }[] };
  };
  return (body.get_containers?.containers ?? []).map((c) => c.container_id);
}

/** A master, an agent with `flags`, and a bin/mesos-execute task sleeping in its executor container. */
async function sleeperCluster(flags: Record<string, string>): Promise<{
  agent: DaemonHandle;
  sleeper: ChildProcess;
  executor: ContainerID;
}> {
  const { master, agent } = await startOneAgentCluster({
    registration_backoff_factor: "100ms",
    ...flags,
  });
  const sleeper = spawn(
    process.execPath,
    [
      binPath("mesos-execute"),
      `--master=${master.address}`,
      "--name=executor-calls-sleeper",
      "--command=touch started; sleep 120",
    ],
    { env: cleanEnv(), stdio: "ignore" },
  );
  sleepers.push(sleeper);
  const executor = await waitLong("the sleeper's executor container", async () => {
    const top = (await containers(agent)).filter((c) => c.parent === undefined);
    return top[0];
  });
  await waitLong("the sleeper's task running", () =>
    readdirSync(agent.workDir, { recursive: true, encoding: "utf8" }).some((f) =>
      f.endsWith("/runs/latest/started"),
    ),
  );
  return { agent, sleeper, executor };
}

/** Runs `id -u` in a nested container as `nobody` under `executor`; its output. */
async function nestedUid(agent: DaemonHandle, executor: ContainerID): Promise<string> {
  const id: ContainerID = { value: randomUUID(), parent: executor };
  const launched = await call(agent, {
    type: "LAUNCH_NESTED_CONTAINER",
    launch_nested_container: {
      container_id: id,
      command: { value: "id -u", shell: true, user: "nobody" },
    },
  });
  assert.equal(launched.status, 200, await launched.text());
  const waited = await call(agent, {
    type: "WAIT_NESTED_CONTAINER",
    wait_nested_container: { container_id: id },
  });
  assert.equal(waited.status, 200, await waited.clone().text());
  const body = (await waited.json()) as { wait_nested_container?: { exit_status?: number } };
  assert.equal(body.wait_nested_container?.exit_status, 0);
  const stdout = readdirSync(agent.workDir, { recursive: true, encoding: "utf8" }).find((f) =>
    f.endsWith(`/containers/${id.value}/stdout`),
  );
  assert.ok(stdout !== undefined, "the nested container's stdout file");
  return readFileSync(join(agent.workDir, stdout), "utf8").trim();
}

test("--switch_user=false: a nested container's command.user is not applied; it runs as the agent's user", async () => {
  const { agent, executor } = await sleeperCluster({ switch_user: "false" });
  assert.equal(await nestedUid(agent, executor), String(process.getuid?.()));
});

test("--switch_user (as root): a nested container runs as its command.user", {
  skip: isRoot ? false : "needs root to switch users",
}, async () => {
  const { agent, executor } = await sleeperCluster({});
  const nobody = execFileSync("id", ["-u", "nobody"], { encoding: "utf8" }).trim();
  assert.equal(await nestedUid(agent, executor), nobody);
});

test("WAIT_CONTAINER and KILL_CONTAINER serve an executor's container: the WAIT answers with its wait status once killed", async () => {
  const { agent, sleeper, executor } = await sleeperCluster({});
  const ended = new Promise<number | null>((resolve) => sleeper.once("exit", resolve));
  const waiting = call(agent, {
    type: "WAIT_CONTAINER",
    wait_container: { container_id: executor },
  });
  // The WAIT is pending while the executor runs: a KILL signals it (SIGKILL by default).
  await waitLong("the agent waiting for the executor container", () =>
    agent.logs().includes(`Waiting for executor container '${executor.value}' to end`),
  );
  const killed = await call(agent, {
    type: "KILL_CONTAINER",
    kill_container: { container_id: executor },
  });
  assert.equal(killed.status, 200, await killed.text());
  const waited = await waiting;
  assert.equal(waited.status, 200, await waited.clone().text());
  const body = (await waited.json()) as {
    type?: string;
    wait_container?: { exit_status?: number };
  };
  assert.equal(body.type, "WAIT_CONTAINER");
  // The raw wait status of a process killed by SIGKILL.
  assert.equal(body.wait_container?.exit_status, 9);
  // The agent handled the executor's end: its task failed, so mesos-execute exits non-zero.
  assert.notEqual(await ended, 0);
  await waitLong("the executor container gone from GET_CONTAINERS", async () =>
    (await containers(agent)).every((c) => c.value !== executor.value),
  );
  // An ended executor's container is unknown, as in Mesos.
  const again = await call(agent, {
    type: "KILL_CONTAINER",
    kill_container: { container_id: executor },
  });
  assert.equal(again.status, 404);
  assert.equal(
    await again.text(),
    `Container '${executor.value}' cannot be found (or is already killed)`,
  );
  const waitAgain = await call(agent, {
    type: "WAIT_CONTAINER",
    wait_container: { container_id: executor },
  });
  assert.equal(waitAgain.status, 404);
});

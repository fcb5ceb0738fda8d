/**
 * The Docker containerizer with a real master and agent, against the FAKE
 * docker CLI of test/fixtures/fake-docker (no Docker daemon runs here): the
 * fake records every invocation and runs the container's command on the
 * host, so tasks really run, exit and get killed. Checked: the `docker run`
 * command line, task states for exit 0 / exit 3 / kill, `docker stop -t`,
 * removal after --docker_remove_delay, routing of MESOS vs DOCKER tasks,
 * the failure without `docker` in --containerizers, and an agent restart
 * (the running container is recovered, an orphaned `mesos-` one removed).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { Offer, TaskInfo, TaskStatus } from "../../src/common/protocol/generated/mesos-v1.js";
import type { Event } from "../../src/common/protocol/generated/mesos-v1-scheduler.js";
import {
  type FakeDocker,
  installFakeDocker,
  subcommandOf,
} from "../fixtures/fake-docker/install.js";
import {
  type DaemonHandle,
  freePort,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
  waitForAgents,
} from "../harness/processes.js";
import { type Subscription, subscribe, subscribeCall } from "./master-clients.js";

const open: Subscription[] = [];
let master: DaemonHandle;
let docker: FakeDocker;
let agentId: string;
const fakes: FakeDocker[] = [];

const AGENT_FLAGS = {
  containerizers: "mesos,docker",
  docker_remove_delay: "1secs",
  executor_shutdown_grace_period: "2secs",
  registration_backoff_factor: "10ms",
};

before(async () => {
  docker = installFakeDocker(tempDir("fake-docker-"));
  fakes.push(docker);
  // Default ping timeouts: the restarted agent must not be marked unreachable meanwhile.
  master = await startMaster({ flags: { allocation_interval: "50ms" } });
  await startAgent({ master: master.address, flags: { ...AGENT_FLAGS, docker: docker.path } });
  [agentId] = (await waitForAgents(master, 1)) as [string];
});

after(async () => {
  for (const s of open) s.close();
  // Containers of checkpointing frameworks would outlive their agent; end them first.
  for (const fake of fakes) fake.removeAll();
  await stopAll();
});

async function framework(name: string, extra: Record<string, unknown> = {}): Promise<Subscription> {
  // Earlier frameworks would keep holding their offers.
  for (const old of open.splice(0)) await teardown(old);
  const s = await subscribe(master.url, subscribeCall(name, { role: "*", ...extra }));
  open.push(s);
  s.autoAcknowledge = true;
  await s.nth("SUBSCRIBED");
  return s;
}

/** Ends a framework so its offers go back to the others. */
async function teardown(s: Subscription): Promise<void> {
  if (s.ended) return;
  await s.call({ type: "TEARDOWN" }).catch(() => undefined);
  s.close();
}

const usedOffers = new Set<string>();

/** Launches `task` on an offer from `agent` (cpus 0.5, mem 64 and ports 31000-31010 unless given). */
async function launch(
  s: Subscription,
  task: Omit<TaskInfo, "agent_id" | "resources"> & { resources?: TaskInfo["resources"] },
  agent = agentId,
): Promise<void> {
  const offer = await waitFor<Offer>(`an offer from ${agent}`, () => {
    for (const e of s.events) {
      for (const o of e.offers?.offers ?? []) {
        if (o.agent_id.value === agent && !usedOffers.has(o.id.value)) return o;
      }
    }
    return undefined;
  });
  usedOffers.add(offer.id.value);
  const resources = task.resources ?? [
    { name: "cpus", type: "SCALAR", scalar: { value: 0.5 }, allocation_info: { role: "*" } },
    { name: "mem", type: "SCALAR", scalar: { value: 64 }, allocation_info: { role: "*" } },
    {
      name: "ports",
      type: "RANGES",
      ranges: { range: [{ begin: 31000, end: 31010 }] },
      allocation_info: { role: "*" },
    },
  ];
  const answer = await s.call({
    type: "ACCEPT",
    accept: {
      offer_ids: [offer.id],
      operations: [
        {
          type: "LAUNCH",
          launch: { task_infos: [{ ...task, agent_id: offer.agent_id, resources }] },
        },
      ],
      filters: { refuse_seconds: 0 },
    },
  });
  assert.equal(answer.status, 202, answer.body);
}

function updates(s: Subscription, taskId: string): TaskStatus[] {
  return s.events
    .map((e: Event) => e.update?.status)
    .filter((st): st is TaskStatus => st?.task_id.value === taskId);
}

function state(
  s: Subscription,
  taskId: string,
  wanted: string,
  timeoutMs = 30_000,
): Promise<TaskStatus> {
  return waitFor(
    `${taskId} to reach ${wanted} (has ${updates(s, taskId)
      .map((u) => u.state)
      .join(",")})`,
    () => updates(s, taskId).find((u) => u.state === wanted),
    { timeoutMs },
  );
}

function dockerTask(id: string, command: string, docker: Record<string, unknown> = {}): TaskInfo {
  return {
    name: id,
    task_id: { value: id },
    agent_id: { value: "" },
    command: { value: command, environment: { variables: [{ name: "GREETING", value: "hi" }] } },
    container: { type: "DOCKER", docker: { image: "busybox", ...docker } },
  } as TaskInfo;
}

/** The `docker run` argv (after `run`) whose `--name` mounts the sandbox of a task's executor. */
function runOf(fake: FakeDocker, taskId: string): string[] {
  const runs = fake.callsOf("run").map((c) => subcommandOf(c.argv).args);
  const found = runs.find((a) => a.some((x) => x.includes(`/executors/${taskId}/runs/`)));
  assert.ok(found !== undefined, `a docker run for ${taskId}`);
  return found;
}

function valuesOf(argv: string[], flag: string): string[] {
  return argv.filter((_, i) => argv[i - 1] === flag);
}

test("docker: a DOCKER command task runs through docker run and finishes; the container is removed after --docker_remove_delay", async () => {
  const s = await framework("docker-finish");
  await launch(
    s,
    dockerTask("hello", 'echo "$GREETING from $MESOS_SANDBOX"', {
      network: "BRIDGE",
      port_mappings: [{ host_port: 31005, container_port: 80 }],
    }),
  );
  await state(s, "hello", "TASK_FINISHED");
  const states = updates(s, "hello").map((u) => u.state);
  assert.deepEqual(states.slice(0, 2), ["TASK_STARTING", "TASK_RUNNING"]);

  const run = runOf(docker, "hello");
  const name = valuesOf(run, "--name")[0] as string;
  assert.match(name, /^mesos-[0-9a-f-]{36}$/);
  const containerId = name.slice("mesos-".length);
  const sandbox = valuesOf(run, "-v")
    .find((v) => v.endsWith(":/mnt/mesos/sandbox"))
    ?.split(":")[0];
  assert.ok(
    sandbox?.endsWith(`/executors/hello/runs/${containerId}`),
    `sandbox volume in ${run.join(" ")}`,
  );
  const env = valuesOf(run, "-e");
  assert.ok(env.includes("MESOS_SANDBOX=/mnt/mesos/sandbox"));
  assert.ok(env.includes("GREETING=hi"));
  assert.ok(env.includes(`MESOS_CONTAINER_NAME=${name}`));
  assert.deepEqual(valuesOf(run, "--cpu-shares"), ["512"]);
  assert.deepEqual(valuesOf(run, "--memory"), [String(64 * 1024 * 1024)]);
  assert.deepEqual(valuesOf(run, "--net"), ["bridge"]);
  assert.deepEqual(valuesOf(run, "-p"), ["31005:80"]);
  assert.deepEqual(valuesOf(run, "--entrypoint"), ["/bin/sh"]);
  assert.deepEqual(run.slice(-3), ["busybox", "-c", 'echo "$GREETING from $MESOS_SANDBOX"']);
  // Every call names the daemon socket, as Mesos passes it.
  assert.deepEqual(docker.callsOf("run")[0]?.argv.slice(0, 2), [
    "-H",
    "unix:///var/run/docker.sock",
  ]);
  // The image was looked up before the executor started.
  assert.ok(
    docker.callsOf("inspect").some((c) => subcommandOf(c.argv).args.join(" ") === "busybox"),
  );

  const stdout = readFileSync(join(sandbox as string, "stdout"), "utf8");
  assert.match(stdout, /hi from \/mnt\/mesos\/sandbox/);

  await waitFor("docker rm of the finished container", () =>
    docker.callsOf("rm").some((c) => subcommandOf(c.argv).args.join(" ") === `-f -v ${name}`),
  );
  await waitFor("the container to be gone", () => !docker.containerNames().includes(name));
  await teardown(s);
});

test("docker: a container exiting with status 3 fails its task", async () => {
  const s = await framework("docker-fail");
  await launch(s, dockerTask("three", "exit 3"));
  const failed = await state(s, "three", "TASK_FAILED");
  assert.equal(failed.message, "Container exited with status 3");
  assert.equal(failed.source, "SOURCE_EXECUTOR");
  await teardown(s);
});

test("docker: killing a task runs docker stop -t and ends it TASK_KILLED", async () => {
  const s = await framework("docker-kill");
  await launch(s, dockerTask("sleeper", "sleep 600"));
  await state(s, "sleeper", "TASK_RUNNING");
  const name = valuesOf(runOf(docker, "sleeper"), "--name")[0] as string;
  const kill = await s.call({
    type: "KILL",
    kill: { task_id: { value: "sleeper" }, agent_id: { value: agentId } },
  });
  assert.equal(kill.status, 202);
  const killed = await state(s, "sleeper", "TASK_KILLED");
  assert.match(killed.message ?? "", /^Container exited with status 143$/);
  const stops = docker.callsOf("stop").map((c) => subcommandOf(c.argv).args);
  assert.ok(
    stops.some((a) => a[0] === "-t" && a[1] === "2" && a[2] === name),
    `docker stop -t 2 ${name} in ${JSON.stringify(stops)}`,
  );
  await teardown(s);
});

test("docker: a failing COMMAND health check runs through docker exec and kills the task", async () => {
  const s = await framework("docker-health");
  await launch(s, {
    ...dockerTask("unhealthy", "sleep 600"),
    health_check: {
      type: "COMMAND",
      command: { value: 'test -n "$GREETING" && exit 1' },
      interval_seconds: 0.5,
      consecutive_failures: 2,
      grace_period_seconds: 0,
    },
  } as TaskInfo);
  const killed = await state(s, "unhealthy", "TASK_KILLED");
  assert.equal(killed.healthy, false);
  const health = updates(s, "unhealthy").filter(
    (u) => u.reason === "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED",
  );
  assert.ok(health.length >= 1 && health.every((u) => u.healthy === false));
  const name = valuesOf(runOf(docker, "unhealthy"), "--name")[0] as string;
  const execs = docker.callsOf("exec").map((c) => subcommandOf(c.argv).args);
  assert.ok(
    execs.some((a) => a.join(" ") === `${name} sh -c test -n "$GREETING" && exit 1`),
    JSON.stringify(execs),
  );
  assert.ok(docker.callsOf("stop").some((c) => subcommandOf(c.argv).args.at(-1) === name));
});

test("docker: a custom executor in a DOCKER container is run by the agent with docker run", async () => {
  const s = await framework("docker-custom");
  const script = join(
    dirname(fileURLToPath(import.meta.url)),
    "..",
    "fixtures",
    "fake-docker",
    "hello-executor.js",
  );
  const scalar = (name: string, value: number) => ({
    name,
    type: "SCALAR" as const,
    scalar: { value },
    allocation_info: { role: "*" },
  });
  await launch(s, {
    name: "custom",
    task_id: { value: "custom-task" },
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    executor: {
      executor_id: { value: "in-docker" },
      command: { shell: false, value: process.execPath, arguments: [script] },
      container: { type: "DOCKER", docker: { image: "example/executor:1" } },
      resources: [scalar("cpus", 0.2), scalar("mem", 64)],
    },
  } as unknown as TaskInfo);
  const finished = await state(s, "custom-task", "TASK_FINISHED");
  assert.equal(finished.message, "sandbox /mnt/mesos/sandbox");
  const run = runOf(docker, "in-docker");
  const name = valuesOf(run, "--name")[0] as string;
  assert.match(name, /^mesos-[0-9a-f-]{36}$/);
  const env = valuesOf(run, "-e");
  assert.ok(env.includes("MESOS_EXECUTOR_ID=in-docker"), env.join(" "));
  assert.ok(env.includes("MESOS_SANDBOX=/mnt/mesos/sandbox"));
  assert.deepEqual(valuesOf(run, "--cpu-shares"), [String(Math.floor(0.2 * 1024))]);
  assert.ok(!run.includes("--entrypoint"));
  assert.deepEqual(run.slice(-3), ["example/executor:1", process.execPath, script]);
  // The image was missing: it was pulled first.
  assert.ok(
    docker.callsOf("pull").some((c) => subcommandOf(c.argv).args[0] === "example/executor:1"),
  );
  await waitFor(
    "the executor container to be removed",
    () => !docker.containerNames().includes(name),
  );
});

test("docker: a task without a DOCKER container still runs on the Mesos containerizer", async () => {
  const s = await framework("docker-mesos");
  const before = docker.callsOf("run").length;
  await launch(s, {
    name: "plain",
    task_id: { value: "plain" },
    command: { value: "true" },
    resources: [
      { name: "cpus", type: "SCALAR", scalar: { value: 0.1 }, allocation_info: { role: "*" } },
      { name: "mem", type: "SCALAR", scalar: { value: 32 }, allocation_info: { role: "*" } },
    ],
  });
  await state(s, "plain", "TASK_FINISHED");
  assert.equal(docker.callsOf("run").length, before);
  await teardown(s);
});

test("docker: without docker in --containerizers a DOCKER task fails with a clear message", async () => {
  const agent = await startAgent({
    master: master.address,
    flags: { registration_backoff_factor: "10ms", attributes: "kind:mesos-only" },
  });
  const ids = await waitForAgents(master, 2);
  const other = ids.find((id) => id !== agentId) as string;
  const s = await framework("docker-missing");
  await launch(s, dockerTask("nodocker", "true"), other);
  const failed = await state(s, "nodocker", "TASK_FAILED");
  assert.equal(failed.reason, "REASON_CONTAINER_LAUNCH_FAILED");
  assert.match(
    failed.message ?? "",
    /None of the enabled containerizers \(mesos\) could create a container for the provided TaskInfo\/ExecutorInfo message/,
  );
  await teardown(s);
  await agent.stop();
});

test("docker: the agent refuses to start when docker does not answer or --containerizers is unknown", async () => {
  const run = (flags: string[]) =>
    runBinary(
      "mesos-agent",
      [
        `--master=${master.address}`,
        "--ip=127.0.0.1",
        "--port=0",
        `--work_dir=${tempDir("docker-bad-")}`,
        ...flags,
      ],
      { timeoutMs: 60_000 },
    );
  const missing = await run(["--containerizers=mesos,docker", "--docker=/nonexistent/docker"]);
  assert.equal(missing.code, 1);
  assert.match(
    missing.stdout + missing.stderr,
    /Failed to create the Docker containerizer: Failed to run '\/nonexistent\/docker/,
  );
  const unknown = await run(["--containerizers=mesos,rkt"]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stdout + unknown.stderr, /Unknown or unsupported containerizer: rkt/);
});

test("docker: after an agent restart the running container is recovered and an orphaned mesos- container removed", async () => {
  const fake = installFakeDocker(tempDir("fake-docker-restart-"));
  fakes.push(fake);
  const port = await freePort();
  const workDir = tempDir("docker-agent-restart-");
  const flags = {
    ...AGENT_FLAGS,
    docker: fake.path,
    work_dir: workDir,
    executor_reregistration_timeout: "5secs",
    attributes: "kind:restart",
  };
  let agent = await startAgent({ master: master.address, port, flags });
  const s = await framework("docker-restart", { checkpoint: true });
  const restartAgentId = await waitFor("the restart agent's id", async () => {
    const response = await fetch(`${agent.url}/state`);
    const body = (await response.json()) as { id?: string };
    return body.id !== undefined && body.id !== "" ? body.id : undefined;
  });
  await launch(s, dockerTask("survivor", "sleep 600"), restartAgentId);
  await state(s, "survivor", "TASK_RUNNING");
  const name = valuesOf(runOf(fake, "survivor"), "--name")[0] as string;

  // A mesos- container no agent knows about (e.g. left by a lost executor).
  const orphan = `mesos-${randomUUID()}`;
  const orphanRun = spawn(
    fake.path,
    ["run", "--name", orphan, "--entrypoint", "/bin/sh", "busybox", "-c", "sleep 600"],
    {
      stdio: "ignore",
      detached: true,
    },
  );
  orphanRun.unref();
  await waitFor("the orphan to run", () => fake.containerNames().includes(orphan));

  agent.kill("SIGKILL");
  await agent.exited;
  agent = await startAgent({ master: master.address, port, flags });

  await waitFor(
    "the orphan to be stopped and removed",
    () => !fake.containerNames().includes(orphan),
    {
      timeoutMs: 30_000,
    },
  );
  const orphanCalls = fake.calls().map((c) => subcommandOf(c.argv));
  assert.ok(orphanCalls.some((c) => c.name === "stop" && c.args.at(-1) === orphan));
  assert.ok(orphanCalls.some((c) => c.name === "rm" && c.args.join(" ") === `-f -v ${orphan}`));
  // The recovered task's container is left alone.
  assert.ok(fake.containerNames().includes(name));
  const seen = updates(s, "survivor").map((u) => u.state);
  assert.ok(
    seen.every((x) => x === "TASK_STARTING" || x === "TASK_RUNNING"),
    seen.join(","),
  );

  // Killing the recovered task still goes through docker stop.
  await waitFor("the executor to re-register", async () => {
    const response = await fetch(`${agent.url}/state`).catch(() => undefined);
    const body = (await response?.json()) as
      | { frameworks?: { executors?: { id: string; tasks?: unknown[] }[] }[] }
      | undefined;
    return body?.frameworks?.some((f) =>
      f.executors?.some((e) => e.id === "survivor" && (e.tasks?.length ?? 0) > 0),
    );
  });
  await s.call({
    type: "KILL",
    kill: { task_id: { value: "survivor" }, agent_id: { value: restartAgentId } },
  });
  await state(s, "survivor", "TASK_KILLED");
  assert.ok(fake.callsOf("stop").some((c) => subcommandOf(c.argv).args.at(-1) === name));
  await waitFor(
    "the recovered container to be removed after it ended",
    () => !fake.containerNames().includes(name),
  );
  await teardown(s);
  await agent.stop();
});

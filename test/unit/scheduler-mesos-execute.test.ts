import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { CommandScheduler } from "../../src/cli/execute/command-scheduler.js";
import { executeFlagSchema } from "../../src/cli/execute/flags.js";
import { planExecution } from "../../src/cli/execute/plan.js";
import { statusUpdateLines } from "../../src/cli/execute/print-status.js";
import { loadFlags } from "../../src/common/flags/load.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import { ManualClock, systemClock } from "../../src/common/time/clock.js";
import { FakeMaster } from "../../src/scheduler/testing/fake-master.js";

function plan(...argv: string[]) {
  const loaded = loadFlags(executeFlagSchema, { argv, env: {} });
  assert.ok(loaded.ok, loaded.ok ? "" : loaded.error);
  return planExecution(loaded.flags.values, "alice");
}

function planError(...argv: string[]): string {
  const p = plan(...argv);
  assert.equal(p.ok, false);
  return p.ok ? "" : p.error;
}

const M = "--master=127.0.0.1:5050";

test("mesos-execute plan: --name and --command make a shell task named and id'd after --name", () => {
  const p = plan(M, "--name=hello", "--command=echo hello");
  assert.ok(p.ok);
  const task = p.plan.task;
  assert.equal(task?.name, "hello");
  assert.equal(task?.task_id.value, "hello");
  assert.deepEqual(task?.command, { shell: true, value: "echo hello" });
  assert.deepEqual(task?.resources, [
    { name: "cpus", type: "SCALAR", scalar: { value: 1 } },
    { name: "mem", type: "SCALAR", scalar: { value: 128 } },
  ]);
  assert.equal(p.plan.contentType, "protobuf");
  assert.deepEqual(p.plan.framework, {
    user: "alice",
    name: "mesos-execute instance",
    role: "*",
    checkpoint: false,
    capabilities: [
      { type: "RESERVATION_REFINEMENT" },
      { type: "TASK_KILLING_STATE" },
      { type: "REVOCABLE_RESOURCES" },
      { type: "PARTITION_AWARE" },
    ],
  });
});

test("mesos-execute plan: --env, --resources, --no-shell, --kill_after, --content_type, --principal", () => {
  const p = plan(
    M,
    "--name=t",
    "--command=/bin/echo a b",
    "--no-shell",
    '--env={"A":"1"}',
    "--resources=cpus:0.5;mem:64",
    "--kill_after=2secs",
    "--content_type=json",
    "--principal=me",
    "--secret=pw",
    "--no-partition_aware",
    "--checkpoint",
  );
  assert.ok(p.ok);
  assert.deepEqual(p.plan.task?.command, {
    shell: false,
    value: "/bin/echo",
    arguments: ["/bin/echo", "a", "b"],
    environment: { variables: [{ name: "A", value: "1" }] },
  });
  assert.equal(p.plan.killAfterMs, 2000);
  assert.equal(p.plan.contentType, "json");
  assert.deepEqual(p.plan.credential, { principal: "me", secret: "pw" });
  assert.equal(p.plan.framework.principal, "me");
  assert.equal(p.plan.framework.checkpoint, true);
  assert.equal(
    p.plan.framework.capabilities?.some((c) => c.type === "PARTITION_AWARE"),
    false,
  );
});

test("mesos-execute plan: --task takes a TaskInfo whose agent_id may be left out", () => {
  const p = plan(
    M,
    '--task={"name":"n","task_id":{"value":"id1"},"command":{"value":"true"},' +
      '"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}}]}',
  );
  assert.ok(p.ok);
  assert.equal(p.plan.task?.task_id.value, "id1");
  assert.equal(p.plan.task?.agent_id.value, "");
});

test("mesos-execute plan: --task_group takes a TaskGroupInfo", () => {
  const p = plan(
    M,
    '--task_group={"tasks":[{"name":"a","task_id":{"value":"a"},"command":{"value":"true"}},' +
      '{"name":"b","task_id":{"value":"b"},"command":{"value":"true"}}]}',
  );
  assert.ok(p.ok);
  assert.deepEqual(
    p.plan.taskGroup?.tasks?.map((t) => t.task_id.value),
    ["a", "b"],
  );
  assert.equal(p.plan.task, undefined);
});

test("mesos-execute plan: the flag combinations Mesos refuses are refused with its words", () => {
  assert.equal(planError(M), "Missing required option --name");
  assert.equal(planError(M, "--name=x"), "Missing required option --command");
  assert.match(
    planError(M, '--task={"name":"a","task_id":{"value":"a"}}', '--task_group={"tasks":[]}'),
    /Either task or task group should be set but not both/,
  );
  assert.match(
    planError(M, '--task={"name":"a","task_id":{"value":"a"}}', "--name=x"),
    /can only be set when both '--task' and '--task_group' are not set/,
  );
  assert.equal(
    planError(M, "--name=x", "--command=true", "--content_type=xml"),
    "Invalid content type 'xml'",
  );
  assert.equal(
    planError(M, "--name=x", "--command=true", "--framework_capabilities=BOGUS"),
    "Flags '--framework_capabilities' specifies an unknown capability 'BOGUS'",
  );
  assert.equal(
    planError(M, "--name=x", "--command=true", "--framework_capabilities=MULTI_ROLE"),
    "Flags '--framework_capabilities' specifies an unsupported capability 'MULTI_ROLE'",
  );
  // UNKNOWN is a name of the enum, so Mesos calls it unsupported rather than unknown.
  assert.equal(
    planError(M, "--name=x", "--command=true", "--framework_capabilities=UNKNOWN"),
    "Flags '--framework_capabilities' specifies an unsupported capability 'UNKNOWN'",
  );
  assert.match(
    planError(M, "--name=x", "--command=true", "--resources=cpus:x"),
    /Failed to parse resources 'cpus:x'/,
  );
  assert.match(planError(M, '--task={"name":5}'), /Failed to parse --task/);
});

test("mesos-execute plan: appc image and tty flags are not supported yet", () => {
  for (const flag of ["--appc_image=ubuntu", "--tty"]) {
    assert.match(planError(M, "--name=x", "--command=true", flag), /not supported yet/, flag);
  }
  assert.match(
    planError("--master=zk://h:2181x/mesos", "--name=x", "--command=true"),
    /Invalid ZooKeeper URL/,
  );
});

test("mesos-execute plan: --effective_capabilities and --bounding_capabilities go into LinuxInfo", () => {
  const p = plan(
    M,
    "--name=x",
    "--command=true",
    '--effective_capabilities={"capabilities":["NET_RAW"]}',
    '--bounding_capabilities={"capabilities":[]}',
  );
  assert.ok(p.ok);
  assert.deepEqual(p.plan.task?.container, {
    type: "MESOS",
    linux_info: {
      effective_capabilities: { capabilities: ["NET_RAW"] },
      bounding_capabilities: {},
    },
  });
  assert.match(
    planError(
      M,
      "--name=x",
      "--command=true",
      '--effective_capabilities={"capabilities":["NOPE"]}',
    ),
    /Failed to parse --effective_capabilities: unknown capability 'NOPE'/,
  );
  assert.match(
    planError(
      M,
      "--name=x",
      "--command=true",
      "--containerizer=docker",
      "--docker_image=busybox",
      '--bounding_capabilities={"capabilities":[]}',
    ),
    /only the 'mesos' containerizer supports Linux capabilities/,
  );
  assert.match(
    planError(
      M,
      '--task={"name":"t","task_id":{"value":"t"},"agent_id":{"value":""},"resources":[]}',
      '--effective_capabilities={"capabilities":[]}',
    ),
    /'--effective_capabilities' only applies to --command/,
  );
});

test("mesos-execute plan: a plain command task carries no ContainerInfo", () => {
  const p = plan(M, "--name=x", "--command=true");
  assert.ok(p.ok);
  assert.equal(p.plan.task?.container, undefined);
});

test("mesos-execute plan: --docker_image runs in a MESOS container with a DOCKER image", () => {
  const p = plan(M, "--name=x", "--command=true", "--docker_image=library/busybox:1.36");
  assert.ok(p.ok);
  assert.deepEqual(p.plan.task?.container, {
    type: "MESOS",
    mesos: { image: { type: "DOCKER", docker: { name: "library/busybox:1.36" } } },
  });
});

test("mesos-execute plan: --volumes and --rlimits land in the task's ContainerInfo", () => {
  const p = plan(
    M,
    "--name=x",
    "--command=true",
    '--volumes=[{"container_path":"/data","host_path":"/tmp","mode":"RO"}]',
    '--rlimits={"rlimits":[{"type":"RLMT_NOFILE","soft":64,"hard":128}]}',
  );
  assert.ok(p.ok);
  assert.deepEqual(p.plan.task?.container, {
    type: "MESOS",
    volumes: [{ container_path: "/data", host_path: "/tmp", mode: "RO" }],
    rlimit_info: { rlimits: [{ type: "RLMT_NOFILE", soft: 64, hard: 128 }] },
  });
});

test("mesos-execute plan: --volumes may be read from a file:// path", () => {
  const dir = mkdtempSync(join(tmpdir(), "mesos-execute-"));
  try {
    const file = join(dir, "volumes.json");
    writeFileSync(file, '[{"container_path":"/v","mode":"RW","host_path":"/var"}]');
    const p = plan(M, "--name=x", "--command=true", `--volumes=file://${file}`);
    assert.ok(p.ok);
    assert.deepEqual(p.plan.task?.container?.volumes, [
      { container_path: "/v", host_path: "/var", mode: "RW" },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("mesos-execute plan: malformed --volumes/--rlimits and unknown containerizers are refused", () => {
  assert.match(
    planError(M, "--name=x", "--command=true", '--volumes={"container_path":"/x"}'),
    /Failed to convert '--volumes' to protobuf: expected a JSON array/,
  );
  assert.match(
    planError(M, "--name=x", "--command=true", '--volumes=[{"mode":"SIDEWAYS"}]'),
    /Failed to convert '--volumes' to protobuf: volume 0/,
  );
  assert.match(
    planError(M, "--name=x", "--command=true", '--rlimits={"rlimits":[{"type":"RLMT_BOGUS"}]}'),
    /Failed to parse --rlimits/,
  );
  assert.match(
    planError(M, "--name=x", "--command=true", "--containerizer=docker"),
    /'Docker' containerizer requires docker image name/,
  );
  assert.match(
    planError(M, "--name=x", "--command=true", "--containerizer=rkt"),
    /Unsupported containerizer: rkt/,
  );
});

test("mesos-execute plan: --containerizer=docker builds a DOCKER ContainerInfo with the image and volumes", () => {
  const p = plan(
    M,
    "--name=x",
    "--command=true",
    "--containerizer=docker",
    "--docker_image=busybox:latest",
    '--volumes=[{"container_path":"/data","host_path":"/var/data","mode":"RO"}]',
  );
  assert.ok(p.ok);
  assert.deepEqual(p.plan.task?.container, {
    type: "DOCKER",
    volumes: [{ container_path: "/data", host_path: "/var/data", mode: "RO" }],
    docker: { image: "busybox:latest" },
  });
});

test("mesos-execute plan: --networks with --containerizer=docker joins one Docker user network", () => {
  const p = plan(
    M,
    "--name=x",
    "--command=true",
    "--containerizer=docker",
    "--docker_image=busybox",
    "--networks=net1",
  );
  assert.ok(p.ok, p.ok ? "" : p.error);
  assert.deepEqual(p.plan.task?.container, {
    type: "DOCKER",
    docker: { image: "busybox", network: "USER" },
    network_infos: [{ name: "net1" }],
  });
  const docker = [M, "--name=x", "--command=true", "--containerizer=docker", "--docker_image=b"];
  assert.equal(
    planError(...docker, "--networks=net1,net2"),
    "'Docker' containerizer can only support a single network",
  );
  assert.equal(
    planError(...docker, "--tty"),
    "'Docker' containerizer does not allow attaching a TTY",
  );
  // CNI networks: the task's container with the mesos containerizer, the
  // default executor's container with a task group (as Mesos' mesos-execute).
  const cni = plan(M, "--name=x", "--command=true", "--networks=net1,net2");
  assert.ok(cni.ok);
  assert.deepEqual(cni.plan.task?.container, {
    type: "MESOS",
    network_infos: [{ name: "net1" }, { name: "net2" }],
  });
  const group = plan(
    M,
    '--task_group={"tasks":[{"name":"a","task_id":{"value":"a"},"command":{"value":"true"}}]}',
    "--networks=net1",
  );
  assert.ok(group.ok);
  assert.deepEqual(group.plan.executorContainer, {
    type: "MESOS",
    network_infos: [{ name: "net1" }],
  });
  // An empty list is no network at all, as in Mesos.
  const none = plan(M, "--name=x", "--command=true", "--networks=");
  assert.ok(none.ok);
  assert.equal(none.plan.task?.container, undefined);
});

test("mesos-execute plan: --rlimits, --tty and --containerizer=docker are refused with --task/--task_group, not dropped", () => {
  const task = '--task={"name":"a","task_id":{"value":"a"},"command":{"value":"true"}}';
  const group =
    '--task_group={"tasks":[{"name":"a","task_id":{"value":"a"},"command":{"value":"true"}}]}';
  for (const json of [task, group]) {
    for (const [flagArg, shown] of [
      ['--rlimits={"rlimits":[]}', "--rlimits"],
      ["--tty", "--tty"],
      ["--containerizer=docker", "--containerizer=docker"],
    ] as const) {
      assert.equal(
        planError(M, json, flagArg),
        `'${shown}' only applies to --command; with '--task' or '--task_group' put it in the TaskInfo's 'container'`,
      );
    }
  }
  // The default containerizer is no reason to refuse.
  assert.ok(plan(M, task, "--containerizer=mesos").ok);
});

test("mesos-execute output: status updates print as Mesos' mesos-execute prints them", () => {
  assert.deepEqual(
    statusUpdateLines({
      task_id: { value: "t" },
      state: "TASK_FAILED",
      message: "Command exited with status 3",
      source: "SOURCE_EXECUTOR",
      reason: "REASON_COMMAND_EXECUTOR_FAILED",
      healthy: false,
      check_status: { type: "COMMAND", command: { exit_code: 1 } },
      limitation: { resources: [{ name: "mem", type: "SCALAR", scalar: { value: 64 } }] },
    }),
    [
      "Received status update TASK_FAILED for task 't'",
      "  message: 'Command exited with status 3'",
      "  source: SOURCE_EXECUTOR",
      "  reason: REASON_COMMAND_EXECUTOR_FAILED",
      "  healthy?: 0",
      "  check status: COMMAND exit code 1",
      "  resource limit violation: mem:64",
    ],
  );
  assert.deepEqual(statusUpdateLines({ task_id: { value: "t" }, state: "TASK_RUNNING" }), [
    "Received status update TASK_RUNNING for task 't'",
  ]);
});

// ---- the framework inside mesos-execute, against a fake master ----------

const fakes: FakeMaster[] = [];
after(async () => {
  await Promise.all(fakes.map((f) => f.close()));
});

async function runAgainstFake(argv: string[], clock = systemClock) {
  const master = new FakeMaster();
  await master.listen();
  fakes.push(master);
  const p = plan(`--master=${master.address}`, "--content_type=json", ...argv);
  assert.ok(p.ok);
  const out: string[] = [];
  const err: string[] = [];
  const scheduler = new CommandScheduler(
    p.plan,
    { out: (l) => out.push(l), err: (l) => err.push(l) },
    clock,
    silentLogger,
  );
  scheduler.start();
  await master.until("SUBSCRIBE", () => master.callsOfType("SUBSCRIBE").length === 1);
  await master.until("SUBSCRIBED printed", () => out.length > 0);
  return { master, scheduler, out, err };
}

const OFFER = (id: string, cpus: number) => ({
  id: { value: id },
  framework_id: { value: "fw-1" },
  agent_id: { value: "agent-1" },
  hostname: "localhost",
  resources: [
    {
      name: "cpus",
      type: "SCALAR" as const,
      scalar: { value: cpus },
      allocation_info: { role: "*" },
    },
    {
      name: "mem",
      type: "SCALAR" as const,
      scalar: { value: 1024 },
      allocation_info: { role: "*" },
    },
  ],
});

function update(
  state: "TASK_RUNNING" | "TASK_FINISHED" | "TASK_FAILED" | "TASK_KILLED",
  n: number,
) {
  return {
    type: "UPDATE" as const,
    update: {
      status: {
        task_id: { value: "hello" },
        state,
        agent_id: { value: "agent-1" },
        source: "SOURCE_EXECUTOR" as const,
        uuid: Buffer.alloc(16, n),
      },
    },
  };
}

test("mesos-execute framework: launches on the first offer that fits, declines the rest, exits 0 on TASK_FINISHED", async () => {
  const { master, scheduler, out } = await runAgainstFake(["--name=hello", "--command=echo hello"]);
  master.push({
    type: "OFFERS",
    offers: { offers: [OFFER("small", 0.5), OFFER("big", 4), OFFER("late", 4)] },
  });
  await master.until("ACCEPT", () => master.callsOfType("ACCEPT").length === 1);
  const accept = master.callsOfType("ACCEPT")[0]?.call.accept;
  assert.deepEqual(accept?.offer_ids, [{ value: "big" }]);
  const task = accept?.operations?.[0]?.launch?.task_infos?.[0];
  assert.equal(task?.agent_id.value, "agent-1");
  assert.deepEqual(task?.resources, [
    { name: "cpus", type: "SCALAR", scalar: { value: 1 }, allocation_info: { role: "*" } },
    { name: "mem", type: "SCALAR", scalar: { value: 128 }, allocation_info: { role: "*" } },
  ]);
  await master.until("2 DECLINEs", () => master.callsOfType("DECLINE").length === 2);
  master.push(update("TASK_RUNNING", 1));
  master.push(update("TASK_FINISHED", 2));
  assert.equal(await scheduler.exitCode, 0);
  assert.equal(master.callsOfType("ACKNOWLEDGE").length, 2);
  const types = master.calls.map((c) => c.call.type);
  assert.ok(
    types.lastIndexOf("ACKNOWLEDGE") < types.indexOf("TEARDOWN"),
    "acks go before TEARDOWN",
  );
  assert.deepEqual(out, [
    "Subscribed with ID fw-1",
    "Submitted task 'hello' to agent 'agent-1'",
    "Received status update TASK_RUNNING for task 'hello'",
    "  source: SOURCE_EXECUTOR",
    "Received status update TASK_FINISHED for task 'hello'",
    "  source: SOURCE_EXECUTOR",
  ]);
});

test("mesos-execute framework: an offer too small is declined without SUPPRESS; offers stop only once launched", async () => {
  const { master, scheduler } = await runAgainstFake(["--name=hello", "--command=true"]);
  master.push({ type: "OFFERS", offers: { offers: [OFFER("small", 0.5)] } });
  await master.until("DECLINE", () => master.callsOfType("DECLINE").length === 1);
  // A later, bigger offer (e.g. an agent that registered since) still comes and fits.
  master.push({ type: "OFFERS", offers: { offers: [OFFER("big", 4)] } });
  await master.until("ACCEPT", () => master.callsOfType("ACCEPT").length === 1);
  assert.equal(master.callsOfType("SUPPRESS").length, 0);
  master.push({ type: "OFFERS", offers: { offers: [OFFER("after", 4)] } });
  await master.until("SUPPRESS", () => master.callsOfType("SUPPRESS").length === 1);
  assert.equal(master.callsOfType("DECLINE").length, 2);
  master.push(update("TASK_FINISHED", 1));
  assert.equal(await scheduler.exitCode, 0);
});

test("mesos-execute framework: a failed task makes a non-zero exit code", async () => {
  const { master, scheduler } = await runAgainstFake(["--name=hello", "--command=exit 3"]);
  master.push({ type: "OFFERS", offers: { offers: [OFFER("o", 2)] } });
  await master.until("ACCEPT", () => master.callsOfType("ACCEPT").length === 1);
  master.push(update("TASK_FAILED", 1));
  assert.equal(await scheduler.exitCode, 1);
  assert.equal(master.callsOfType("TEARDOWN").length, 1);
});

test("mesos-execute framework: offers arriving once the task ended are not declined (no call races TEARDOWN)", async () => {
  const { master, scheduler } = await runAgainstFake(["--name=hello", "--command=true"]);
  master.push({ type: "OFFERS", offers: { offers: [OFFER("o", 2)] } });
  await master.until("ACCEPT", () => master.callsOfType("ACCEPT").length === 1);
  master.push(update("TASK_FINISHED", 1));
  master.push({ type: "OFFERS", offers: { offers: [OFFER("late", 2)] } });
  assert.equal(await scheduler.exitCode, 0);
  assert.equal(master.callsOfType("TEARDOWN").length, 1);
  assert.equal(master.callsOfType("DECLINE").length, 0);
  assert.equal(master.callsOfType("SUPPRESS").length, 0);
});

test("mesos-execute framework: --kill_after kills the running task after the delay", async () => {
  const clock = new ManualClock();
  const { master, scheduler, out } = await runAgainstFake(
    ["--name=hello", "--command=sleep 100", "--kill_after=10secs"],
    clock,
  );
  master.push({ type: "OFFERS", offers: { offers: [OFFER("o", 2)] } });
  await master.until("ACCEPT", () => master.callsOfType("ACCEPT").length === 1);
  master.push(update("TASK_RUNNING", 1));
  await master.until("ACK", () => master.callsOfType("ACKNOWLEDGE").length === 1);
  clock.advance(9_999);
  assert.equal(master.callsOfType("KILL").length, 0);
  clock.advance(1);
  await master.until("KILL", () => master.callsOfType("KILL").length === 1);
  assert.equal(master.callsOfType("KILL")[0]?.call.kill?.task_id.value, "hello");
  assert.ok(out.includes("Asked to kill task 'hello' on agent 'agent-1'"));
  master.push(update("TASK_KILLED", 2));
  assert.equal(await scheduler.exitCode, 1);
});

test("mesos-execute framework: an ERROR event ends it with exit code 1", async () => {
  const { master, scheduler, err } = await runAgainstFake(["--name=hello", "--command=true"]);
  master.push({ type: "ERROR", error: { message: "Framework has been removed" } });
  assert.equal(await scheduler.exitCode, 1);
  assert.deepEqual(err, ["Received an ERROR event: Framework has been removed"]);
});

test("mesos-execute framework: a task group launches under the default executor", async () => {
  const { master, scheduler, err } = await runAgainstFake([
    '--task_group={"tasks":[{"name":"a","task_id":{"value":"a"},"command":{"value":"true"},' +
      '"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.5}}]}]}',
  ]);
  // The default executor needs disk too: an offer without disk is declined.
  master.push({ type: "OFFERS", offers: { offers: [OFFER("no-disk", 2)] } });
  await master.until("DECLINE", () => master.callsOfType("DECLINE").length === 1);
  const withDisk = OFFER("o", 2);
  withDisk.resources.push({
    name: "disk",
    type: "SCALAR" as const,
    scalar: { value: 100 },
    allocation_info: { role: "*" },
  });
  master.push({ type: "OFFERS", offers: { offers: [withDisk] } });
  await master.until("ACCEPT", () => master.callsOfType("ACCEPT").length === 1);
  const op = master.callsOfType("ACCEPT")[0]?.call.accept?.operations?.[0];
  assert.equal(op?.type, "LAUNCH_GROUP");
  assert.equal(op?.launch_group?.executor.type, "DEFAULT");
  assert.equal(op?.launch_group?.executor.executor_id.value, "default-executor");
  assert.equal(op?.launch_group?.executor.framework_id?.value, "fw-1");
  assert.equal(op?.launch_group?.task_group.tasks?.[0]?.agent_id.value, "agent-1");
  scheduler.interrupt();
  assert.equal(await scheduler.exitCode, 130);
  assert.deepEqual(err, ["Interrupted: tearing the framework down"]);
  assert.equal(master.callsOfType("TEARDOWN").length, 1);
});

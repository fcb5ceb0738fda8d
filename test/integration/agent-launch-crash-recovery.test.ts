/**
 * An agent killed between starting a container's process and noting its
 * pid: the restarted agent must still find and kill what that process
 * started, although nothing on disk names it.
 * - standalone, nested and DEBUG containers without a cgroup (the posix
 *   launcher) are found by the container id they carry in their
 *   environment (`MESOS_TS_CONTAINER_ID`, with the launch's token), also
 *   when they run in an image (their working directory then reads as
 *   /mnt/mesos/sandbox) or left their session and sandbox;
 * - an executor whose pid was never noted is killed with what it started,
 *   found by its `MESOS_DIRECTORY`.
 * The agent is killed at that moment by `MESOS_TS_TESTING_CRASH_AFTER_SPAWN`
 * (nested-containers.ts), or for executors by removing the pid files the
 * agent writes after the spawn. The image cases need root and a static
 * busybox; they skip otherwise.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { metaFiles } from "../harness/checkpoints.js";
import { expectCall, operatorCall, waitEnded } from "../harness/operator.js";
import { alive, carrying, killEach } from "../harness/proc-scan.js";
import {
  binPath,
  type DaemonHandle,
  freePort,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitLong,
} from "../harness/processes.js";
import { WorkDirs } from "../harness/work-dirs.js";
import { buildLegacyImage, busyboxFiles, imageContainer, imageSkip } from "./images-helpers.js";

let master: DaemonHandle;
/** Processes the tests started or found: killed at the end whatever happened. */
const strays = new Set<number>();
const children: ChildProcess[] = [];

const workDirs = new WorkDirs();

before(async () => {
  master = await startMaster();
});

after(async () => {
  workDirs.killLeft();
  killEach(strays);
  for (const c of children) c.kill("SIGKILL");
  await stopAll();
});

const RESOURCES = [
  { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
  { name: "mem", type: "SCALAR", scalar: { value: 32 } },
];

type Id = { value: string; parent?: Id };

function launch(id: Id, command: string, container?: unknown): Record<string, unknown> {
  return {
    type: "LAUNCH_CONTAINER",
    launch_container: {
      container_id: id,
      command: { value: command },
      ...(id.parent === undefined ? { resources: RESOURCES } : {}),
      ...(container === undefined ? {} : { container }),
    },
  };
}

/** Sends a launch the agent dies during; resolves once the agent is gone. */
async function launchIntoCrash(agent: DaemonHandle, body: Record<string, unknown>): Promise<void> {
  await operatorCall(agent, body).catch(() => undefined);
  assert.equal(await agent.exited, null, "the agent was killed by the test hook");
}

/**
 * The pid a container's command wrote to `file`, once it did; the process
 * must be running. `agent`'s log explains a timeout.
 */
async function pidIn(file: string, agent?: DaemonHandle): Promise<number> {
  const pid = await waitLong(`a pid in ${file}`, () => {
    const text = existsSync(file) ? readFileSync(file, "utf8").trim() : "";
    return /^\d+$/.test(text) ? Number(text) : undefined;
  }).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}\n${agent?.logs().slice(-3000) ?? ""}`);
  });
  strays.add(pid);
  assert.ok(alive(pid), `process ${pid} of ${file} runs while the agent is down`);
  return pid;
}

/** Waits for `line` in `on`'s log (its output arrives after what it did). */
async function loggedLine(on: DaemonHandle, line: RegExp): Promise<void> {
  await waitLong(`${line} in the agent's log`, () => line.test(on.logs())).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}\n${on.logs().slice(-3000)}`);
  });
}

/** Leaves its session and sandbox (double fork: its parent is not the container's tree). */
const ESCAPE =
  '(cd / && setsid sh -c \'echo $$ > "$0/escaped.pid"; exec sleep 300\' "$MESOS_SANDBOX" &); exec sleep 300';

test("a standalone container whose process left its session and sandbox is killed when the agent died before noting its pid", async () => {
  const port = await freePort();
  const workDir = workDirs.make("agent-launch-crash-");
  const flags = { work_dir: workDir, registration_backoff_factor: "10ms" };
  const crashing = await startAgent({
    master: master.address,
    port,
    flags,
    env: { MESOS_TS_TESTING_CRASH_AFTER_SPAWN: "standalone" },
  });
  await launchIntoCrash(crashing, launch({ value: "runaway" }, ESCAPE));
  const escaped = await pidIn(join(workDir, "containers", "runaway", "escaped.pid"));
  const record = JSON.parse(
    readFileSync(join(workDir, "meta", "standalone-containers", "runaway.json"), "utf8"),
  ) as { launching?: boolean; pid?: number };
  assert.equal(record.launching, true, "the agent died before noting the pid");

  const agent = await startAgent({ master: master.address, port, flags });
  assert.equal((await waitEnded(agent, { value: "runaway" })).exit_status, undefined);
  await waitLong("the escaped process to be killed", () => !alive(escaped));
  // The line may reach us after the process is seen gone.
  await loggedLine(agent, /Killed \d+ process\(es\) of container 'runaway' found by its id/);
  await agent.stop();
});

test("an executor whose pid was never noted is killed with what it started when the agent restarts", async () => {
  const port = await freePort();
  const workDir = workDirs.make("agent-launch-crash-executor-");
  const flags = {
    work_dir: workDir,
    registration_backoff_factor: "10ms",
    executor_reregistration_timeout: "5secs",
  };
  const first = await startAgent({ master: master.address, port, flags });
  const scheduler = spawn(
    process.execPath,
    [
      binPath("mesos-execute"),
      `--master=${master.address}`,
      "--name=escaper",
      `--command=${ESCAPE}`,
      "--resources=cpus:0.1;mem:32",
      "--checkpoint",
    ],
    { stdio: "ignore" },
  );
  children.push(scheduler);
  const pidFile = await waitLong("the executor's pid file", () => {
    const [file] = metaFiles(workDir, "pids/forked.pid");
    return file;
  });
  const executor = Number(readFileSync(pidFile, "utf8"));
  strays.add(executor);
  const sandbox = await waitLong("the task's sandbox", () => {
    const [runs] = metaFiles(workDir, "pids/forked.pid").map((f) => dirname(dirname(f)));
    const relative = runs?.slice(join(workDir, "meta").length);
    return relative === undefined ? undefined : join(workDir, relative);
  });
  const escaped = await pidIn(join(sandbox, "escaped.pid"));
  first.kill("SIGKILL");
  await first.exited;
  // What an agent killed right after the spawn leaves: no pid files.
  for (const name of ["forked.pid", "forked.identity"]) {
    rmSync(join(dirname(pidFile), name), { force: true });
  }
  assert.ok(alive(executor), "the executor runs while the agent is down");

  const agent = await startAgent({ master: master.address, port, flags });
  await waitLong("the executor and its escaped task to be killed", () => {
    return !alive(executor) && !alive(escaped);
  });
  await loggedLine(agent, /Killed \d+ process\(es\) of container '[^']+' that is not recovered/);
  scheduler.kill("SIGKILL");
  await agent.stop();
});

test("nested, standalone and DEBUG containers in an image are killed when the agent died before noting their pid", {
  skip: imageSkip,
}, async () => {
  const registry = tempDir("agent-launch-crash-registry-");
  buildLegacyImage(registry, "spinner.tar", {
    repository: "spinner",
    layers: [{ id: "spinner-base", files: busyboxFiles() }],
    config: { Env: ["PATH=/bin"] },
  });
  const port = await freePort();
  const workDir = workDirs.make("agent-launch-crash-image-");
  const flags = {
    work_dir: workDir,
    registration_backoff_factor: "10ms",
    isolation: "filesystem/linux,docker/runtime",
    image_providers: "docker",
    docker_registry: registry,
    docker_store_dir: tempDir("agent-launch-crash-store-"),
  };
  const start = (crash?: string) =>
    startAgent({
      master: master.address,
      port,
      flags,
      ...(crash === undefined ? {} : { env: { MESOS_TS_TESTING_CRASH_AFTER_SPAWN: crash } }),
    });
  const image = imageContainer("spinner");
  const writePid = (name: string) => `echo $$ > /mnt/mesos/sandbox/${name}; exec sleep 300`;
  const holder = { value: "holder" };
  const holderSandbox = join(workDir, "containers", "holder");

  // A nested container in an image.
  let agent = await start("nested");
  await expectCall(
    agent,
    launch(holder, 'echo $$ > "$MESOS_SANDBOX/holder.pid"; exec sleep 300'),
    200,
  );
  const holderPid = await pidIn(join(holderSandbox, "holder.pid"));
  const child = { value: "child", parent: holder };
  await launchIntoCrash(agent, launch(child, writePid("pid"), image));
  const childPid = await pidIn(join(holderSandbox, "containers", "child", "pid"));

  // A standalone container in an image.
  agent = await start("standalone");
  assert.equal((await waitEnded(agent, child)).exit_status, undefined);
  await waitLong("the nested container's process to be killed", () => !alive(childPid));
  await launchIntoCrash(agent, launch({ value: "solo" }, writePid("pid"), image));
  const soloPid = await pidIn(join(workDir, "containers", "solo", "pid"));

  // A DEBUG container in a nested container in an image.
  // Killed once the session's shell waits in its stdin's open: killed earlier, the agent
  // takes its handle on the pipe along, the open fails and no process is left.
  agent = await start("debug-waiting");
  assert.equal((await waitEnded(agent, { value: "solo" })).exit_status, undefined);
  await waitLong("the standalone container's process to be killed", () => !alive(soloPid));
  const kid = { value: "kid", parent: holder };
  await expectCall(agent, launch(kid, writePid("kid.pid"), image), 200);
  const kidSandbox = join(holderSandbox, "containers", "kid");
  const kidPid = await pidIn(join(kidSandbox, "kid.pid"));
  await launchIntoCrash(agent, {
    type: "LAUNCH_NESTED_CONTAINER_SESSION",
    launch_nested_container_session: {
      container_id: { value: "dbg", parent: kid },
      command: { value: writePid("debug.pid") },
    },
  });
  // Its stdin is a FIFO the dead agent never opened: it waits in open(2)
  // before its command runs, so it is found by what it carries.
  const debugPids = await waitLong("the DEBUG container's processes", () => {
    const found = carrying("MESOS_TS_CONTAINER_ID=holder.kid.dbg");
    return found.length > 0 ? found : undefined;
  });
  for (const pid of debugPids) strays.add(pid);
  assert.ok(
    existsSync(join(workDir, "meta", "nested-containers", "holder", "kid.dbg.debug")),
    "the DEBUG container was noted before its process started",
  );

  agent = await start();
  await waitLong("the DEBUG container's processes to be killed", () => !debugPids.some(alive));
  assert.ok(alive(kidPid), "the running nested container is recovered, not killed");
  assert.ok(alive(holderPid), "the running standalone container is recovered, not killed");
  await expectCall(
    agent,
    { type: "KILL_CONTAINER", kill_container: { container_id: holder } },
    200,
  );
  await waitEnded(agent, holder);
  await waitLong("the holder's nested container to be killed with it", () => !alive(kidPid));
});

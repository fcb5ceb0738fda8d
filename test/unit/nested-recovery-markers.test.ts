/**
 * What a restarted agent without cgroups kills of a container whose launch
 * its predecessor cut short (its pid never noted), and what that costs:
 * - the processes carrying the launch's marker (id and token), not those
 *   of another agent's container of the same id (another --work_dir on the
 *   host), nor a process that merely sits in the container's sandbox;
 * - DEBUG containers of the previous run are destroyed together (one pass
 *   over the host's processes, not one each);
 * - a container's kill reads the environments of processes no older than
 *   the container only.
 * The launcher is faked: it starts `sleep` with the environment, working
 * directory and own session the real one gives a container's process.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import type { LauncherClient } from "../../src/agent/containerizer/launcher.js";
import type { NestedContainers } from "../../src/agent/containerizer/nested-containers.js";
import { type ContainerMarker, readProcEntry } from "../../src/agent/containerizer/proc.js";
import { ProcessSweeper } from "../../src/agent/containerizer/process-sweeper.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import { nestedContainersFixture } from "../harness/nested-containers-fixture.js";

const root = mkdtempSync(join(tmpdir(), "mesos-nested-markers-"));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  rmSync(root, { recursive: true, force: true });
});

/** Resolves with the signal that ended `c`. */
function ended(c: ChildProcess): Promise<NodeJS.Signals | null> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve(c.signalCode);
  return new Promise((resolve) => c.once("exit", (_code, signal) => resolve(signal)));
}

/** A `sleep` in a session of its own, as the launcher starts a container's process. */
function sleeper(cwd: string, env: Record<string, string>): ChildProcess {
  const c = spawn("sleep", ["1000"], { cwd, env, detached: true, stdio: "ignore" });
  children.push(c);
  return c;
}

/**
 * A launcher that starts a `sleep` per spawn; with `crash`, the spawn never
 * answers (the agent died before it could note the pid).
 */
function launcher(started: ChildProcess[], crash = false): LauncherClient {
  return {
    async spawn(req: { cwd?: string; env?: Record<string, string> }) {
      const c = sleeper(req.cwd ?? root, { PATH: process.env.PATH ?? "/bin", ...req.env });
      started.push(c);
      if (crash) return new Promise(() => {});
      const entry = await readProcEntry(c.pid ?? -1);
      return { id: 0, pid: c.pid ?? -1, startTime: entry?.startTime };
    },
    user: () => Promise.reject(new Error("no users in this test")),
  } as unknown as LauncherClient;
}

function agent(
  workDir: string,
  launch: LauncherClient,
  sweeper: ProcessSweeper = new ProcessSweeper(silentLogger),
): NestedContainers {
  return nestedContainersFixture(launch, join(workDir, "exec-sandbox"), { sweeper, workDir });
}

async function until<T>(what: string, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * An agent on `workDir` that dies while launching the standalone container
 * `id`: its process runs, its record says "launching".
 */
async function crashedLaunch(workDir: string, id: string): Promise<ChildProcess> {
  const started: ChildProcess[] = [];
  const dying = agent(workDir, launcher(started, true));
  void dying.launchStandalone({ containerId: id, command: { value: "sleep 1000" } });
  const child = await until("the launch's process", () => started[0]);
  const record = JSON.parse(
    readFileSync(join(workDir, "meta", "standalone-containers", `${id}.json`), "utf8"),
  ) as { launching?: boolean };
  assert.equal(record.launching, true);
  dying.stop();
  return child;
}

test("a launch cut short is killed by its marker: another agent's container of the same id stays", async () => {
  const otherWork = join(root, "other-agent");
  const started: ChildProcess[] = [];
  const other = agent(otherWork, launcher(started));
  const launched = await other.launchStandalone({
    containerId: "svc",
    command: { value: "sleep 1000" },
  });
  assert.ok("ok" in launched, JSON.stringify(launched));
  const namesake = started[0] as ChildProcess;

  const workDir = join(root, "agent");
  const cutShort = await crashedLaunch(workDir, "svc");
  const restarted = agent(workDir, launcher([]));
  await restarted.recover();
  assert.equal(await ended(cutShort), "SIGKILL", "the launch's process is killed");
  assert.deepEqual(await restarted.wait(undefined, "svc"), {}, "it ends without a status");
  // Still running after that pass: ended by this SIGTERM, not by the sweep.
  namesake.kill("SIGTERM");
  assert.equal(await ended(namesake), "SIGTERM", "the other agent's 'svc' was left alone");
  restarted.stop();
  other.stop();
});

test("a launch cut short is killed by its marker: a shell left in its sandbox stays", async () => {
  const workDir = join(root, "agent-shell");
  const cutShort = await crashedLaunch(workDir, "web");
  // Someone's shell working in the sandbox: it leads its session, carries no marker.
  const shell = sleeper(join(workDir, "containers", "web"), { PATH: process.env.PATH ?? "/bin" });
  await until("the shell", () => (shell.pid === undefined ? undefined : shell.pid));
  const restarted = agent(workDir, launcher([]));
  await restarted.recover();
  assert.equal(await ended(cutShort), "SIGKILL", "the launch's process is killed");
  shell.kill("SIGTERM");
  assert.equal(await ended(shell), "SIGTERM", "the shell was left alone");
  restarted.stop();
});

/** A sweeper that answers once `expected` kills are pending (or after 5 s), noting the most at once. */
class GatheringSweeper {
  readonly calls: { directory: string; startTime?: number; container?: ContainerMarker }[] = [];
  most = 0;
  private pending: { answer: () => void; timer: NodeJS.Timeout }[] = [];
  constructor(private readonly expected: number) {}
  kill(
    _root: number | undefined,
    directory: string,
    startTime?: number,
    container?: ContainerMarker,
  ): Promise<number> {
    this.calls.push({
      directory,
      ...(startTime === undefined ? {} : { startTime }),
      ...(container === undefined ? {} : { container }),
    });
    return new Promise((resolve) => {
      const entry = {
        answer: () => resolve(0),
        timer: setTimeout(() => {
          this.pending = this.pending.filter((e) => e !== entry);
          resolve(0);
        }, 5_000),
      };
      this.pending.push(entry);
      this.most = Math.max(this.most, this.pending.length);
      if (this.pending.length < this.expected) return;
      for (const e of this.pending.splice(0)) {
        clearTimeout(e.timer);
        e.answer();
      }
    });
  }
}

test("the DEBUG containers of the previous run are destroyed together, in one sweep", async () => {
  const workDir = join(root, "agent-debug");
  const dir = join(workDir, "meta", "nested-containers", "exec");
  mkdirSync(dir, { recursive: true });
  for (const name of ["d1", "d2", "d3"]) {
    // As noted before their processes started.
    const marker = { directory: join(workDir, "exec-sandbox", "containers", "task", name) };
    writeFileSync(join(dir, `task.${name}.debug`), JSON.stringify({ ...marker, token: name }));
  }
  const sweeper = new GatheringSweeper(3);
  const restarted = agent(workDir, launcher([]), sweeper as unknown as ProcessSweeper);
  await restarted.recover();
  assert.equal(sweeper.most, 3, "the three kills were asked for at once");
  assert.deepEqual(
    sweeper.calls.map((c) => `${c.container?.id} ${c.container?.token}`).sort(),
    ["exec.task.d1 d1", "exec.task.d2 d2", "exec.task.d3 d3"],
    "each found by its id and token",
  );
  restarted.stop();
});

test("a container's kill looks only at processes no older than the container", async () => {
  const workDir = join(root, "agent-cost");
  mkdirSync(join(workDir, "exec-sandbox"), { recursive: true });
  const started: ChildProcess[] = [];
  const sweeper = new GatheringSweeper(1);
  const nested = agent(workDir, launcher(started), sweeper as unknown as ProcessSweeper);
  const launched = await nested.launch({
    parentId: "exec",
    childId: "task",
    command: { value: "sleep 1000" },
  });
  assert.ok("ok" in launched, JSON.stringify(launched));
  const child = started[0] as ChildProcess;
  const startTime = (await readProcEntry(child.pid ?? -1))?.startTime;
  assert.notEqual(startTime, undefined);
  assert.equal(nested.kill("exec", "task"), true);
  const call = await until("the kill", () => sweeper.calls[0]);
  assert.equal(call.startTime, startTime, "the sweep starts at the container's process");
  assert.equal(call.container?.id, "exec.task");
  child.kill("SIGKILL");
  nested.stop();
});

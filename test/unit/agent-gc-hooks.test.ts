import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  Agent,
  type AgentConfig,
  type Containerizer,
  type ContainerLaunch,
} from "../../src/agent/agent.js";
import type { AgentCheckpoint, RunCheckpoint } from "../../src/agent/checkpoint/state.js";
import type {
  NestedContainers,
  NestedTermination,
} from "../../src/agent/containerizer/nested-containers.js";
import type { ExecutorConnection } from "../../src/agent/executor.js";
import { GarbageCollector } from "../../src/agent/gc/garbage-collector.js";
import { collectNestedSandboxes } from "../../src/agent/gc/nested-sandboxes.js";
import {
  DiskSandboxGc,
  type SandboxGc,
  scheduleOldAgentDirectories,
} from "../../src/agent/gc/sandbox-gc.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import type { TaskInfo } from "../../src/common/protocol/generated/mesos-v1.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { seededRandom } from "../../src/common/time/random.js";
import { testAgentConfig } from "../harness/agent-config.js";

const MASTER = "master@127.0.0.1:5050";
const FW = "F-1";
const AGENT_ID = "S-1";
const W = "/work";

function config(): AgentConfig {
  return testAgentConfig({ workDir: W });
}

/** Records what the agent core asks of garbage collection. */
class RecordingGc implements SandboxGc {
  calls: string[] = [];
  schedule(path: string): void {
    this.calls.push(`schedule ${path}`);
  }
  scheduleByAge(path: string): void {
    this.calls.push(`age ${path}`);
  }
  unschedule(path: string): void {
    this.calls.push(`unschedule ${path}`);
  }
}

class Connection implements ExecutorConnection {
  send(): void {}
  close(): void {}
}

function setup() {
  const clock = new ManualClock();
  const launches: ContainerLaunch[] = [];
  const containerizer: Containerizer = {
    launch: (l) => launches.push(l),
    destroy: () => undefined,
  };
  const agent = new Agent({
    config: config(),
    clock,
    random: seededRandom(3),
    logger: silentLogger,
    transport: { send: () => undefined, link: () => undefined },
    containerizer,
  });
  const gc = new RecordingGc();
  agent.sandboxGc = gc;
  return { clock, agent, gc, launches };
}

function task(id: string): TaskInfo {
  return {
    name: id,
    task_id: { value: id },
    agent_id: { value: AGENT_ID },
    resources: [],
    command: { value: "true" },
  };
}

function run(t: ReturnType<typeof setup>, taskId: string, checkpoint = false): ContainerLaunch {
  t.agent.runTask(MASTER, {
    framework: { user: "u", name: "fw", id: { value: FW }, checkpoint },
    task: task(taskId),
  });
  const launch = t.launches.at(-1) as ContainerLaunch;
  t.agent.containerLaunched(launch.containerId, { pid: 99 });
  t.agent.subscribe(FW, taskId, {}, new Connection());
  return launch;
}

function registered() {
  const t = setup();
  t.agent.start(MASTER);
  t.clock.advance(1000);
  t.agent.registered(MASTER, { slave_id: { value: AGENT_ID } });
  return t;
}

const fwDir = `${W}/slaves/${AGENT_ID}/frameworks/${FW}`;
const metaFwDir = `${W}/meta/slaves/${AGENT_ID}/frameworks/${FW}`;

test("agent gc hooks: an ended executor's run and executor directories, then its framework's, are scheduled", () => {
  const t = registered();
  const launch = run(t, "t1");
  t.gc.calls = [];
  t.agent.shutdownFramework(MASTER, { framework_id: { value: FW } });
  t.agent.containerTerminated(launch.containerId, { status: 9 });
  assert.deepEqual(t.gc.calls, [
    `schedule ${fwDir}/executors/t1/runs/${launch.containerId}`,
    `schedule ${fwDir}/executors/t1`,
    `schedule ${fwDir}`,
  ]);
});

test("agent gc hooks: a checkpointing framework's checkpoint directories are scheduled too", () => {
  const t = registered();
  const launch = run(t, "t1", true);
  t.gc.calls = [];
  t.agent.shutdownFramework(MASTER, { framework_id: { value: FW } });
  t.agent.containerTerminated(launch.containerId, { status: 9 });
  assert.deepEqual(t.gc.calls, [
    `schedule ${fwDir}/executors/t1/runs/${launch.containerId}`,
    `schedule ${fwDir}/executors/t1`,
    `schedule ${metaFwDir}/executors/t1/runs/${launch.containerId}`,
    `schedule ${metaFwDir}/executors/t1`,
    `schedule ${fwDir}`,
    `schedule ${metaFwDir}`,
  ]);
});

test("agent gc hooks: a framework and executor back on the agent are unscheduled before the new run", () => {
  const t = registered();
  const first = run(t, "t1");
  t.agent.shutdownFramework(MASTER, { framework_id: { value: FW } });
  t.agent.containerTerminated(first.containerId, { status: 9 });
  t.gc.calls = [];
  const second = run(t, "t1");
  assert.notEqual(second.containerId, first.containerId);
  assert.deepEqual(t.gc.calls, [
    `unschedule ${fwDir}`,
    `unschedule ${metaFwDir}`,
    `unschedule ${fwDir}/executors/t1`,
    `unschedule ${metaFwDir}/executors/t1`,
  ]);
});

test("agent gc hooks: recovery schedules finished runs, earlier runs and executor-less frameworks by age", () => {
  const t = setup();
  const runOf = (containerId: string, completed: boolean): RunCheckpoint => ({
    containerId,
    completed,
    http: true,
    tasks: new Map(),
  });
  const info = { user: "u", name: "fw", checkpoint: true };
  const checkpoint: AgentCheckpoint = {
    id: AGENT_ID,
    frameworks: new Map([
      [
        FW,
        {
          id: FW,
          info,
          executors: new Map([
            [
              "done",
              {
                id: "done",
                info: { executor_id: { value: "done" }, command: { value: "x" } },
                generatedForCommandTask: true,
                latest: "c2",
                runs: new Map([
                  ["c1", runOf("c1", true)],
                  ["c2", runOf("c2", true)],
                ]),
              },
            ],
          ]),
        },
      ],
      ["F-empty", { id: "F-empty", info, executors: new Map() }],
    ]),
  };
  const recovered = t.agent.recover(checkpoint);
  assert.equal(recovered.length, 0);
  const meta = `${W}/meta/slaves/${AGENT_ID}/frameworks`;
  const work = `${W}/slaves/${AGENT_ID}/frameworks`;
  assert.deepEqual(t.gc.calls, [
    `age ${work}/${FW}/executors/done/runs/c1`,
    `age ${meta}/${FW}/executors/done/runs/c1`,
    `age ${work}/${FW}/executors/done/runs/c2`,
    `age ${meta}/${FW}/executors/done/runs/c2`,
    `age ${work}/${FW}/executors/done`,
    `age ${meta}/${FW}/executors/done`,
    `schedule ${work}/${FW}`,
    `schedule ${meta}/${FW}`,
    `age ${work}/F-empty`,
    `age ${meta}/F-empty`,
  ]);
});

test("agent gc on disk: a recovered directory's delay counts from its mtime; a fresh one is touched and gets the whole delay", async () => {
  const dir = mkdtempSync(join(tmpdir(), "agent-gc-hooks-"));
  try {
    const clock = new ManualClock(Date.now());
    const collector = new GarbageCollector({
      clock,
      logger: silentLogger,
      remove: async () => "removed",
    });
    const gc = new DiskSandboxGc({ gc: collector, clock, logger: silentLogger, gcDelayMs: 10_000 });
    const old = join(dir, "old");
    const fresh = join(dir, "fresh");
    mkdirSync(old);
    mkdirSync(fresh);
    const fourSecondsAgo = (clock.now() - 4000) / 1000;
    utimesSync(old, fourSecondsAgo, fourSecondsAgo);
    utimesSync(fresh, fourSecondsAgo, fourSecondsAgo);
    gc.scheduleByAge(old);
    gc.schedule(fresh);
    gc.scheduleByAge(join(dir, "missing"));
    const remainingOld = collector.remaining(old) ?? -1;
    assert.ok(Math.abs(remainingOld - 6000) < 50, `about 6 s left, got ${remainingOld}`);
    assert.equal(collector.remaining(fresh), 10_000);
    assert.ok(statSync(fresh).mtimeMs > fourSecondsAgo * 1000 + 3000, "touched when scheduled");
    assert.equal(collector.pending, 2, "a missing directory is not scheduled");
    gc.unschedule(fresh);
    assert.equal(collector.isScheduled(fresh), false);
    collector.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("agent gc on disk: directories of other agent ids are scheduled, the current one and stray files are not", () => {
  const dir = mkdtempSync(join(tmpdir(), "agent-gc-old-"));
  try {
    for (const id of ["S-old", "S-now"]) {
      mkdirSync(join(dir, "slaves", id), { recursive: true });
      mkdirSync(join(dir, "meta", "slaves", id), { recursive: true });
    }
    mkdirSync(join(dir, "slaves", "S-nometa"), { recursive: true });
    writeFileSync(join(dir, "slaves", "stray-file"), "");
    const gc = new RecordingGc();
    const old = scheduleOldAgentDirectories(dir, "S-now", gc, silentLogger);
    assert.deepEqual(old.sort(), ["S-nometa", "S-old"]);
    assert.deepEqual(gc.calls.sort(), [
      `schedule ${join(dir, "meta", "slaves", "S-old")}`,
      `schedule ${join(dir, "slaves", "S-nometa")}`,
      `schedule ${join(dir, "slaves", "S-old")}`,
    ]);
    const fresh = new RecordingGc();
    scheduleOldAgentDirectories(dir, undefined, fresh, silentLogger);
    assert.equal(fresh.calls.length, 5, "a new agent (no recovered id) schedules every old id");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("agent gc nested sandboxes: launched ones are scheduled when they end; recovered ones by age if ended, at their end if running", async () => {
  const dir = mkdtempSync(join(tmpdir(), "agent-gc-nested-"));
  try {
    for (const child of ["ended", "running", "unknown"]) {
      mkdirSync(join(dir, "containers", child), { recursive: true });
    }
    const ends = new Map<string, () => void>();
    const waits = new Map<string, Promise<NestedTermination>>();
    const track = (child: string, ended: boolean) => {
      waits.set(
        child,
        ended ? Promise.resolve({}) : new Promise((resolve) => ends.set(child, () => resolve({}))),
      );
    };
    track("ended", true);
    track("running", false);
    const parent = {
      containerId: "P",
      directory: dir,
      frameworkId: FW,
      executorId: "e",
      executorName: "e",
    };
    const fake = {
      launch: async (l: { childId: string }) => {
        track(l.childId, false);
        return { ok: true as const };
      },
      wait: (_p: string, child: string) => waits.get(child),
      parent: () => parent,
      list: () => [
        { parent, childId: "running", pid: 1, directory: join(dir, "containers/running") },
      ],
      ready: () => Promise.resolve(),
    };
    const gc = new RecordingGc();
    await collectNestedSandboxes(fake as unknown as NestedContainers, gc, [
      { containerId: "P", directory: dir },
    ]);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(gc.calls, [`age ${join(dir, "containers", "ended")}`]);
    const launched = await (fake as unknown as NestedContainers).launch({
      parentId: "P",
      childId: "fresh",
    });
    assert.ok("ok" in launched);
    ends.get("running")?.();
    ends.get("fresh")?.();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(gc.calls.slice(1).sort(), [
      `schedule ${join(dir, "containers", "fresh")}`,
      `schedule ${join(dir, "containers", "running")}`,
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("agent gc hooks: a completed task's checkpoint directory is scheduled for checkpointing executors only", () => {
  class Probe extends Agent {
    collect(frameworkId: string, executorId: string, taskId: string): void {
      const executor = this.frameworks.get(frameworkId)?.executors.get(executorId);
      assert.ok(executor !== undefined);
      this.collectTaskCheckpoint(executor, taskId);
    }
  }
  for (const checkpoint of [false, true]) {
    const gc = new RecordingGc();
    const launches: ContainerLaunch[] = [];
    const clock = new ManualClock();
    const agent = new Probe({
      config: config(),
      clock,
      random: seededRandom(5),
      logger: silentLogger,
      transport: { send: () => undefined, link: () => undefined },
      containerizer: { launch: (l) => launches.push(l), destroy: () => undefined },
    });
    agent.sandboxGc = gc;
    agent.start(MASTER);
    clock.advance(1000);
    agent.registered(MASTER, { slave_id: { value: AGENT_ID } });
    agent.runTask(MASTER, {
      framework: { user: "u", name: "fw", id: { value: FW }, checkpoint },
      task: task("t1"),
    });
    gc.calls = [];
    agent.collect(FW, "t1", "t1");
    const containerId = launches[0]?.containerId ?? "";
    assert.deepEqual(
      gc.calls,
      checkpoint ? [`schedule ${metaFwDir}/executors/t1/runs/${containerId}/tasks/t1`] : [],
    );
  }
});

test("agent gc nested sandboxes: after a restart, containers nested below nested ones are scheduled by the same rule, at any depth", async () => {
  const dir = mkdtempSync(join(tmpdir(), "agent-gc-nested-deep-"));
  const at = (...ids: string[]) => join(dir, ...ids.flatMap((id) => ["containers", id]));
  try {
    for (const ids of [
      ["mid", "ended2"],
      ["mid", "run2", "ended3"],
      ["mid", "unknown2"],
    ]) {
      mkdirSync(at(...ids), { recursive: true });
    }
    const ends = new Map<string, () => void>();
    const waits = new Map<string, Promise<NestedTermination>>();
    for (const key of ["P.mid", "P.mid.run2"]) {
      waits.set(key, new Promise((resolve) => ends.set(key, () => resolve({}))));
    }
    waits.set("P.mid.ended2", Promise.resolve({}));
    waits.set("P.mid.run2.ended3", Promise.resolve({}));
    const parent = {
      containerId: "P",
      directory: dir,
      frameworkId: FW,
      executorId: "e",
      executorName: "e",
    };
    const fake = {
      launch: async () => ({ ok: true as const }),
      wait: (p: string, child: string) => waits.get(`${p}.${child}`),
      parent: () => parent,
      list: () => [
        { parent, childId: "mid", pid: 1, directory: at("mid") },
        {
          parent: { ...parent, containerId: "P.mid" },
          childId: "run2",
          pid: 2,
          directory: at("mid", "run2"),
        },
      ],
      ready: () => Promise.resolve(),
    };
    const gc = new RecordingGc();
    await collectNestedSandboxes(fake as unknown as NestedContainers, gc, [
      { containerId: "P", directory: dir },
    ]);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(gc.calls.sort(), [
      `age ${at("mid", "ended2")}`,
      `age ${at("mid", "run2", "ended3")}`,
    ]);
    ends.get("P.mid.run2")?.();
    ends.get("P.mid")?.();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(gc.calls.slice(2).sort(), [
      `schedule ${at("mid")}`,
      `schedule ${at("mid", "run2")}`,
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Nested containers more than one level deep (a nested container's parent
 * is itself a nested container), with a real master and agent on loopback:
 * - under a task group's task (default executor): a container two levels
 *   below the executor runs in `<task sandbox>/containers/<id>` and is
 *   waited for; a third level is listed by GET_CONTAINERS with its whole
 *   ContainerID chain; killing the middle container destroys the one
 *   nested in it; a session in a second-level container streams its
 *   output; an unknown parent and a launch deeper than 32 levels are 400;
 * - under a standalone container, across an agent restart: the deeper
 *   containers are recovered (listed, waited for, killed with their parent);
 * - with the linux launcher and cgroups: each level's freezer cgroup is
 *   below its parent's, a second level shares the standalone container's
 *   resource cgroups, and killing the middle level removes both cgroups.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  unlinkSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CgroupsHierarchy } from "../../src/agent/containerizer/cgroups/hierarchy.js";
import { encodeRecord } from "../../src/common/recordio/index.js";
import { operatorCall, waitEnded } from "../harness/operator.js";
import { alive, killEach } from "../harness/proc-scan.js";
import {
  binPath,
  type DaemonHandle,
  freePort,
  getJson,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitForAgents,
  waitLong,
} from "../harness/processes.js";
import { isolationSkipReason, removeRootCgroups } from "./containerizer-helpers.js";

type Id = { value: string; parent?: Id };

let master: DaemonHandle;
const schedulers: ChildProcess[] = [];
/** Processes the tests started: killed at the end whatever happened. */
const strays = new Set<number>();

before(async () => {
  master = await startMaster();
});

after(async () => {
  for (const s of schedulers) s.kill("SIGKILL");
  killEach(strays);
  await stopAll();
});

function launch(id: Id, command: string): Record<string, unknown> {
  return {
    type: "LAUNCH_CONTAINER",
    launch_container: {
      container_id: id,
      command: { value: command },
      ...(id.parent === undefined
        ? {
            resources: [
              { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
              { name: "mem", type: "SCALAR", scalar: { value: 32 } },
            ],
          }
        : {}),
    },
  };
}

async function launched(on: DaemonHandle, body: Record<string, unknown>): Promise<void> {
  const r = await operatorCall(on, body);
  assert.equal(r.status, 200, `${JSON.stringify(body)}: ${r.text}\n${on.logs().slice(-3000)}`);
}

function dotted(id: Id): string {
  return id.parent === undefined ? id.value : `${dotted(id.parent)}.${id.value}`;
}

interface Listed {
  container_id: Id;
  container_status?: { executor_pid?: number };
}

/** An entry of the agent's `/containers`. */
interface ContainersEntry {
  container_id: string;
  parent_container_id?: Id;
  status?: { container_id?: Id };
}

async function containers(on: DaemonHandle): Promise<Listed[]> {
  const r = await operatorCall(on, {
    type: "GET_CONTAINERS",
    get_containers: { show_nested: true, show_standalone: true },
  });
  assert.equal(r.status, 200, r.text);
  return (
    (JSON.parse(r.text) as { get_containers?: { containers?: Listed[] } }).get_containers
      ?.containers ?? []
  );
}

async function listed(on: DaemonHandle, id: Id): Promise<Listed | undefined> {
  return (await containers(on)).find((c) => dotted(c.container_id) === dotted(id));
}

/** The pid a container's command wrote to `file`, once it did. */
async function pidIn(file: string): Promise<number> {
  const pid = await waitLong(`a pid in ${file}`, () => {
    const text = existsSync(file) ? readFileSync(file, "utf8").trim() : "";
    return /^\d+$/.test(text) ? Number(text) : undefined;
  });
  strays.add(pid);
  return pid;
}

/** A chain of ids below `root`: `names` one below the other. */
function chain(root: Id, ...names: string[]): Id {
  let id = root;
  for (const value of names) id = { value, parent: id };
  return id;
}

/** Starts a task group with one sleeping task; resolves with the task's ContainerID and the executor's sandbox. */
async function taskGroup(agent: DaemonHandle): Promise<{ task: Id; sandbox: string }> {
  const group = {
    tasks: [
      {
        name: "depth-sleeper",
        task_id: { value: "depth-sleeper" },
        agent_id: { value: "" },
        resources: [
          { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
          { name: "mem", type: "SCALAR", scalar: { value: 32 } },
        ],
        command: { value: "sleep 300" },
      },
    ],
  };
  schedulers.push(
    spawn(
      process.execPath,
      [
        binPath("mesos-execute"),
        `--master=${master.address}`,
        `--task_group=${JSON.stringify(group)}`,
      ],
      { stdio: "ignore" },
    ),
  );
  const task = await waitLong("the task group's nested container", async () => {
    const found = (await containers(agent)).find((c) => c.container_id.parent !== undefined);
    return found?.container_id;
  });
  const executorId = task.parent?.value;
  const sandbox = await waitLong("the executor's sandbox in /state", async () => {
    const state = await getJson<{
      frameworks?: { executors?: { container?: string; directory?: string }[] }[];
    }>(`${agent.url}/state`);
    for (const f of state?.frameworks ?? []) {
      for (const e of f.executors ?? []) {
        if (e.container === executorId && e.directory !== undefined) return e.directory;
      }
    }
    return undefined;
  });
  return { task, sandbox };
}

test("containers nested below a task's container: sandbox, wait, output, listing, kill of the middle one, limits", async () => {
  const agent = await startAgent({ master: master.address });
  await waitForAgents(master, 1);
  const { task, sandbox } = await taskGroup(agent);
  assert.ok(task.parent !== undefined && task.parent.parent === undefined, "the task is level 1");
  const taskSandbox = join(sandbox, "containers", task.value);

  // Level 2: runs in its own sandbox below the task's, and is waited for.
  const out = chain(task, "out");
  await launched(
    agent,
    launch(out, 'echo "sandbox=$MESOS_SANDBOX"; echo "pwd=$(pwd)"; echo level-two >&2'),
  );
  assert.deepEqual(await waitEnded(agent, out), { exit_status: 0 });
  const outSandbox = join(taskSandbox, "containers", "out");
  assert.equal(
    readFileSync(join(outSandbox, "stdout"), "utf8"),
    `sandbox=${outSandbox}\npwd=${outSandbox}\n`,
  );
  assert.equal(readFileSync(join(outSandbox, "stderr"), "utf8"), "level-two\n");

  // A link the task's user put in place of a level-2 sandbox is not followed
  // by a launch below it (the sandboxes are made from the executor's down).
  const linked = chain(task, "linked");
  await launched(agent, launch(linked, "exec sleep 300"));
  // `/containers` gives a level-2 container's own id, its whole ContainerID
  // (as Mesos) and its parent's whole ContainerID.
  const shown = await waitLong("the level-2 container in /containers", async () =>
    ((await getJson<ContainersEntry[]>(`${agent.url}/containers`)) ?? []).find(
      (c) =>
        c.status?.container_id !== undefined && dotted(c.status.container_id) === dotted(linked),
    ),
  );
  assert.equal(shown.container_id, "linked");
  assert.deepEqual(shown.status?.container_id, linked);
  assert.deepEqual(shown.parent_container_id, task);
  const linkedSandbox = join(taskSandbox, "containers", "linked");
  const elsewhere = tempDir("nested-depth-elsewhere-");
  renameSync(linkedSandbox, `${linkedSandbox}-moved`);
  symlinkSync(elsewhere, linkedSandbox);
  const below = await operatorCall(agent, launch(chain(linked, "below"), "true"));
  assert.equal(below.status, 400, below.text);
  assert.match(below.text, /is a symbolic link/);
  assert.deepEqual(readdirSync(elsewhere), [], "nothing was made through the link");
  const linkedKill = await operatorCall(agent, {
    type: "KILL_NESTED_CONTAINER",
    kill_nested_container: { container_id: linked },
  });
  assert.equal(linkedKill.status, 200, linkedKill.text);
  await waitEnded(agent, linked);

  // Levels 2 and 3, running: listed with their whole chain.
  const mid = chain(task, "mid");
  const grand = chain(mid, "grand");
  await launched(agent, launch(mid, 'echo $$ > "$MESOS_SANDBOX/pid"; exec sleep 300'));
  await launched(agent, launch(grand, 'echo $$ > "$MESOS_SANDBOX/pid"; exec sleep 300'));
  const grandSandbox = join(taskSandbox, "containers", "mid", "containers", "grand");
  const grandPid = await pidIn(join(grandSandbox, "pid"));
  const midPid = await pidIn(join(taskSandbox, "containers", "mid", "pid"));
  const entry = await listed(agent, grand);
  assert.deepEqual(entry?.container_id, grand, "GET_CONTAINERS gives the whole chain");
  assert.equal(entry?.container_status?.executor_pid, grandPid);

  // A session in a level-2 container (a DEBUG container, level 3) streams its output.
  const session = await fetch(`${agent.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/recordio" },
    body: JSON.stringify({
      type: "LAUNCH_NESTED_CONTAINER_SESSION",
      launch_nested_container_session: {
        container_id: chain(mid, "probe"),
        command: { value: "echo deep-session" },
      },
    }),
  });
  const streamed = await session.text();
  assert.equal(session.status, 200, streamed);
  assert.ok(
    streamed.includes(Buffer.from("deep-session\n").toString("base64")),
    `the session's output: ${streamed}`,
  );

  // A session in the level-3 container: its input and output are attached to by the whole id.
  const reader = chain(grand, "reader");
  const catSession = await fetch(`${agent.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/recordio" },
    body: JSON.stringify({
      type: "LAUNCH_NESTED_CONTAINER_SESSION",
      launch_nested_container_session: { container_id: reader, command: { value: "cat" } },
    }),
  });
  assert.equal(catSession.status, 200);
  const follower = await fetch(`${agent.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/recordio" },
    body: JSON.stringify({
      type: "ATTACH_CONTAINER_OUTPUT",
      attach_container_output: { container_id: reader },
    }),
  });
  assert.equal(follower.status, 200);
  const records = [
    { type: "CONTAINER_ID", container_id: reader },
    {
      type: "PROCESS_IO",
      process_io: {
        type: "DATA",
        data: { type: "STDIN", data: Buffer.from("ping\n").toString("base64") },
      },
    },
    { type: "PROCESS_IO", process_io: { type: "DATA", data: { type: "STDIN", data: "" } } },
  ].map((attach_container_input) =>
    encodeRecord(JSON.stringify({ type: "ATTACH_CONTAINER_INPUT", attach_container_input })),
  );
  const input = await fetch(`${agent.url}/api/v1`, {
    method: "POST",
    headers: {
      "Content-Type": "application/recordio",
      "Message-Content-Type": "application/json",
      Accept: "application/json",
    },
    body: Buffer.concat(records),
  });
  assert.equal(input.status, 200, await input.text());
  const ping = Buffer.from("ping\n").toString("base64");
  const launchedText = await catSession.text();
  assert.ok(launchedText.includes(ping), `the session's own stream: ${launchedText}`);
  const followedText = await follower.text();
  assert.ok(followedText.includes(ping), `the attached output: ${followedText}`);

  // Killing the middle container destroys the one nested in it.
  const grandWait = waitEnded(agent, grand);
  const killed = await operatorCall(agent, {
    type: "KILL_NESTED_CONTAINER",
    kill_nested_container: { container_id: mid },
  });
  assert.equal(killed.status, 200, killed.text);
  await grandWait;
  assert.deepEqual(await waitEnded(agent, mid), { exit_status: 9 });
  await waitLong("both processes to be gone", () => !alive(grandPid) && !alive(midPid));
  assert.equal(await listed(agent, grand), undefined, "the grandchild is no longer listed");
  assert.equal(await listed(agent, mid), undefined);
  const gone = await operatorCall(agent, {
    type: "WAIT_NESTED_CONTAINER",
    wait_nested_container: { container_id: grand },
  });
  assert.equal(gone.status, 404, gone.text);
  // Its parent has ended: nothing can be launched below it.
  const orphan = await operatorCall(agent, launch(chain(grand, "late"), "true"));
  assert.equal(orphan.status, 400, orphan.text);
  assert.equal(orphan.text, `Parent container ${dotted(grand)} does not exist`);

  // An unknown parent, and a launch deeper than 32 levels.
  const unknown = chain(task, "nobody", "child");
  const refused = await operatorCall(agent, launch(unknown, "true"));
  assert.equal(refused.status, 400, refused.text);
  assert.equal(refused.text, `Parent container ${dotted(task)}.nobody does not exist`);
  const levels = Array.from({ length: 32 }, (_, i) => `l${i + 2}`);
  const tooDeep = chain(task, ...levels);
  const deep = await operatorCall(agent, launch(tooDeep, "true"));
  assert.equal(deep.status, 400, deep.text);
  assert.equal(
    deep.text,
    `Container '${dotted(tooDeep)}' would be nested more than 32 levels deep`,
  );
  // A link higher up (the task's own `containers` directory) is not followed either.
  const inner = chain(task, "inner");
  await launched(agent, launch(inner, "exec sleep 300"));
  const containersDir = join(taskSandbox, "containers");
  const decoy = tempDir("nested-depth-decoy-");
  mkdirSync(join(decoy, "inner"));
  renameSync(containersDir, `${containersDir}-moved`);
  symlinkSync(decoy, containersDir);
  try {
    const through = await operatorCall(agent, launch(chain(inner, "below"), "true"));
    assert.equal(through.status, 400, through.text);
    assert.match(through.text, /is a symbolic link/);
    assert.deepEqual(readdirSync(join(decoy, "inner")), [], "nothing was made through the link");
  } finally {
    unlinkSync(containersDir);
    renameSync(`${containersDir}-moved`, containersDir);
  }
  const innerKill = await operatorCall(agent, {
    type: "KILL_NESTED_CONTAINER",
    kill_nested_container: { container_id: inner },
  });
  assert.equal(innerKill.status, 200, innerKill.text);
  await waitEnded(agent, inner);

  // The task itself kept running throughout.
  assert.ok(await listed(agent, task), "the task's container still runs");
  await agent.stop();
});

test("containers nested below a standalone container's child are recovered by a restarted agent and destroyed with their parent", async () => {
  const port = await freePort();
  const workDir = tempDir("nested-depth-recovery-");
  const flags = { work_dir: workDir, registration_backoff_factor: "10ms" };
  let agent = await startAgent({ master: master.address, port, flags });
  const holder = { value: "holder" };
  const middle = chain(holder, "middle");
  const inner = chain(middle, "inner");
  await launched(agent, launch(holder, "exec sleep 300"));
  await launched(agent, launch(middle, 'echo $$ > "$MESOS_SANDBOX/pid"; exec sleep 300'));
  await launched(agent, launch(inner, 'echo $$ > "$MESOS_SANDBOX/pid"; exec sleep 300'));
  const middleSandbox = join(workDir, "containers", "holder", "containers", "middle");
  const innerPid = await pidIn(join(middleSandbox, "containers", "inner", "pid"));
  const middlePid = await pidIn(join(middleSandbox, "pid"));
  assert.ok(
    existsSync(join(workDir, "meta", "nested-containers", "holder", "middle", "inner.json")),
    "the level-2 container's record nests below its parent's",
  );
  // A second chain whose level-1 container dies while the agent is down.
  const dying = chain(holder, "dying");
  const survivor = chain(dying, "survivor");
  await launched(agent, launch(dying, 'echo $$ > "$MESOS_SANDBOX/pid"; exec sleep 300'));
  await launched(agent, launch(survivor, 'echo $$ > "$MESOS_SANDBOX/pid"; exec sleep 300'));
  const dyingSandbox = join(workDir, "containers", "holder", "containers", "dying");
  const dyingPid = await pidIn(join(dyingSandbox, "pid"));
  const survivorPid = await pidIn(join(dyingSandbox, "containers", "survivor", "pid"));

  agent.kill("SIGKILL");
  await agent.exited;
  assert.ok(alive(innerPid), "the level-2 container runs while the agent is down");
  process.kill(dyingPid, "SIGKILL");
  await waitLong("the level-1 container to die", () => !alive(dyingPid));
  agent = await startAgent({ master: master.address, port, flags });
  const entry = await waitLong("the recovered level-2 container", () => listed(agent, inner));
  assert.deepEqual(entry.container_id, inner);
  assert.equal(entry.container_status?.executor_pid, innerPid);
  // What was nested in the container that died goes with it.
  await waitLong("the orphaned level-2 container to be killed", () => !alive(survivorPid));
  assert.equal(await listed(agent, survivor), undefined);
  assert.equal(await listed(agent, dying), undefined);

  const innerWait = waitEnded(agent, inner);
  const killed = await operatorCall(agent, {
    type: "KILL_NESTED_CONTAINER",
    kill_nested_container: { container_id: middle },
  });
  assert.equal(killed.status, 200, killed.text);
  await innerWait;
  await waitLong("the recovered processes to be gone", () => !alive(innerPid) && !alive(middlePid));
  await waitLong("the level-2 container to be unlisted", async () => !(await listed(agent, inner)));
  // The standalone container itself keeps running.
  assert.ok(await listed(agent, holder));
  const stopped = await operatorCall(agent, {
    type: "KILL_CONTAINER",
    kill_container: { container_id: holder },
  });
  assert.equal(stopped.status, 200, stopped.text);
  await waitEnded(agent, holder);
  await agent.stop();
});

const cgroupsSkip = isolationSkipReason(["cpu", "memory", "freezer"]);

test("containers nested two levels deep with the linux launcher: freezer cgroups below their parent's, the top-level resource cgroups shared, all removed with the middle one", {
  skip: cgroupsSkip,
}, async () => {
  const root = `mesos-nested-depth-${process.pid}`;
  const cgroups = CgroupsHierarchy.detect("/sys/fs/cgroup", root) as CgroupsHierarchy;
  const workDir = tempDir("nested-depth-cgroups-");
  const agent = await startAgent({
    master: master.address,
    flags: {
      work_dir: workDir,
      isolation: "cgroups/cpu,cgroups/mem",
      launcher: "linux",
      cgroups_root: root,
    },
  });
  try {
    const holder = { value: "holder" };
    const middle = chain(holder, "middle");
    const inner = chain(middle, "inner");
    await launched(agent, launch(holder, "exec sleep 300"));
    await launched(agent, launch(middle, 'echo $$ > "$MESOS_SANDBOX/pid"; exec sleep 300'));
    await launched(agent, launch(inner, 'echo $$ > "$MESOS_SANDBOX/pid"; exec sleep 300'));
    const middleSandbox = join(workDir, "containers", "holder", "containers", "middle");
    const innerPid = await pidIn(join(middleSandbox, "containers", "inner", "pid"));
    const innerCgroup = cgroups.path("freezer", "holder/mesos/middle/mesos/inner");
    const middleCgroup = cgroups.path("freezer", "holder/mesos/middle");
    const procs = (dir: string) =>
      readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
    assert.ok(procs(innerCgroup).includes(innerPid), "the inner container is in its own cgroup");
    if (cgroups.version === 1) {
      assert.ok(
        procs(cgroups.path("memory", "holder")).includes(innerPid),
        "the inner container counts against the standalone container's memory cgroup",
      );
    }

    const innerWait = waitEnded(agent, inner);
    const killed = await operatorCall(agent, {
      type: "KILL_NESTED_CONTAINER",
      kill_nested_container: { container_id: middle },
    });
    assert.equal(killed.status, 200, killed.text);
    await innerWait;
    assert.deepEqual(await waitEnded(agent, middle), { exit_status: 9 });
    await waitLong("the inner process to be gone", () => !alive(innerPid));
    await waitLong(
      "both freezer cgroups to be removed",
      () => !existsSync(innerCgroup) && !existsSync(middleCgroup),
    );
    assert.ok(await listed(agent, holder), "the standalone container keeps running");
    const stopped = await operatorCall(agent, {
      type: "KILL_CONTAINER",
      kill_container: { container_id: holder },
    });
    assert.equal(stopped.status, 200, stopped.text);
    await waitEnded(agent, holder);
  } finally {
    await agent.stop();
    removeRootCgroups(cgroups);
  }
});

/**
 * bin/mesos against a real master and agent on loopback, with tasks run by
 * bin/mesos-execute and the real command executor.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import {
  binPath,
  type DaemonHandle,
  freePort,
  runBinary,
  stopAll,
  tempDir,
  waitFor,
} from "../harness/processes.js";

let master: DaemonHandle;
let agent: DaemonHandle;
let agentId = "";
let home = "";

/** An environment without the caller's MESOS_* settings or CLI profile. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("MESOS_") && !k.startsWith("LIBPROCESS_")) env[k] = v;
  }
  return { ...env, HOME: home, MESOS_CLI_CONFIG: join(home, "mesos.json"), ...extra };
}

/** Runs bin/mesos against the test master (unless the arguments name another). */
function mesos(args: string[], extraEnv: Record<string, string> = {}, input?: string) {
  return runBinary("mesos", args, {
    env: { ...cleanEnv({ MESOS_MASTER: master.address }), ...extraEnv },
    timeoutMs: 30_000,
    ...(input === undefined ? {} : { input }),
  });
}

function execute(name: string, command: string) {
  return runBinary(
    "mesos-execute",
    [`--master=${master.address}`, `--name=${name}`, `--command=${command}`],
    { env: cleanEnv(), timeoutMs: 60_000 },
  );
}

before(async () => {
  home = tempDir("mesos-cli-home-");
  ({ master, agent, agentId } = await startOneAgentCluster());
});

after(stopAll);

test("mesos agent list shows the registered agent with its short id and address", async () => {
  const r = await mesos(["agent", "list"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split("\n");
  assert.match(lines[0] ?? "", /^ID +HOSTNAME +ADDRESS +ACTIVE +CPUS +MEM +DISK$/);
  const short = agentId.replace(/^([0-9a-f]{8})[0-9a-f-]{28}/, "$1");
  assert.equal(lines.length, 2);
  assert.match(lines[1] ?? "", new RegExp(`^${short} +\\S+ +${agent.address} +yes +0/2 `));
});

test("-o json output parses, with full ids", async () => {
  const r = await mesos(["agent", "list", "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  const agents = JSON.parse(r.stdout) as Array<{ id: string; pid: string }>;
  assert.deepEqual(
    agents.map((a) => a.id),
    [agentId],
  );
  assert.match(agents[0]?.pid ?? "", new RegExp(`@${agent.address}$`));
});

test("a task run by mesos-execute shows in task list, framework list and state", async () => {
  const name = "cli-listed";
  const run = await execute(name, "echo listed");
  assert.equal(run.code, 0, run.stderr);

  const frameworks = await mesos(["framework", "list", "--all"]);
  assert.equal(frameworks.code, 0, frameworks.stderr);
  assert.match(frameworks.stdout, /mesos-execute instance +completed /);

  const state = await mesos(["state"]);
  assert.equal(state.code, 0, state.stderr);
  const doc = JSON.parse(state.stdout) as {
    slaves: Array<{ id: string }>;
    completed_frameworks: Array<{ completed_tasks: Array<{ id: string; state: string }> }>;
  };
  assert.deepEqual(
    doc.slaves.map((s) => s.id),
    [agentId],
  );
  const tasks = doc.completed_frameworks.flatMap((f) => f.completed_tasks);
  assert.ok(tasks.some((t) => t.id === name && t.state === "TASK_FINISHED"));

  const agentState = await mesos(["state", agentId.slice(0, 8)]);
  assert.equal(agentState.code, 0, agentState.stderr);
  assert.equal((JSON.parse(agentState.stdout) as { id: string }).id, agentId);
});

test("mesos task list --all shows a finished task", async () => {
  await execute("cli-task-list", "true");
  const r = await mesos(["task", "list", "--all"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ID +NAME +STATE +FRAMEWORK +AGENT\n/);
  assert.match(r.stdout, /\ncli-task-list +cli-task-list +TASK_FINISHED /);
  const live = await mesos(["task", "list"]);
  assert.doesNotMatch(live.stdout, /cli-task-list/);
});

test("mesos resolve prints the leading master's ip:port", async () => {
  const r = await mesos(["resolve"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${master.address}\n`);
  // A master address is printed as it is, host resolved, without asking it
  // (mesos-resolve's standalone detector): nothing listens on port 1.
  const down = await mesos(["resolve", "localhost:1"]);
  assert.equal(down.code, 0, down.stderr);
  assert.equal(down.stdout, "127.0.0.1:1\n");
  const json = await mesos(["resolve", "127.0.0.1:1", "-o", "json"]);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), {
    leader: "127.0.0.1:1",
    pid: "master@127.0.0.1:1",
    leader_info: null,
  });
  const zk = await mesos(["resolve", "zk://127.0.0.1:0/mesos"]);
  assert.equal(zk.code, 1);
  assert.match(zk.stderr, /^mesos: Invalid ZooKeeper URL .*bad port.*\n$/);
});

test("mesos cat <partial task id> stdout shows the task's output", async () => {
  const run = await execute("cli-cat-task-7f3a", "echo hello from the sandbox; echo oops >&2");
  assert.equal(run.code, 0, run.stderr);
  const r = await mesos(["cat", "cat-task-7f", "stdout"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /hello from the sandbox\n/);
  // The executor logs into the same stderr, so the task's line is somewhere in it.
  const err = await mesos(["cat", "cli-cat-task", "stderr"]);
  assert.equal(err.code, 0, err.stderr);
  assert.match(err.stdout, /^oops$/m);
  const head = await mesos(["head", "cli-cat-task", "stderr", "-n", "1"]);
  assert.equal(head.stdout, `${err.stdout.split("\n")[0]}\n`);
  const tail = await mesos(["tail", "cli-cat-task", "stderr", "-n", "2"]);
  assert.equal(tail.stdout, `${err.stdout.trimEnd().split("\n").slice(-2).join("\n")}\n`);
  const find = await mesos(["find", "cli-cat-task"]);
  assert.match(find.stdout, /^stdout$/m);
  const ls = await mesos(["ls", "cli-cat"]);
  assert.match(ls.stdout, /^stderr$/m);
  assert.match(ls.stdout, /^stdout$/m);
  const missing = await mesos(["cat", "cli-cat", "no-such-file"]);
  assert.equal(missing.code, 1);
  assert.match(
    missing.stderr,
    /^mesos: no such file or directory in the sandbox of task 'cli-cat-task-7f3a': no-such-file\n$/,
  );
});

test("mesos task exec runs a command in a running task's container; -i sends it our stdin", async () => {
  const execution = spawn(
    process.execPath,
    [
      binPath("mesos-execute"),
      `--master=${master.address}`,
      "--name=cli-exec-sleeper",
      "--command=echo marker > here.txt; sleep 60",
    ],
    { env: cleanEnv(), stdio: "ignore" },
  );
  try {
    await waitFor("cli-exec-sleeper running", async () => {
      const r = await mesos(["task", "list"]);
      return /\ncli-exec-sleeper +\S+ +TASK_RUNNING /.test(r.stdout) ? r : undefined;
    });
    // RUNNING is reported before the task's shell has written its marker.
    await waitFor("cli-exec-sleeper's marker file", () =>
      readdirSync(agent.workDir, { recursive: true, encoding: "utf8" }).some((f) =>
        f.endsWith("/runs/latest/here.txt"),
      ),
    );
    const r = await mesos(["task", "exec", "cli-exec", "--", "sh", "-c", "cat here.txt; exit 4"]);
    assert.deepEqual([r.code, r.stdout], [4, "marker\n"], r.stderr);
    // -i: our stdin reaches the command (ATTACH_CONTAINER_INPUT), its EOF too.
    const piped = await mesos(["task", "exec", "-i", "cli-exec", "cat"], {}, "hello\n");
    assert.deepEqual([piped.code, piped.stdout], [0, "hello\n"], piped.stderr);
    // A command that exits without reading its input is fine too.
    const unread = await mesos(
      ["task", "exec", "-i", "cli-exec", "--", "sh", "-c", "exit 2"],
      {},
      "x",
    );
    assert.deepEqual([unread.code, unread.stdout], [2, ""], unread.stderr);
    const tty = await mesos(["task", "exec", "-t", "cli-exec", "cat"]);
    assert.deepEqual(
      [tty.code, tty.stderr],
      [2, "mesos: task exec -t (a terminal) is not supported yet\n"],
    );
  } finally {
    execution.kill("SIGINT");
    await new Promise((resolve) => execution.once("exit", resolve));
  }
});

test("mesos ps lists a running task on its host", async () => {
  const execution = spawn(
    process.execPath,
    [
      binPath("mesos-execute"),
      `--master=${master.address}`,
      "--name=cli-ps-sleeper",
      "--command=sleep 60",
    ],
    { env: cleanEnv(), stdio: "ignore" },
  );
  try {
    const row = await waitFor("cli-ps-sleeper in mesos ps", async () => {
      const r = await mesos(["ps"]);
      return /\ncli-ps-sleeper +mesos-execute instance .* TASK_RUNNING /.test(r.stdout)
        ? r
        : undefined;
    });
    assert.equal(row.code, 0);
    assert.equal(row.stderr, "", "the agent serves /monitor/statistics");
    // CPU limit, CPU time and resident memory of the limit, from the agent's statistics.
    assert.match(
      row.stdout,
      /\ncli-ps-sleeper .* TASK_RUNNING +[\d.]+ +\d+:\d\d:\d\d\.\d\d +[\d.]+ [KMG]?B\/[\d.]+ [KMG]?B\n/,
    );
  } finally {
    execution.kill("SIGINT");
    await new Promise((resolve) => execution.once("exit", resolve));
  }
});

test("mesos events prints a TASK_ADDED for a new task", async () => {
  const events: ChildProcess = spawn(
    process.execPath,
    [binPath("mesos"), "events", "-o", "json", "--type", "SUBSCRIBED,TASK_ADDED"],
    { env: cleanEnv({ MESOS_MASTER: master.address }), stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  let err = "";
  events.stdout?.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  events.stderr?.setEncoding("utf8").on("data", (d: string) => {
    err += d;
  });
  try {
    await waitFor("SUBSCRIBED from mesos events", () => out.includes('"SUBSCRIBED"') || undefined, {
      timeoutMs: 15_000,
    }).catch((e: Error) => {
      throw new Error(`${e.message}; stderr: ${err}`);
    });
    const run = await execute("cli-events-task", "true");
    assert.equal(run.code, 0, run.stderr);
    const line = await waitFor(
      "TASK_ADDED for cli-events-task",
      () =>
        out.split("\n").find((l) => l.includes('"TASK_ADDED"') && l.includes('"cli-events-task"')),
      { timeoutMs: 15_000 },
    );
    const event = JSON.parse(line) as { task_added: { task: { agent_id: { value: string } } } };
    assert.equal(event.task_added.task.agent_id.value, agentId);
  } finally {
    events.kill("SIGTERM");
  }
});

test("an unreachable master is one line on stderr and exit code 1", async () => {
  const port = await freePort();
  const r = await runBinary("mesos", ["--master", `127.0.0.1:${port}`, "agent", "list"], {
    env: cleanEnv(),
  });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.equal(
    r.stderr,
    `mesos: cannot reach the master at 127.0.0.1:${port}: connection refused\n`,
  );
});

test("the profile gives the master when neither --master nor MESOS_MASTER does", async () => {
  const set = await runBinary("mesos", ["config", "set", "master", master.address], {
    env: cleanEnv(),
  });
  assert.equal(set.code, 0, set.stderr);
  const file = JSON.parse(readFileSync(join(home, "mesos.json"), "utf8")) as {
    profiles: { default: { master: string } };
  };
  assert.equal(file.profiles.default.master, master.address);
  const r = await runBinary("mesos", ["resolve"], { env: cleanEnv() });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${master.address}\n`);
  const show = await runBinary("mesos", ["config", "show", "-o", "json"], {
    env: cleanEnv({ MESOS_MASTER: "10.9.9.9:5050" }),
  });
  const shown = JSON.parse(show.stdout) as { master: { value: string; source: string } };
  assert.deepEqual(shown.master, { value: "10.9.9.9:5050", source: "environment" });
});

test("help, usage errors and plugins", async () => {
  const help = await mesos(["help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: mesos \[options\] <command> \[arguments\]/);
  const catHelp = await mesos(["help", "cat"]);
  assert.equal(catHelp.code, 0);
  assert.match(catHelp.stdout, /^Usage: mesos cat \[options\] <task> \[file\]/);
  const listHelp = await mesos(["task", "list", "--help"]);
  assert.equal(listHelp.code, 0);
  assert.match(listHelp.stdout, /--all/);

  const bad = await mesos(["agent", "list", "--bogus"]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.split("\n")[0], "mesos: unknown option '--bogus'");
  const missing = await mesos(["cat"]);
  assert.equal(missing.code, 2);

  const dir = tempDir("mesos-cli-plugins-");
  const plugin = join(dir, "mesos-hello");
  writeFileSync(plugin, '#!/bin/sh\necho "plugin got: $* (master $MESOS_MASTER)"\nexit 3\n');
  chmodSync(plugin, 0o755);
  const env = { PATH: `${dir}:${process.env.PATH ?? ""}` };
  const ran = await mesos(["--master", "10.1.1.1:5050", "hello", "a", "--b"], env);
  assert.equal(ran.code, 3);
  assert.equal(ran.stdout, "plugin got: a --b (master 10.1.1.1:5050)\n");
  const listed = await mesos(["--help"], env);
  assert.match(
    listed.stdout,
    /Plugins \(mesos-<name> in the config.s plugins directories or on PATH\): .*\bhello\b/,
  );
  const unknown = await mesos(["no-such-command"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^mesos: 'no-such-command' is not a mesos command/);

  const completion = await mesos(["completion", "bash"]);
  assert.equal(completion.code, 0);
  assert.match(completion.stdout, /complete -F _mesos mesos/);
});

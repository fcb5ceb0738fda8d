/**
 * Logging and sandbox behaviours checked against Mesos' docs and source on
 * real daemons: a `--log_dir` that cannot be created stops the daemon with
 * Mesos' line; `/master/log` and `/slave/log` serve the file of the
 * `--logging_level` severity; the starting `GLOG_v` is the floor of
 * `/logging/toggle`; a sandbox removed by garbage collection leaves
 * `/files/debug` too.
 */
import assert from "node:assert/strict";
import {
  existsSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, join } from "node:path";
import { after, test } from "node:test";
import {
  type DaemonHandle,
  getJson,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
  waitForAgents,
  waitLong,
} from "../harness/processes.js";

after(stopAll);

async function filesDebug(daemon: DaemonHandle): Promise<Record<string, string>> {
  return (await getJson<Record<string, string>>(`${daemon.url}/files/debug`)) ?? {};
}

async function text(url: string, init?: RequestInit): Promise<[number, string]> {
  const res = await fetch(url, init);
  return [res.status, await res.text()];
}

/**
 * Runs a command task named `name` that waits for a `go` file in its
 * sandbox: the sandbox is seen attached while the task runs (garbage
 * collection cannot have taken it yet), then `finish` lets it end.
 */
async function runHeldTask(
  master: DaemonHandle,
  agent: DaemonHandle,
  name: string,
): Promise<{ virtualPath: string; runDir: string; finish: () => Promise<void> }> {
  const run = runBinary(
    "mesos-execute",
    [
      `--master=${master.address}`,
      `--name=${name}`,
      "--command=while [ ! -e go ]; do sleep 0.1; done",
    ],
    { timeoutMs: 90_000 },
  );
  const virtualPath = await waitLong("the running task's sandbox attached", async () =>
    Object.keys(await filesDebug(agent)).find((k) => k.endsWith(`/executors/${name}/runs/latest`)),
  );
  const runDir = (await filesDebug(agent))[virtualPath] as string;
  return {
    virtualPath,
    runDir,
    finish: async () => {
      writeFileSync(join(runDir, "go"), "");
      const done = await run;
      assert.equal(done.code, 0, done.stdout + done.stderr);
    },
  };
}

test("logging: a --log_dir that cannot be created stops the master and the agent with Mesos' line", async () => {
  const dir = tempDir("log-dir-file-");
  const file = join(dir, "not-a-dir");
  writeFileSync(file, "");
  const logDir = join(file, "logs");
  const master = await runBinary(
    "mesos-master",
    [
      "--ip=127.0.0.1",
      "--port=0",
      `--work_dir=${dir}`,
      "--registry=in_memory",
      `--log_dir=${logDir}`,
    ],
    { timeoutMs: 30_000 },
  );
  assert.equal(master.code, 1, master.stdout + master.stderr);
  assert.equal(
    master.stderr,
    `Could not initialize logging: Failed to create directory ${logDir}: Not a directory\n`,
  );
  const agent = await runBinary(
    "mesos-agent",
    [
      "--ip=127.0.0.1",
      "--port=0",
      "--master=127.0.0.1:1",
      `--work_dir=${join(dir, "agent")}`,
      `--log_dir=${logDir}`,
    ],
    { timeoutMs: 30_000 },
  );
  assert.equal(agent.code, 1, agent.stdout + agent.stderr);
  assert.match(
    agent.stderr,
    /^Could not initialize logging: Failed to create directory .*: Not a directory\n$/,
  );
});

test("logging: with --logging_level=WARNING, /master/log and /slave/log serve the WARNING files", async () => {
  const masterLogs = join(tempDir("master-logs-"), "nested", "dir");
  const agentLogs = tempDir("agent-logs-");
  const master = await startMaster({ flags: { log_dir: masterLogs, logging_level: "WARNING" } });
  const agent = await startAgent({
    master: master.address,
    flags: { log_dir: agentLogs, logging_level: "WARNING" },
  });
  for (const [daemon, virtualPath, dir, program] of [
    [master, "/master/log", masterLogs, "mesos-master"],
    [agent, "/slave/log", agentLogs, "mesos-agent"],
  ] as const) {
    const real = await waitFor(
      `${virtualPath} attached`,
      async () => (await filesDebug(daemon))[virtualPath],
    );
    // glog's name for the WARNING file, behind the <program>.WARNING link.
    assert.match(
      basename(real),
      new RegExp(`^${program}\\.[^.]+\\..+\\.log\\.WARNING\\.\\d{8}-\\d{6}\\.\\d+$`),
    );
    assert.equal(readlinkSync(join(dir, `${program}.WARNING`)), basename(real));
    const [status, body] = await text(
      `${daemon.url}/files/read?path=${encodeURIComponent(virtualPath)}&offset=0`,
    );
    assert.equal(status, 200, body);
    const data = (JSON.parse(body) as { data: string }).data;
    assert.match(data, /^Log file created at: /);
    assert.match(
      data,
      /\nW\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ [^ ]+:\d+\] WARNING level logging started!\n/,
    );
    assert.doesNotMatch(data, /\nI\d{4} /, "no INFO line below --logging_level");
  }
});

test("logging: the GLOG_v a daemon starts with is the floor of /logging/toggle and GET_LOGGING_LEVEL", async () => {
  const master = await startMaster({ env: { GLOG_v: "2" } });
  assert.deepEqual(await text(`${master.url}/logging/toggle`), [200, "2\n"]);
  assert.deepEqual(await text(`${master.url}/logging/toggle?level=1&duration=1mins`), [
    400,
    "'1' < original level.\n",
  ]);
  assert.deepEqual(await text(`${master.url}/logging/toggle?level=3&duration=1mins`), [200, ""]);
  const [status, body] = await text(`${master.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ type: "GET_LOGGING_LEVEL" }),
  });
  assert.equal(status, 200, body);
  assert.deepEqual(JSON.parse(body), {
    type: "GET_LOGGING_LEVEL",
    get_logging_level: { level: 3 },
  });
});

test("agent gc: a sandbox removed by garbage collection leaves /files/debug, as Mesos detaches it", async () => {
  const master = await startMaster();
  const agent = await startAgent({
    master: master.address,
    flags: { gc_delay: "2secs", disk_watch_interval: "1secs" },
  });
  await waitForAgents(master, 1);
  const { virtualPath, runDir, finish } = await runHeldTask(master, agent, "gc-detach");
  await finish();
  const debug = await waitFor(
    "the removed sandbox gone from /files/debug",
    async () => {
      if (existsSync(runDir)) return undefined;
      const now = await filesDebug(agent);
      return Object.values(now).some((real) => real.startsWith(runDir)) ? undefined : now;
    },
    { timeoutMs: 45_000 },
  );
  assert.equal(debug[virtualPath], undefined);
  assert.deepEqual(
    Object.keys(debug).filter((k) => k.includes("gc-detach")),
    [],
    "no virtual path of the removed run is left",
  );
  const [status] = await text(`${agent.url}/files/browse?path=${encodeURIComponent(virtualPath)}`);
  assert.equal(status, 404);
});

test("files: repeated slashes in a path count as one, as Mesos joins the path's components", async () => {
  const master = await startMaster();
  const agent = await startAgent({
    master: master.address,
    flags: { log_dir: tempDir("agent-logs-") },
  });
  await waitForAgents(master, 1);
  const run = await runBinary(
    "mesos-execute",
    [`--master=${master.address}`, "--name=slashes", "--command=mkdir d && echo deep > d/f"],
    { timeoutMs: 60_000 },
  );
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const latest = await waitFor("the sandbox attached", async () =>
    Object.keys(await filesDebug(agent)).find((k) => k.endsWith("/executors/slashes/runs/latest")),
  );
  const doubled = latest.replace("/executors/", "//executors//");
  const [status, body] = await text(
    `${agent.url}/files/read?path=${encodeURIComponent(`/${doubled}//d//f`)}&offset=0`,
  );
  assert.deepEqual([status, JSON.parse(body)], [200, { offset: 0, data: "deep\n" }]);
  await waitFor("/slave/log attached", async () => (await filesDebug(agent))["/slave/log"]);
  const [logStatus, logBody] = await text(
    `${agent.url}/files/read?path=${encodeURIComponent("//slave//log")}`,
  );
  assert.equal(logStatus, 200, logBody);
  assert.ok((JSON.parse(logBody) as { offset: number }).offset > 0);
  // A path without its leading slash names nothing, as in Mesos.
  const [relative] = await text(`${agent.url}/files/read?path=slave/log`);
  assert.equal(relative, 404);
});

test("agent gc: the disk watch prunes finished sandboxes long before --gc_delay when --gc_disk_headroom leaves no age", async () => {
  const master = await startMaster();
  // Headroom 1.0: gc_delay x max(0, 1 - 1 - usage) is 0 whatever the disk holds.
  const agent = await startAgent({
    master: master.address,
    flags: { gc_delay: "1weeks", gc_disk_headroom: "1", disk_watch_interval: "1secs" },
  });
  await waitForAgents(master, 1);
  const { virtualPath, runDir, finish } = await runHeldTask(master, agent, "prune-me");
  await finish();
  await waitLong("the sandbox pruned and detached", async () => {
    if (existsSync(runDir)) return undefined;
    return (await filesDebug(agent))[virtualPath] === undefined;
  });
  assert.match(agent.logs(), /Current disk usage \d+\.\d\d%\. Max allowed age: 0ns/);
  assert.match(agent.logs(), /Scheduling '.*\/runs\/[^']+' for gc 1weeks in the future/);
});

test("logging: a negative --logbufsecs is accepted, as Mesos' int flag, and buffers nothing", async () => {
  const logDir = tempDir("master-logs-");
  const master = await startMaster({ flags: { log_dir: logDir, logbufsecs: -1 } });
  const flags = await getJson<{ flags: Record<string, string> }>(`${master.url}/flags`);
  assert.equal(flags?.flags.logbufsecs, "-1");
  const real = await waitFor(
    "/master/log attached",
    async () => (await filesDebug(master))["/master/log"],
  );
  assert.equal(real, join(logDir, readlinkSync(join(logDir, "mesos-master.INFO"))));
  const [status, body] = await text(`${master.url}/files/read?path=/master/log&offset=0`);
  assert.equal(status, 200, body);
  assert.match((JSON.parse(body) as { data: string }).data, /INFO level logging started!\n/);
});

test("logging: as glog, a log file past GLOG_max_log_size MiB is left for a new one and the link follows", async () => {
  const logDir = tempDir("master-logs-");
  const master = await startMaster({ flags: { log_dir: logDir }, env: { GLOG_max_log_size: "1" } });
  const infoFiles = () =>
    readdirSync(logDir)
      .filter((n) => n.startsWith("mesos-master.") && n.includes(".log.INFO."))
      .sort();
  const first = infoFiles();
  assert.equal(first.length, 1);
  // A framework's name is logged with its subscription: long names fill the file fast.
  const subscribe = async (): Promise<void> => {
    const res = await fetch(`${master.url}/api/v1/scheduler`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({
        type: "SUBSCRIBE",
        subscribe: { framework_info: { user: "root", name: "n".repeat(100_000) } },
      }),
    });
    await res.body?.cancel();
  };
  const files = await waitFor("a second INFO file", async () => {
    await subscribe();
    const now = infoFiles();
    return now.length >= 2 ? now : undefined;
  });
  assert.equal(files[0], first[0]);
  const newest = files[files.length - 1] as string;
  assert.equal(readlinkSync(join(logDir, "mesos-master.INFO")), newest);
  assert.ok(statSync(join(logDir, first[0] as string)).size >= 2 ** 20);
  assert.match(readFileSync(join(logDir, newest), "utf8"), /^Log file created at: /);
});

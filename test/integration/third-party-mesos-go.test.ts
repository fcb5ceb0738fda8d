/**
 * Wire compatibility with a third-party Go client: mesos-go 0.0.6 (Debian's
 * golang-github-mesos-mesos-go-dev), its v1 HTTP scheduler, executor and
 * operator clients. The Go programs in test/third-party/mesos-go/ use only
 * the library's own callers, call builders, codecs and generated types, so a
 * status code, header, media type, RecordIO frame, protobuf field number or
 * enum value that differs from Mesos shows up as a library error there.
 *
 * Needs `go` and the mesos-go sources (CI installs golang-go and
 * golang-github-mesos-mesos-go-dev); without them the tests fail and say so.
 * The binaries are built once per source hash into the temp dir.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { type OneAgentCluster, startOneAgentCluster } from "../harness/cluster.js";
import { leaderOf } from "../harness/leader.js";
import { carrying, killEach } from "../harness/proc-scan.js";
import {
  type DaemonHandle,
  environmentWithoutProxies,
  repoRoot,
  startAgent,
  startMaster,
  stopAll,
  waitFor,
  waitLong,
} from "../harness/processes.js";
import { sharedZooKeeper, zookeeperSkip } from "../harness/zookeeper.js";

const GOPATH = "/usr/share/gocode";
const MESOS_GO = join(GOPATH, "src", "github.com", "mesos", "mesos-go", "api", "v1", "lib");
const SOURCES = join(repoRoot, "test", "third-party", "mesos-go");
const PROGRAMS = ["scheduler", "executor", "operator"] as const;
type Program = (typeof PROGRAMS)[number];

/** `go` on PATH, or Debian's install location. */
function findGo(): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/lib/go/bin"];
  return dirs.map((d) => join(d, "go")).find((p) => p !== "go" && existsSync(p));
}

/** Builds the Go programs (or reuses a build of the same sources); their paths. */
async function buildPrograms(): Promise<Record<Program, string>> {
  const go = findGo();
  if (go === undefined || !existsSync(MESOS_GO)) {
    throw new Error(
      "the mesos-go compatibility tests need Go and the mesos-go sources: apt-get install golang-go golang-github-mesos-mesos-go-dev",
    );
  }
  // Keyed by our sources, the go binary and the installed library.
  const hash = createHash("sha256");
  hash.update(`${go} ${statSync(go).mtimeMs} ${statSync(join(MESOS_GO, "mesos.pb.go")).mtimeMs}`);
  for (const p of PROGRAMS) hash.update(readFileSync(join(SOURCES, p, "main.go")));
  const outDir = join(tmpdir(), `mesos-ts-mesos-go-${hash.digest("hex").slice(0, 16)}`);
  mkdirSync(outDir, { recursive: true });
  const env = {
    ...environmentWithoutProxies(),
    // GOPATH mode: every dependency is a Debian golang-*-dev package under
    // /usr/share/gocode; nothing is downloaded.
    GO111MODULE: "off",
    GOPATH,
    GOFLAGS: "",
    GOPROXY: "off",
    GOCACHE: join(tmpdir(), "mesos-ts-mesos-go-gocache"),
  };
  const paths = Object.fromEntries(PROGRAMS.map((p) => [p, join(outDir, p)])) as Record<
    Program,
    string
  >;
  if (PROGRAMS.every((p) => existsSync(paths[p]))) return paths;
  // One `go build` for all three: the library is compiled once.
  const partial = mkdtempSync(join(outDir, "build-"));
  await promisify(execFile)(go, ["build", "-o", `${partial}/`, ...PROGRAMS.map((p) => `./${p}`)], {
    cwd: SOURCES,
    env,
    timeout: 300_000,
  }).catch((error: { stderr?: string; message: string }) => {
    throw new Error(
      `go build of test/third-party/mesos-go failed: ${error.stderr ?? error.message}`,
    );
  });
  // Rename: a run side by side never sees a half-written binary.
  for (const p of PROGRAMS) renameSync(join(partial, p), paths[p]);
  rmSync(partial, { recursive: true, force: true });
  return paths;
}

interface GoRun {
  code: number | null;
  stdout: string;
  lines: string[];
}

/** A started program: its output so far, and its end (SIGKILL after 180 s). */
function startGo(path: string, args: string[]): { output(): string; done: Promise<GoRun> } {
  let stdout = "";
  const done = new Promise<GoRun>((resolve, reject) => {
    const child = spawn(path, args, {
      env: environmentWithoutProxies(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, lines: stdout.split("\n").filter((l) => l !== "") });
    });
  });
  return { output: () => stdout, done };
}

/** Runs a built program to its end. */
function runGo(path: string, args: string[]): Promise<GoRun> {
  return startGo(path, args).done;
}

let cluster: OneAgentCluster;
let programs: Record<Program, string>;
const zk = sharedZooKeeper();
/** In the environment of the runs' long tasks and Go executors: after() ends any left behind. */
const MARKER = `MESOS_GO_TEST_MARKER=mesos-go-${process.pid}`;

before(async () => {
  // Settle both before failing: a cluster still starting when after() runs
  // would outlive it and keep the test process alive.
  const [built, started] = await Promise.allSettled([
    buildPrograms(),
    startOneAgentCluster({}, { masterFlags: { allocation_interval: "100ms" } }),
  ]);
  if (built.status === "rejected") throw built.reason;
  if (started.status === "rejected") throw started.reason;
  programs = built.value;
  cluster = started.value;
});

after(async () => {
  killEach(carrying(MARKER));
  await stopAll();
  await zk.stop();
});

function assertOk(run: GoRun, what: string): void {
  assert.equal(run.code, 0, `${what} exited with ${run.code}:\n${run.stdout}`);
  assert.equal(run.lines.at(-1), "OK", run.stdout);
}

/** The executor's sandbox stdout once it has exited (it does on SHUTDOWN). */
async function executorOutput(agent: DaemonHandle, frameworkId: string): Promise<string> {
  const slaves = join(agent.workDir, "slaves");
  return waitLong("the Go executor to exit", () => {
    for (const agentId of readdirSync(slaves)) {
      const file = join(
        slaves,
        agentId,
        "frameworks",
        frameworkId,
        "executors",
        "go-executor",
        "runs",
        "latest",
        "stdout",
      );
      const text = existsSync(file) ? readFileSync(file, "utf8") : "";
      if (/^(EXECUTOR EXIT|FAIL: .*)$/m.test(text)) return text;
    }
    return undefined;
  });
}

/**
 * The scheduler's whole life cycle against `master` (default: the
 * cluster's), with a task on the Go executor; returns the run and the
 * framework id. `failover`: it leaves its first subscription and subscribes
 * again with its framework id before anything else.
 */
async function scheduleWith(
  codec: "protobuf" | "json",
  options: { master?: DaemonHandle; agent?: DaemonHandle; failover?: boolean } = {},
): Promise<{ run: GoRun; frameworkId: string }> {
  const { master = cluster.master, agent = cluster.agent, failover = false } = options;
  const run = await runGo(programs.scheduler, [
    `-master=${master.url}`,
    `-codec=${codec}`,
    `-executor=${programs.executor}`,
    `-marker=${MARKER.split("=")[1]}`,
    `-failover=${failover}`,
  ]);
  if (run.code !== 0) {
    // The executor's side usually says why its task failed.
    const id = /framework_id=(\S+)/.exec(run.stdout)?.[1];
    const text = id === undefined ? "" : await executorOutput(agent, id).catch(() => "");
    assert.fail(
      `the mesos-go scheduler (${codec}) exited with ${run.code}:\n${run.stdout}\n--- Go executor ---\n${text}`,
    );
  }
  assertOk(run, `the mesos-go scheduler (${codec})`);
  const has = (line: string) =>
    assert.ok(run.lines.includes(line), `missing "${line}" in:\n${run.stdout}`);
  const subscribed = run.lines.find((l) => l.startsWith("EVENT SUBSCRIBED "));
  const frameworkId = /framework_id=(\S+)/.exec(subscribed ?? "")?.[1];
  assert.ok(frameworkId, run.stdout);
  assert.match(subscribed ?? "", /heartbeat_interval_seconds=15$/);
  if (failover) {
    has("SUBSCRIPTION LEFT to fail over");
    assert.deepEqual(
      run.lines.filter((l) => l.startsWith("EVENT SUBSCRIBED ")),
      [subscribed, subscribed],
      run.stdout,
    );
  }
  has("EVENT HEARTBEAT");
  has("CALL DECLINE accepted");
  has("CALL ACCEPT(LAUNCH hi, sleeper, custom) accepted");
  // The command executor's updates carry a uuid (acknowledged by the
  // library's AckStatusUpdates) and no reason.
  has("EVENT UPDATE task=hi state=TASK_RUNNING source=SOURCE_EXECUTOR reason=none uuid=true");
  has("EVENT UPDATE task=hi state=TASK_FINISHED source=SOURCE_EXECUTOR reason=none uuid=true");
  has("EVENT UPDATE task=sleeper state=TASK_RUNNING source=SOURCE_EXECUTOR reason=none uuid=true");
  // Reconciliation answers come from the master, without a uuid.
  has(
    "EVENT UPDATE task=sleeper state=TASK_RUNNING source=SOURCE_MASTER reason=REASON_RECONCILIATION uuid=false",
  );
  has(
    "EVENT UPDATE task=hi state=TASK_GONE source=SOURCE_MASTER reason=REASON_RECONCILIATION uuid=false",
  );
  has(
    "EVENT UPDATE task=no-such-task state=TASK_UNKNOWN source=SOURCE_MASTER reason=REASON_RECONCILIATION uuid=false",
  );
  has(
    "EVENT UPDATE task=custom state=TASK_RUNNING source=SOURCE_MASTER reason=REASON_RECONCILIATION uuid=false",
  );
  // The executor's answer to MESSAGE, relayed by the agent and the master.
  has('EVENT MESSAGE agent=true executor=go-executor data="pong:ping"');
  has("EVENT UPDATE task=sleeper state=TASK_KILLED source=SOURCE_EXECUTOR reason=none uuid=true");
  has("EVENT UPDATE task=custom state=TASK_KILLED source=SOURCE_EXECUTOR reason=none uuid=true");
  has("CALL TEARDOWN accepted");
  assert.ok(
    run.lines.some((l) => l.startsWith("STREAM CLOSED after TEARDOWN")),
    run.stdout,
  );

  // The Go executor saw the agent's side of the same story and left on SHUTDOWN.
  const executor = await executorOutput(agent, frameworkId);
  assert.deepEqual(
    executor.split("\n").filter((l) => l !== ""),
    [
      // 5secs: the agent's default --executor_shutdown_grace_period.
      "EXECUTOR CONFIG executor_id=go-executor grace_period=5s checkpoint=false",
      'EXECUTOR EVENT SUBSCRIBED executor_id=go-executor framework_name="mesos-go compatibility scheduler" container_id=true',
      "EXECUTOR EVENT LAUNCH task=custom",
      "EXECUTOR CALL UPDATE(custom TASK_RUNNING) accepted",
      "EXECUTOR EVENT ACKNOWLEDGED task=custom",
      'EXECUTOR EVENT MESSAGE data="ping"',
      // A nested container session ("cat", its stdin fed by a streaming
      // ATTACH_CONTAINER_INPUT request) through the agent's operator API:
      // the library asks for the session's stream with two Accept headers
      // (see test/unit/http-server-repeated-headers.test.ts).
      'EXECUTOR NESTED SESSION stdout="nested-hello\\n"',
      // Wait statuses, as Mesos reports them: exit 3, then killed by SIGKILL.
      "EXECUTOR NESTED CONTAINERS exit_status=768 killed_status=9 removed",
      "EXECUTOR CALL MESSAGE accepted",
      "EXECUTOR EVENT KILL task=custom",
      "EXECUTOR CALL UPDATE(custom TASK_KILLED) accepted",
      "EXECUTOR EVENT ACKNOWLEDGED task=custom",
      "EXECUTOR EVENT SHUTDOWN unacknowledged=0",
      "EXECUTOR EXIT",
    ],
    executor,
  );
  return { run, frameworkId };
}

async function askOperator(codec: "protobuf" | "json", frameworkId: string): Promise<GoRun> {
  const run = await runGo(programs.operator, [
    `-master=${cluster.master.url}`,
    `-agent=${cluster.agent.url}`,
    `-codec=${codec}`,
    `-framework=${frameworkId}`,
  ]);
  assertOk(run, `the mesos-go operator client (${codec})`);
  for (const line of [
    "MASTER GET_HEALTH healthy=true",
    "MASTER GET_VERSION version=1.12.0",
    `MASTER GET_MASTER id=true port=${cluster.master.port}`,
    `FRAMEWORK ${frameworkId} completed name="mesos-go compatibility scheduler"`,
    "TASK completed hi TASK_FINISHED",
    "TASK completed sleeper TASK_KILLED",
    "TASK completed custom TASK_KILLED",
    "AGENT GET_HEALTH healthy=true",
    "AGENT GET_AGENT id=true",
    "AGENT SET_LOGGING_LEVEL ok",
    // The Go executor's sandbox, by the agent's virtual path (containers/:
    // its nested container's sandbox).
    "AGENT LIST_FILES sandbox=containers,stderr,stdout",
    "MASTER SET_LOGGING_LEVEL then GET_LOGGING_LEVEL level=1",
    "MASTER GET_WEIGHTS role=go-role weight=2.5",
    "MASTER GET_QUOTA infos=0",
    "MASTER GET_MAINTENANCE_SCHEDULE windows=0",
    "MASTER RESERVE_RESOURCES accepted",
    "MASTER UNRESERVE_RESOURCES accepted",
  ]) {
    assert.ok(run.lines.includes(line), `missing "${line}" in:\n${run.stdout}`);
  }
  assert.match(run.stdout, /^MASTER GET_FLAGS count=\d+ work_dir=true$/m);
  assert.match(run.stdout, /^AGENT GET_FLAGS count=\d+ work_dir=true$/m);
  assert.match(run.stdout, /^AGENT READ_FILE stdout size=(\d+) read=\1 executor_exit=true$/m);
  // An empty file still has its (required) data field.
  assert.match(run.stdout, /^AGENT READ_FILE stderr size=(\d+) read=\1 /m);
  return run;
}

test("a mesos-go scheduler (protobuf) subscribes, fails over, launches, acknowledges, reconciles, messages, kills and tears down", async () => {
  // The master's operator event stream, followed while the scheduler runs.
  const watch = startGo(programs.operator, [
    `-master=${cluster.master.url}`,
    "-watch=mesos-go compatibility scheduler",
  ]);
  await waitFor("the event watcher to subscribe", () =>
    watch.output().includes("WATCH SUBSCRIBED\n"),
  );
  const { run: scheduler, frameworkId } = await scheduleWith("protobuf", { failover: true });
  const events = await watch.done;
  assertOk(events, "the mesos-go event watcher");
  for (const line of [
    'WATCH FRAMEWORK_ADDED name="mesos-go compatibility scheduler"',
    // Its second SUBSCRIBE.
    'WATCH FRAMEWORK_UPDATED name="mesos-go compatibility scheduler"',
    "WATCH TASK_ADDED task=hi state=TASK_STAGING",
    "WATCH TASK_ADDED task=custom state=TASK_STAGING",
    "WATCH TASK_UPDATED task=hi state=TASK_FINISHED status=TASK_FINISHED",
    "WATCH TASK_UPDATED task=custom state=TASK_RUNNING status=TASK_RUNNING",
    "WATCH TASK_UPDATED task=custom state=TASK_KILLED status=TASK_KILLED",
    'WATCH FRAMEWORK_REMOVED name="mesos-go compatibility scheduler"',
  ]) {
    assert.ok(events.lines.includes(line), `missing "${line}" in:\n${events.stdout}`);
  }
  assert.ok(scheduler.lines.includes(`ENDPOINT ${cluster.master.url}/api/v1/scheduler`));
  const run = await askOperator("protobuf", frameworkId);
  // The protobuf decoder keeps enum numbers it does not know, so every call decodes.
  for (const line of [
    "MASTER GET_AGENTS agents=1 active=1",
    "MASTER SUBSCRIBE first_event=SUBSCRIBED agents=1",
    "MASTER GET_AGENTS reserved cpus=0.5 role=go-role type=DYNAMIC",
  ]) {
    assert.ok(run.lines.includes(line), `missing "${line}" in:\n${run.stdout}`);
  }
  assert.match(run.stdout, /^MASTER GET_STATE agents=1 frameworks=\d+ completed_frameworks=\d+/m);
  assert.match(run.stdout, /^AGENT GET_STATE /m);
});

test("a mesos-go scheduler with the JSON codec runs the same life cycle", async () => {
  const { frameworkId } = await scheduleWith("json", { failover: true });
  const run = await askOperator("json", frameworkId);
  // mesos-go 0.0.6's JSON decoder knows only Mesos 1.5's agent capability
  // names; the program checks that this is the only way GET_AGENTS,
  // GET_STATE and SUBSCRIBE fail.
  for (const line of run.lines.filter((l) => l.startsWith("SKEW "))) {
    assert.match(line, /unrecognized enum AgentInfo_Capability_Type value/);
  }
  assert.match(run.stdout, /^AGENT GET_STATE /m);
});

test("a mesos-go scheduler sent to a standby master follows its 307 to the leader", {
  skip: zookeeperSkip,
}, async () => {
  const url = (await zk.get()).url("/mesos-go");
  const flags = { zk: url, quorum: 1, allocation_interval: "100ms" };
  const masters = [await startMaster({ flags }), await startMaster({ flags })];
  const leader = await leaderOf(masters);
  const standby = masters.find((m) => m !== leader) ?? leader;
  const agent = await startAgent({ master: url });
  const { run } = await scheduleWith("protobuf", { master: standby, agent });
  // The library keeps the Location's host:port and its own path: every call
  // after the redirect goes to the leader.
  const endpoint = run.lines.find((l) => l.startsWith("ENDPOINT "));
  assert.match(
    endpoint ?? "",
    new RegExp(`^ENDPOINT http://[^/]+:${leader.port}/api/v1/scheduler$`),
  );
});

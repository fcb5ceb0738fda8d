/**
 * The `mesos` CLI against a loopback server that answers like a Mesos
 * master and agent sharing one port (as mesos-local does): the shapes of
 * /master/state, /master/tasks, /slave(1)/state, /files/*,
 * /monitor/statistics and the operator SUBSCRIBE stream follow the Mesos
 * documentation. This pins the CLI to the contracts independently of how
 * far our own master and agent have got.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { main } from "../../src/cli/mesos.js";
import { encodeRecord } from "../../src/common/recordio/index.js";
import { systemClock } from "../../src/common/time/clock.js";

const MASTER_ID = "9ef52a70-1b2c-4d3e-8f90-0123456789ab";
const FW = `${MASTER_ID}-0000`;
const AGENT = `${MASTER_ID}-S0`;

const root = mkdtempSync(join(tmpdir(), "mesos-cli-contract-"));
const sandbox = join(root, "slaves", AGENT, "frameworks", FW, "executors", "hello", "runs", "r1");
const bigLine = `${"x".repeat(99)}\n`;

/** What the fake answers; tests flip these. */
const behaviour = {
  statistics: true,
  masterStatus: 200,
  taskCount: 0,
  hang: false,
};

/** The agent API calls the fake agent received. */
const agentCalls: Array<Record<string, unknown>> = [];

function agentApi(req: IncomingMessage, res: ServerResponse): void {
  let body = "";
  req.setEncoding("utf8").on("data", (d: string) => {
    body += d;
  });
  req.on("end", () => {
    const call = JSON.parse(body) as Record<string, unknown>;
    agentCalls.push(call);
    if (
      call.type === "LAUNCH_NESTED_CONTAINER_SESSION" ||
      call.type === "ATTACH_CONTAINER_OUTPUT"
    ) {
      res.writeHead(200, { "Content-Type": "application/recordio" });
      const out = (type: string, text: string) =>
        encodeRecord(
          Buffer.from(
            JSON.stringify({
              type: "DATA",
              data: { type, data: Buffer.from(text).toString("base64") },
            }),
          ),
        );
      res.end(Buffer.concat([out("STDOUT", "hi\n"), out("STDERR", "oops\n")]));
      return;
    }
    if (call.type === "WAIT_CONTAINER") {
      json(res, { type: "WAIT_CONTAINER", wait_container: { exit_status: 3 << 8 } });
      return;
    }
    res.writeHead(400).end();
  });
}

let server: Server;
let address = "";

function json(res: ServerResponse, value: unknown, status = 200): void {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(value));
}

function taskJson(id: string, state: string) {
  return {
    id,
    name: id,
    framework_id: FW,
    executor_id: "",
    slave_id: AGENT,
    state,
    resources: { cpus: 0.5, mem: 64, disk: 0, gpus: 0 },
    statuses: [
      { state, timestamp: 1_700_000_000, container_status: { container_id: { value: `c-${id}` } } },
    ],
  };
}

function masterState() {
  return {
    version: "1.12.0",
    id: MASTER_ID,
    pid: `master@${address}`,
    leader: `master@${address}`,
    leader_info: { id: MASTER_ID, pid: `master@${address}`, port: 0, hostname: "localhost" },
    hostname: "localhost",
    slaves: [
      {
        id: AGENT,
        pid: `slave(1)@${address}`,
        hostname: "node-1",
        port: 0,
        active: true,
        resources: { cpus: 4, mem: 2048, disk: 4096, gpus: 0 },
        used_resources: { cpus: 0.5, mem: 64, disk: 0, gpus: 0 },
      },
    ],
    frameworks: [
      {
        id: FW,
        name: "mesos-execute instance",
        user: "op",
        hostname: "client-1",
        active: true,
        connected: true,
        role: "*",
        used_resources: { cpus: 0.5, mem: 64 },
        tasks: [taskJson("sleeper", "TASK_RUNNING")],
        completed_tasks: [taskJson("hello", "TASK_FINISHED")],
        unreachable_tasks: [],
      },
    ],
    completed_frameworks: [],
  };
}

function agentState() {
  return {
    id: AGENT,
    frameworks: [
      {
        id: FW,
        executors: [{ id: "sleeper", directory: join(root, "sleeper-sandbox") }],
        completed_executors: [{ id: "hello", directory: sandbox }],
      },
    ],
    completed_frameworks: [],
  };
}

function modeString(path: string): string {
  return statSync(path).isDirectory() ? "drwxr-xr-x" : "-rw-r--r--";
}

function fileInfo(path: string) {
  const st = statSync(path);
  return {
    path,
    nlink: st.nlink,
    size: st.size,
    mtime: Math.floor(st.mtimeMs / 1000),
    mode: modeString(path),
    uid: "op",
    gid: "op",
  };
}

function handleFiles(url: URL, res: ServerResponse): void {
  const path = url.searchParams.get("path") ?? "";
  if (!path.startsWith(root) || path.includes("..")) {
    res.writeHead(403).end();
    return;
  }
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    res.writeHead(404).end("No such file or directory.\n");
    return;
  }
  if (url.pathname === "/files/browse") {
    const entries = isDir
      ? readdirSync(path).map((n) => fileInfo(join(path, n)))
      : [fileInfo(path)];
    json(res, entries);
    return;
  }
  const data = readFileSync(path);
  const offset = Number(url.searchParams.get("offset") ?? "0");
  if (offset === -1) {
    json(res, { offset: data.length, data: "" });
    return;
  }
  const length = Number(url.searchParams.get("length") ?? String(data.length));
  // Mesos caps one read; a small cap makes the CLI page.
  const chunk = data.subarray(offset, offset + Math.min(length, 16 * 1024));
  json(res, { offset, data: chunk.toString("utf8") });
}

function subscribe(res: ServerResponse): void {
  res.writeHead(200, { "Content-Type": "application/json" });
  const events = [
    {
      type: "SUBSCRIBED",
      subscribed: { get_state: { get_agents: { agents: [] } }, heartbeat_interval_seconds: 15 },
    },
    { type: "HEARTBEAT" },
    {
      type: "TASK_ADDED",
      task_added: {
        task: {
          name: "hello",
          task_id: { value: "hello" },
          framework_id: { value: FW },
          agent_id: { value: AGENT },
          state: "TASK_STAGING",
        },
      },
    },
  ];
  for (const e of events) res.write(encodeRecord(Buffer.from(JSON.stringify(e))));
  // The stream stays open, as a real one does.
}

function route(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? "/", "http://x");
  if (behaviour.hang) return;
  if (url.pathname.startsWith("/master/") && behaviour.masterStatus !== 200) {
    res.writeHead(behaviour.masterStatus).end("Master has not finished recovery\n");
    return;
  }
  switch (url.pathname) {
    case "/master/state":
      json(res, masterState());
      return;
    case "/master/tasks": {
      const all = Array.from({ length: behaviour.taskCount }, (_, i) =>
        taskJson(`t${i}`, "TASK_RUNNING"),
      );
      const offset = Number(url.searchParams.get("offset") ?? "0");
      const limit = Number(url.searchParams.get("limit") ?? "100");
      json(res, { tasks: all.slice(offset, offset + limit) });
      return;
    }
    case "/slave(1)/api/v1":
      agentApi(req, res);
      return;
    case "/slave(1)/state":
      json(res, agentState());
      return;
    case "/slave(1)/monitor/statistics":
      if (!behaviour.statistics) break;
      json(res, [
        {
          framework_id: FW,
          executor_id: "sleeper",
          executor_name: "Command Executor",
          source: "sleeper",
          statistics: {
            timestamp: 1_700_000_000,
            cpus_limit: 0.6,
            cpus_user_time_secs: 1.25,
            cpus_system_time_secs: 0.25,
            mem_rss_bytes: 10 * 1024 * 1024,
            mem_limit_bytes: 96 * 1024 * 1024,
          },
        },
      ]);
      return;
    case "/files/browse":
    case "/files/read":
      handleFiles(url, res);
      return;
    case "/api/v1":
      if (req.method === "POST") {
        subscribe(res);
        return;
      }
      break;
    default:
      break;
  }
  res.writeHead(404).end();
}

before(async () => {
  mkdirSync(join(sandbox, "logs"), { recursive: true });
  writeFileSync(join(sandbox, "stdout"), `${bigLine.repeat(1000)}line-a\nline-b\nline-c\n`);
  writeFileSync(join(sandbox, "stderr"), "warning: something\n");
  writeFileSync(join(sandbox, "logs", "app.log"), "started\n");
  server = createServer(route);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
  rmSync(root, { recursive: true, force: true });
});

async function mesos(...argv: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, {
    out: (t) => {
      stdout += t;
    },
    err: (t) => {
      stderr += t;
    },
    env: { MESOS_MASTER: address, PATH: "" },
    homeDir: join(root, "home"),
    clock: systemClock,
  });
  return { code, stdout, stderr };
}

describe("mesos CLI against Mesos-shaped answers", () => {
  it("cat prints a whole sandbox file across several /files/read pages", async () => {
    const r = await mesos("cat", "hel", "stdout");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, readFileSync(join(sandbox, "stdout"), "utf8"));
  });

  it("head and tail cut the file by lines", async () => {
    const head = await mesos("head", "hello", "-n", "2");
    assert.equal(head.stdout, bigLine + bigLine);
    const tail = await mesos("tail", "hello", "stdout", "-n", "2");
    assert.equal(tail.stdout, "line-b\nline-c\n");
  });

  it("-o json gives cat and tail one object with the task, path, offset and data", async () => {
    const cat = await mesos("cat", "hello", "stderr", "-o", "json");
    assert.deepEqual(JSON.parse(cat.stdout), {
      task_id: "hello",
      framework_id: FW,
      agent_id: AGENT,
      path: join(sandbox, "stderr"),
      offset: 0,
      data: "warning: something\n",
    });
    const tail = await mesos("tail", "hello", "-n", "1", "-o", "json");
    const size = statSync(join(sandbox, "stdout")).size;
    const parsed = JSON.parse(tail.stdout) as { offset: number; data: string };
    assert.deepEqual([parsed.offset, parsed.data], [size - "line-c\n".length, "line-c\n"]);
  });

  it("ls lists the sandbox, find walks it", async () => {
    const ls = await mesos("ls", "hello");
    assert.deepEqual(ls.stdout.trim().split("\n"), ["logs/", "stderr", "stdout"]);
    const find = await mesos("find", "hello");
    assert.deepEqual(find.stdout.trim().split("\n"), ["logs/", "logs/app.log", "stderr", "stdout"]);
    const long = await mesos("ls", "hello", "logs", "-l");
    assert.match(
      long.stdout,
      /^MODE +LINKS +UID +GID +SIZE +MODIFIED +NAME\n-rw-r--r-- .* 8 .* app\.log\n$/,
    );
  });

  it("a missing file and a path outside the sandbox are one-line errors", async () => {
    const missing = await mesos("cat", "hello", "nope");
    assert.equal(missing.code, 1);
    assert.equal(
      missing.stderr,
      "mesos: no such file or directory in the sandbox of task 'hello': nope\n",
    );
    const outside = await mesos("cat", "hello", "../../x");
    assert.equal(outside.code, 2);
    assert.match(outside.stderr, /^mesos: '..\/..\/x' is not inside the sandbox/);
  });

  it("ps shows CPU time and memory from /monitor/statistics", async () => {
    const r = await mesos("ps");
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.match(lines[0] ?? "", /^TASK +FRAMEWORK +USER +HOST +STATE +CPUS +TIME +MEM$/);
    assert.match(
      lines[1] ?? "",
      /^sleeper +mesos-execute instance +op +node-1 +TASK_RUNNING +0\.6 +0:00:01\.50 +10 MB\/96 MB$/,
    );
    assert.equal(lines.length, 2, "finished tasks are not listed");
  });

  it("ps says when an agent does not serve /monitor/statistics, and still lists the task", async () => {
    behaviour.statistics = false;
    try {
      const r = await mesos("ps");
      assert.equal(r.code, 0);
      assert.equal(
        r.stderr,
        `mesos: warning: the agent at ${address} does not serve /monitor/statistics yet; usage of its tasks is left blank\n`,
      );
      assert.match(r.stdout, /sleeper .* -\/64 MB/);
    } finally {
      behaviour.statistics = true;
    }
  });

  it("task list follows /master/tasks paging", async () => {
    behaviour.taskCount = 1500;
    try {
      const r = await mesos("task", "list", "-o", "json");
      assert.equal(r.code, 0, r.stderr);
      const tasks = JSON.parse(r.stdout) as Array<{ id: string }>;
      assert.equal(tasks.length, 1500);
      assert.equal(new Set(tasks.map((t) => t.id)).size, 1500);
    } finally {
      behaviour.taskCount = 0;
    }
  });

  it("events decodes the RecordIO stream and stops after --count", async () => {
    const r = await mesos("events", "-o", "json", "--count", "3");
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string });
    assert.deepEqual(
      events.map((e) => e.type),
      ["SUBSCRIBED", "HEARTBEAT", "TASK_ADDED"],
    );
    const table = await mesos("events", "--type", "TASK_ADDED", "--count", "1");
    assert.match(
      table.stdout,
      /^\d\d:\d\d:\d\d {2}TASK_ADDED {2}task=hello .*agent=9ef52a70-S0 state=TASK_STAGING\n$/,
    );
  });

  it("agent list and framework list show short ids; -o wide shows them whole", async () => {
    const agents = await mesos("agent", "list");
    assert.match(
      agents.stdout,
      /^ID +HOSTNAME +ADDRESS +ACTIVE +CPUS +MEM +DISK\n9ef52a70-S0 +node-1 /,
    );
    assert.match(agents.stdout, /0\.5\/4 +64 MB\/2 GB +0 MB\/4 GB\n$/);
    const wide = await mesos("framework", "list", "-o", "wide");
    assert.match(
      wide.stdout,
      new RegExp(`\n${FW} +mesos-execute instance +active +op +client-1 +\\* +1 `),
    );
  });

  it("state AGENT prints the agent's own /state", async () => {
    const r = await mesos("state", "9ef52a70-S0");
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { id: string }).id, AGENT);
  });

  it("task inspect prints the task's own object, found by a piece of its id", async () => {
    const r = await mesos("task", "inspect", "sleep");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), taskJson("sleeper", "TASK_RUNNING"));
    const ended = await mesos("task", "inspect", "hello");
    assert.equal((JSON.parse(ended.stdout) as { state: string }).state, "TASK_FINISHED");
  });

  it("framework inspect prints the framework without its task lists", async () => {
    const r = await mesos("framework", "inspect", FW.slice(0, 8));
    assert.equal(r.code, 0, r.stderr);
    const fw = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(fw.id, FW);
    assert.equal(fw.name, "mesos-execute instance");
    for (const key of ["tasks", "completed_tasks", "unreachable_tasks"]) {
      assert.equal(key in fw, false, key);
    }
  });

  it("inspect with an id nothing matches is a one-line error, exit 1", async () => {
    const task = await mesos("task", "inspect", "zzz");
    assert.deepEqual(
      [task.code, task.stderr, task.stdout],
      [1, "mesos: no task matches 'zzz'\n", ""],
    );
    const fw = await mesos("framework", "inspect", "zzz");
    assert.deepEqual([fw.code, fw.stderr], [1, "mesos: no framework matches 'zzz'\n"]);
  });

  it("task exec runs the command in a nested container of the task's and exits with its code", async () => {
    agentCalls.length = 0;
    const r = await mesos("task", "exec", "sleep", "--", "ls", "-l", "/");
    assert.deepEqual([r.code, r.stdout, r.stderr], [3, "hi\n", "oops\n"]);
    const [launch, wait] = agentCalls as Array<Record<string, Record<string, unknown>>>;
    const session = launch?.launch_nested_container_session as {
      container_id: { value: string; parent: { value: string } };
      command: unknown;
    };
    assert.equal(session.container_id.parent.value, "c-sleeper");
    assert.deepEqual(session.command, { value: "ls", arguments: ["ls", "-l", "/"], shell: false });
    assert.deepEqual(wait?.wait_container, { container_id: session.container_id });
    // Without `--`, options this command does not know belong to the program run.
    agentCalls.length = 0;
    const bare = await mesos("task", "exec", "sleep", "ls", "-l", "/");
    assert.equal(bare.code, 3, bare.stderr);
    const again = agentCalls[0]?.launch_nested_container_session as { command: unknown };
    assert.deepEqual(again.command, { value: "ls", arguments: ["ls", "-l", "/"], shell: false });
  });

  it("task attach --no-stdin follows the task container's output; stdin is refused for now", async () => {
    agentCalls.length = 0;
    const r = await mesos("task", "attach", "sleep", "--no-stdin");
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, "hi\n", "oops\n"]);
    assert.deepEqual(agentCalls, [
      {
        type: "ATTACH_CONTAINER_OUTPUT",
        attach_container_output: { container_id: { value: "c-sleeper" } },
      },
    ]);
    const withStdin = await mesos("task", "attach", "sleep");
    assert.equal(withStdin.code, 2);
    assert.match(withStdin.stderr, /^mesos: attaching stdin is not supported yet; use --no-stdin/);
  });

  it("task exec refuses a task that is not running", async () => {
    const r = await mesos("task", "exec", "hello", "ls");
    assert.deepEqual(
      [r.code, r.stderr],
      [1, "mesos: task 'hello' is TASK_FINISHED, not TASK_RUNNING\n"],
    );
  });

  it("a master that answers 503 is quoted in one line", async () => {
    behaviour.masterStatus = 503;
    try {
      const r = await mesos("agent", "list");
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `mesos: the master at ${address} answered 503 for /master/state: Master has not finished recovery\n`,
      );
    } finally {
      behaviour.masterStatus = 200;
    }
  });

  it("a master that never answers hits --timeout", async () => {
    behaviour.hang = true;
    try {
      const r = await mesos("--timeout", "200ms", "agent", "list");
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `mesos: the master at ${address} did not answer /master/state within 200ms\n`,
      );
    } finally {
      behaviour.hang = false;
      server.closeAllConnections();
    }
  });

  it("tail -f prints what the task appends", async () => {
    const launcher = join(
      dirname(fileURLToPath(import.meta.url)),
      "..",
      "..",
      "..",
      "bin",
      "mesos",
    );
    const child = spawn(process.execPath, [launcher, "tail", "hello", "stderr", "-f"], {
      env: { ...process.env, MESOS_MASTER: address, HOME: join(root, "home") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
    });
    const waitFor = async (text: string) => {
      const deadline = Date.now() + 15_000;
      while (!out.includes(text)) {
        if (Date.now() > deadline) throw new Error(`no '${text}' in ${JSON.stringify(out)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      await waitFor("warning: something\n");
      appendFileSync(join(sandbox, "stderr"), "appended later\n");
      await waitFor("appended later\n");
    } finally {
      child.kill("SIGTERM");
    }
  });
});

/**
 * A session's first shell waits for a writer of its stdin pipe only until a
 * deadline (session-stdin-deadline.ts): with real processes, a session
 * whose agent never opens the pipe ends with a one-line message instead of
 * blocking in open(2) forever; one whose writer comes runs with its input,
 * and the watcher is gone once the pipe is open.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  constants as fsConstants,
  openSync,
  readdirSync,
  readFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  debugCommand,
  sessionStdinScript,
} from "../../src/agent/containerizer/debug-containers.js";
import {
  environmentScript,
  ROOT_STEP_ENVIRONMENT,
} from "../../src/agent/containerizer/shim-environment.js";
import { tempDir, waitLong } from "../harness/processes.js";

/** The sessions' processes: killed at the end should one still wait (a failed test). */
const started: ChildProcess[] = [];

after(() => {
  for (const child of started) if (child.exitCode === null) child.kill("SIGKILL");
});

/** A session's process as the launcher helper starts it: root steps with a fixed environment. */
function startSession(fifo: string, deadline: number) {
  const sandbox = tempDir("session-stdin-");
  const launch = debugCommand({
    command: { file: "/bin/sh", args: ["sh", "-c", "echo started; cat"] },
    parent: { env: {}, workDir: sandbox },
    env: { PATH: "/usr/bin:/bin" },
    namespaces: [],
    cgroupProcs: [],
    user: undefined,
    stdin: fifo,
    stdinDeadlineSeconds: deadline,
  });
  const fd = launch.environmentFd;
  const child = spawn(
    "/bin/sh",
    ["-c", `exec "$@" ${fd}<&0`, "sh", launch.file, ...launch.args.slice(1)],
    { env: { ...ROOT_STEP_ENVIRONMENT }, stdio: ["pipe", "pipe", "pipe"] },
  );
  started.push(child);
  child.stdin.end(environmentScript(launch.env));
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
  return { child, exited };
}

function makeFifo(): string {
  const fifo = join(tempDir("session-stdin-fifo-"), "stdin.fifo");
  const made = spawnSync("mkfifo", ["-m", "600", fifo]);
  assert.equal(made.status, 0);
  return fifo;
}

/** Pids of the watchers of `fifo` still running. */
function watchersOf(fifo: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0");
      if (argv.some((a) => a.endsWith("session-stdin-deadline-main.js")) && argv.includes(fifo)) {
        out.push(Number(name));
      }
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

test("a session whose stdin nobody opens ends after the deadline with a one-line message, its command not started", {
  timeout: 120_000,
}, async () => {
  const fifo = makeFifo();
  const { exited } = startSession(fifo, 1);
  const r = await exited;
  assert.equal(r.code, 125, r.stderr);
  assert.equal(r.stdout, "");
  assert.equal(
    r.stderr,
    "mesos-containerizer: nobody opened the session's stdin within 1 seconds (its agent is gone)\n",
  );
  assert.deepEqual(watchersOf(fifo), []);
});

test("a session whose stdin is opened in time runs with its input, and its deadline's watcher ends", {
  timeout: 120_000,
}, async () => {
  const fifo = makeFifo();
  const { exited } = startSession(fifo, 600);
  // As the agent opens it: non-blocking, once the session waits to read.
  const writer = await waitLong("the session to open its stdin", () => {
    try {
      return openSync(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
    } catch {
      return undefined;
    }
  });
  // The open returned: the session's shell ends its watcher.
  await waitLong("the watcher to end", () => watchersOf(fifo).length === 0);
  writeSync(writer, "input\n");
  closeSync(writer);
  const r = await exited;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "started\ninput\n");
  assert.equal(r.stderr, "");
});

test("a session directly under a top-level container (its shell's script) ends after the deadline too", {
  timeout: 120_000,
}, async () => {
  const fifo = makeFifo();
  process.env.MESOS_TS_TESTING_SESSION_STDIN_DEADLINE = "1";
  let script: string;
  try {
    script = sessionStdinScript(fifo, 127);
  } finally {
    delete process.env.MESOS_TS_TESTING_SESSION_STDIN_DEADLINE;
  }
  const child = spawn("/bin/sh", ["-c", script, "mesos-session-stdin", "/bin/echo", "ran"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  assert.equal(code, 127, stderr);
  assert.equal(stdout, "");
  assert.equal(
    stderr,
    "mesos-containerizer: nobody opened the session's stdin within 1 seconds (its agent is gone)\n",
  );
  assert.deepEqual(watchersOf(fifo), []);
});

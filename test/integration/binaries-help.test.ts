/**
 * Runs the real launchers in bin/ (over the compiled tree) as child
 * processes: --help output, flag errors and MESOS_* environment flags.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { packageRoot } from "../../src/common/flags/install-paths.js";
import { freePort, waitFor } from "../harness/processes.js";

const root = packageRoot();

function run(binary: string, args: string[], env: Record<string, string> = {}) {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    // The outer environment must not leak flags into the child.
    if (v !== undefined && !k.startsWith("MESOS_") && !k.startsWith("LIBPROCESS_")) clean[k] = v;
  }
  const r = spawnSync(process.execPath, [join(root, "bin", binary), ...args], {
    encoding: "utf8",
    env: { ...clean, ...env },
    timeout: 30_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** One flag's entry in --help output: its line and the wrapped lines under it, joined. */
function entry(help: string, name: string): string {
  const lines = help.split("\n");
  const start = lines.findIndex((l) => new RegExp(`^ {2}--(\\[no-\\])?${name}[=\\s,]`).test(l));
  assert.ok(start >= 0, `--${name} is listed`);
  const out = [lines[start] ?? ""];
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith("  --") || line === "") break;
    out.push(line.trim());
  }
  // One space between words, keeping the two-space indent of the flag name.
  return out.join(" ").replace(/(\S)\s+/g, "$1 ");
}

test("mesos-master --help lists every flag with its default and exits 0", () => {
  const r = run("mesos-master", ["--help"]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Usage: mesos-master \[options\]\n\n/);
  assert.match(entry(r.stdout, "port"), /--port=VALUE .*\(default: 5050\)$/);
  assert.match(entry(r.stdout, "allocation_interval"), /\(default: 1secs\)$/);
  assert.match(entry(r.stdout, "work_dir"), /^ {2}--work_dir=VALUE /);
  assert.match(entry(r.stdout, "zk"), /zk:\/\//);
  assert.match(entry(r.stdout, "registry"), /\(default: replicated_log\)$/);
  assert.match(entry(r.stdout, "max_completed_frameworks"), /\(default: 50\)$/);
  assert.match(entry(r.stdout, "quiet"), /^ {2}--\[no-\]quiet .*\(default: false\)$/);
  assert.match(entry(r.stdout, "agent_ping_timeout"), /--slave_ping_timeout=VALUE/);
  assert.equal(r.stderr, "");
});

test("mesos-agent --help lists every flag with its default and exits 0", () => {
  const r = run("mesos-agent", ["--help"]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Usage: mesos-agent \[options\]\n\n/);
  assert.match(entry(r.stdout, "port"), /\(default: 5051\)$/);
  assert.match(entry(r.stdout, "isolation"), /\(default: posix\/cpu,posix\/mem\)$/);
  assert.match(entry(r.stdout, "executor_registration_timeout"), /\(default: 1mins\)$/);
  assert.match(entry(r.stdout, "executor_shutdown_grace_period"), /\(default: 5secs\)$/);
  assert.match(entry(r.stdout, "work_dir"), /\(required\)$/);
  assert.match(entry(r.stdout, "master"), /zk:\/\//);
  assert.match(entry(r.stdout, "resources"), /^ {2}--resources=VALUE /);
  assert.match(entry(r.stdout, "attributes"), /^ {2}--attributes=VALUE /);
  assert.ok(entry(r.stdout, "launcher_dir").endsWith(`(default: ${join(root, "bin")})`));
  assert.match(
    entry(r.stdout, "perf_interval"),
    /\(not yet effective in mesos-ts\) \(default: 1mins\)$/,
  );
});

test("mesos-slave --help shows the name it was run as", () => {
  const r = run("mesos-slave", ["--help"]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Usage: mesos-slave \[options\]\n/);
});

test("mesos-master --bogus=1 exits 1 naming the flag", () => {
  const r = run("mesos-master", ["--bogus=1"]);
  assert.equal(r.status, 1);
  assert.equal(
    r.stderr,
    "Failed to load unknown flag 'bogus'\n\nSee `mesos-master --help` for a list of supported flags.\n",
  );
  assert.equal(r.stdout, "");
});

test("mesos-agent without --work_dir exits 1 naming the flag", () => {
  const r = run("mesos-agent", ["--master=127.0.0.1:5050"]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^Flag 'work_dir' is required, but it was not provided\n/);
});

/**
 * Starts a daemon with flags from the environment only, waits until it
 * serves /health on the port MESOS_PORT names, then stops it and returns
 * what it logged.
 */
async function serveWithEnv(binary: string, env: Record<string, string>): Promise<string> {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("MESOS_") && !k.startsWith("LIBPROCESS_")) clean[k] = v;
  }
  const child = spawn(process.execPath, [join(root, "bin", binary)], {
    env: { ...clean, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  try {
    await waitFor(`${binary} to serve /health on MESOS_PORT=${env.MESOS_PORT}`, async () => {
      if (child.exitCode !== null) throw new Error(`${binary} exited:\n${stderr}`);
      const r = await fetch(`http://127.0.0.1:${env.MESOS_PORT}/health`).catch(() => undefined);
      return r?.status === 200;
    });
    // The log line may reach the pipe after /health first answers.
    await waitFor(`${binary} to log its flags`, () =>
      stderr.includes("Flags at startup") ? true : undefined,
    );
  } finally {
    child.kill("SIGKILL");
  }
  return stderr;
}

test("mesos-master takes MESOS_PORT from the environment; the command line wins", async () => {
  const port = await freePort();
  const stderr = await serveWithEnv("mesos-master", {
    MESOS_PORT: String(port),
    MESOS_IP: "127.0.0.1",
    MESOS_REGISTRY: "in_memory",
  });
  assert.match(stderr, new RegExp(`\\] Flags at startup: .*--port="${port}"`));
  const bad = run("mesos-master", ["--registry=in_memory"], { MESOS_PORT: "not-a-port" });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^Failed to load flag 'port': Failed to load value 'not-a-port'/);
  const cmdline = run("mesos-master", ["--registry=in_memory", "--port=not-a-port-either"], {
    MESOS_PORT: "5999",
  });
  assert.equal(cmdline.status, 1);
  assert.match(cmdline.stderr, /Failed to load value 'not-a-port-either'/);
});

test("mesos-agent takes MESOS_* flags and logs glog lines", async () => {
  const port = await freePort();
  const masterPort = await freePort();
  const workDir = mkdtempSync(join(tmpdir(), "mesos-ts-agent-env-"));
  try {
    const stderr = await serveWithEnv("mesos-agent", {
      MESOS_PORT: String(port),
      MESOS_IP: "127.0.0.1",
      MESOS_WORK_DIR: workDir,
      MESOS_MASTER: `127.0.0.1:${masterPort}`,
    });
    assert.match(stderr, /^I\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ [\w-]+\.ts:\d+\] Flags at startup: /m);
    assert.match(stderr, new RegExp(`--work_dir="${workDir}"`));
    assert.match(stderr, new RegExp(`--port="${port}"`));
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
});

test("mesos-master --version prints the Mesos version it follows", () => {
  const r = run("mesos-master", ["--version"]);
  assert.equal(r.status, 0);
  assert.equal(r.stdout, "mesos 1.12.0\n");
});

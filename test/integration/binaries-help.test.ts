/**
 * Runs the real launchers in bin/ (over the compiled tree) as child
 * processes: --help output, flag errors and MESOS_* environment flags.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { packageRoot } from "../../src/common/flags/install-paths.js";

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
    entry(r.stdout, "cgroups_root"),
    /\(not yet effective in mesos-ts\) \(default: mesos\)$/,
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

test("mesos-master takes MESOS_PORT from the environment", () => {
  const ok = run("mesos-master", ["--registry=in_memory"], { MESOS_PORT: "5999" });
  assert.match(ok.stderr, /\] Flags at startup: .*--port="5999"/);
  assert.match(ok.stderr, /mesos-master: the master is not available yet in this build\n/);
  assert.equal(ok.status, 1);
  const bad = run("mesos-master", ["--registry=in_memory"], { MESOS_PORT: "not-a-port" });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^Failed to load flag 'port': Failed to load value 'not-a-port'/);
  const cmdline = run("mesos-master", ["--registry=in_memory", "--port=6001"], {
    MESOS_PORT: "5999",
  });
  assert.match(cmdline.stderr, /--port="6001"/);
});

test("mesos-agent takes MESOS_* flags and logs glog lines", () => {
  const r = run("mesos-agent", [], {
    MESOS_WORK_DIR: "/tmp/mesos-ts-agent-help-test",
    MESOS_MASTER: "127.0.0.1:5050",
  });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^I\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ main\.ts:\d+\] Flags at startup: /m);
  assert.match(r.stderr, /--work_dir="\/tmp\/mesos-ts-agent-help-test"/);
  assert.match(r.stderr, /mesos-agent: the agent is not available yet in this build\n/);
});

test("mesos-master --version prints the Mesos version it follows", () => {
  const r = run("mesos-master", ["--version"]);
  assert.equal(r.status, 0);
  assert.equal(r.stdout, "mesos 1.12.0\n");
});

/**
 * The DEBUG containers of the default executor's COMMAND checks and health
 * checks fetch their `command.uris`, as Mesos launches every container
 * through its fetcher: into the check container's own sandbox
 * (`containers/<check container>` below the task's sandbox, which is where
 * the check runs), as the check's user (its command's here; else the
 * task's), through the cache when asked. A URI that cannot be fetched fails that probe's
 * launch only (no result; the task keeps running) and leaves no sandbox.
 * Needs root (the probes run as `nobody`).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, runBinary, stopAll, tempDir, waitLong } from "../harness/processes.js";
import { scalar } from "./containerizer-helpers.js";

const skip = process.getuid?.() === 0 ? undefined : "needs root";
let master: DaemonHandle;
let agent: DaemonHandle;
const files = tempDir("check-fetch-files-");
const cacheDir = join(tempDir("check-fetch-cache-"), "fetch");

before(async () => {
  if (skip !== undefined) return;
  chmodSync(files, 0o755);
  writeFileSync(join(files, "probe.txt"), "fetched\n", { mode: 0o644 });
  const tree = tempDir("check-fetch-tree-");
  mkdirSync(join(tree, "pkg"));
  writeFileSync(join(tree, "pkg", "hello.txt"), "hello\n");
  execFileSync("tar", ["-czf", join(files, "pkg.tar.gz"), "-C", tree, "pkg"]);
  chmodSync(join(files, "pkg.tar.gz"), 0o644);
  ({ master, agent } = await startOneAgentCluster({
    executor_shutdown_grace_period: "2secs",
    fetcher_cache_dir: cacheDir,
  }));
});

after(stopAll);

/** Runs until `<notes>/c` and `<notes>/h` each have a line; exits 3 after ~40 s. */
function untilProbed(notes: string): string {
  return [
    "i=0",
    `until [ -s '${notes}/c' ] && [ -s '${notes}/h' ]`,
    "do i=$((i+1)); [ $i -gt 200 ] && exit 3; sleep 0.2",
    "done",
  ].join("; ");
}

/**
 * A probe command that succeeds when some check container's sandbox below
 * the task's holds `file` with `content`, and notes its owner in `note`.
 */
function probe(file: string, content: string, note: string): string {
  return [
    `for f in containers/*/${file}`,
    `do [ "$(cat "$f")" = ${content} ] && stat -c %U "$f" >> '${note}' && exit 0`,
    "done",
    "exit 1",
  ].join("; ");
}

test("task group checks: COMMAND check and health check containers fetch their URIs into their own sandbox, as the check's user", {
  skip,
}, async () => {
  // Where the probes (nobody) note what they saw, on the host.
  const notes = tempDir("check-fetch-notes-");
  chmodSync(notes, 0o777);
  const task = {
    name: "fetching-checks",
    task_id: { value: "fetching-checks" },
    agent_id: { value: "" },
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: { value: untilProbed(notes) },
    health_check: {
      type: "COMMAND",
      command: {
        value: probe("pkg/hello.txt", "hello", join(notes, "h")),
        user: "nobody",
        uris: [{ value: join(files, "pkg.tar.gz") }],
      },
      delay_seconds: 0.2,
      interval_seconds: 0.3,
      timeout_seconds: 20,
      grace_period_seconds: 0,
      consecutive_failures: 1,
    },
    check: {
      type: "COMMAND",
      command: {
        command: {
          value: probe("probe.txt", "fetched", join(notes, "c")),
          user: "nobody",
          uris: [{ value: join(files, "probe.txt"), cache: true }],
        },
      },
      delay_seconds: 0.2,
      interval_seconds: 0.3,
      timeout_seconds: 20,
    },
  };
  const run = await runBinary(
    "mesos-execute",
    [`--master=${master.address}`, `--task_group=${JSON.stringify({ tasks: [task] })}`],
    { timeoutMs: 120_000 },
  );
  const out = run.stdout + run.stderr;
  assert.match(run.stdout, /Received status update TASK_FINISHED for task 'fetching-checks'/, out);
  assert.match(run.stdout, /check status: COMMAND exit code 0/, out);
  assert.match(run.stdout, /healthy\?: 1/, out);
  assert.doesNotMatch(run.stdout, /healthy\?: 0/, out);
  // The probes saw their files, fetched by (and so owned by) their user.
  assert.equal(readFileSync(join(notes, "c"), "utf8").split("\n")[0], "nobody");
  assert.equal(readFileSync(join(notes, "h"), "utf8").split("\n")[0], "nobody");
  // The check's URI went through the cache, in the entries of the check's user.
  assert.ok(
    readdirSync(join(cacheDir, "nobody")).some((f) => /^c\d+-probe\.txt$/.test(f)),
    readdirSync(join(cacheDir, "nobody")).join(" "),
  );
});

test("task group checks: a check URI that cannot be fetched fails that probe's launch only; the task runs on", {
  skip,
}, async () => {
  const missing = join(files, "missing.txt");
  const release = join(tempDir("check-fetch-release-"), "release");
  const task = {
    name: "unfetchable-check",
    task_id: { value: "unfetchable-check" },
    agent_id: { value: "" },
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: {
      value: `touch unfetchable-marker; i=0; until [ -e '${release}' ]; do i=$((i+1)); [ $i -gt 600 ] && exit 3; sleep 0.2; done`,
    },
    check: {
      type: "COMMAND",
      command: { command: { value: "echo ran >> ran", uris: [{ value: missing }] } },
      delay_seconds: 0.2,
      interval_seconds: 0.2,
      timeout_seconds: 10,
    },
  };
  const running = runBinary(
    "mesos-execute",
    [`--master=${master.address}`, `--task_group=${JSON.stringify({ tasks: [task] })}`],
    { timeoutMs: 120_000 },
  );
  let sandbox: string | undefined;
  try {
    // Two probes failed to launch, each with the fetcher's reason.
    const quoted = missing.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const failure = new RegExp(
      `Failed to launch DEBUG container '[^']+\\.check-[^']+': Failed to fetch '${quoted}': '${quoted}' does not exist`,
      "g",
    );
    await waitLong("two probes to fail their fetch", () =>
      (agent.logs().match(failure) ?? []).length >= 2 ? true : undefined,
    );
    sandbox = dirHolding(agent.workDir, "unfetchable-marker");
    // The command never ran, and no failed probe left its sandbox behind.
    assert.equal(existsSync(join(sandbox, "ran")), false);
    const left = (() => {
      try {
        return readdirSync(join(sandbox, "containers")).filter((e) => e.startsWith("check-"));
      } catch {
        return [];
      }
    })();
    await waitLong("the failed probes' sandboxes to go", () =>
      left.filter((e) => existsSync(join(sandbox as string, "containers", e))).length === 0
        ? true
        : undefined,
    );
  } finally {
    writeFileSync(release, "");
  }
  const run = await running;
  assert.match(
    run.stdout,
    /Received status update TASK_FINISHED for task 'unfetchable-check'/,
    run.stdout + run.stderr,
  );
  assert.doesNotMatch(run.stdout, /check status: COMMAND exit code/, run.stdout);
});

/** The one directory below the agent's work directory that holds a file named `name`. */
function dirHolding(workDir: string, name: string): string {
  const found: string[] = [];
  const walk = (dir: string) => {
    let entries: import("node:fs").Dirent[] = [];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name === name && e.isFile()) found.push(dir);
      if (e.isDirectory()) walk(join(dir, e.name));
    }
  };
  walk(join(workDir, "slaves"));
  assert.equal(found.length, 1, `one '${name}' below ${workDir}: ${found.join(", ")}`);
  return found[0] as string;
}

/**
 * With a root agent switching users, local URIs are read as the task's user,
 * as the Mesos fetcher runs as that user: a file only root may read is not
 * fetched (directly or through the cache), a readable one is, and the
 * fetched file belongs to the task's user. The Hadoop client runs as that
 * user too (HDFS then applies its permissions).
 */
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, runBinary, stopAll, tempDir } from "../harness/processes.js";
import { sandboxOf } from "./containerizer-helpers.js";

const root = process.getuid?.() === 0;
let master: DaemonHandle;
let agent: DaemonHandle;
const files = tempDir("fetcher-user-files-");
const hadoopHome = tempDir("fetcher-user-hadoop-");

before(async () => {
  if (!root) return;
  chmodSync(files, 0o755);
  writeFileSync(join(files, "public.txt"), "for everyone\n");
  chmodSync(join(files, "public.txt"), 0o644);
  writeFileSync(join(files, "secret.txt"), "root only\n");
  chmodSync(join(files, "secret.txt"), 0o600);
  // A stand-in Hadoop client whose "download" is the name of the user running it.
  chmodSync(hadoopHome, 0o755);
  mkdirSync(join(hadoopHome, "bin"), { mode: 0o755 });
  writeFileSync(
    join(hadoopHome, "bin", "hadoop"),
    [
      "#!/bin/sh",
      'if [ "$1" = version ]; then exit 0; fi',
      'if [ "$2" = -copyToLocal ]; then id -un > "$4"; exit $?; fi',
      'if [ "$2" = -du ]; then echo "64 $3"; exit 0; fi',
      "exit 2",
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  ({ master, agent } = await startOneAgentCluster({
    fetcher_cache_dir: join(tempDir("fetcher-user-cache-"), "fetch"),
    hadoop_home: hadoopHome,
  }));
});

after(stopAll);

async function runAsNobody(id: string, uris: { value: string; cache?: boolean }[]) {
  const task = JSON.stringify({
    name: id,
    task_id: { value: id },
    resources: [
      { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
      { name: "mem", type: "SCALAR", scalar: { value: 32 } },
    ],
    command: { value: "true", user: "nobody", uris },
  });
  const run = await runBinary("mesos-execute", [`--master=${master.address}`, `--task=${task}`], {
    timeoutMs: 90_000,
  });
  const sandbox = await sandboxOf(agent, id);
  return { stdout: run.stdout + run.stderr, sandbox };
}

describe("fetcher as the task's user", { skip: root ? false : "needs root" }, () => {
  it("a readable local file is fetched and given to the user; a root-only one fails the task", async () => {
    const ok = await runAsNobody("user-public", [{ value: join(files, "public.txt") }]);
    assert.ok(
      ok.stdout.includes("Received status update TASK_FINISHED for task 'user-public'"),
      ok.stdout,
    );
    const nobody = statSync(join(ok.sandbox, "public.txt")).uid;
    assert.notEqual(nobody, 0);

    for (const [id, cache] of [
      ["user-secret", false],
      ["user-secret-cached", true],
    ] as const) {
      const denied = await runAsNobody(id, [{ value: join(files, "secret.txt"), cache }]);
      assert.ok(
        denied.stdout.includes(`Received status update TASK_FAILED for task '${id}'`),
        denied.stdout,
      );
      assert.match(
        denied.stdout,
        new RegExp(
          `message: 'Failed to launch container: Failed to fetch '${join(files, "secret.txt")}': permission denied reading '${join(files, "secret.txt")}''`,
        ),
      );
    }
  });

  it("the Hadoop client runs as the task's user, directly and through the cache", async () => {
    const run = await runAsNobody("user-hdfs", [
      { value: "hdfs://nn/direct/who.txt" },
      { value: "hdfs://nn/cached/who-cached.txt", cache: true },
    ]);
    assert.ok(
      run.stdout.includes("Received status update TASK_FINISHED for task 'user-hdfs'"),
      run.stdout,
    );
    assert.equal(readFileSync(join(run.sandbox, "who.txt"), "utf8"), "nobody\n");
    assert.equal(readFileSync(join(run.sandbox, "who-cached.txt"), "utf8"), "nobody\n");
  });
});

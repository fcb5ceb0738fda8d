/**
 * A root agent fetches a task's URIs as the task's user (here `nobody`), as
 * Mesos' fetcher does after `os::su`: a root-only file:// URI fails the
 * task, the fetched (and extracted, and cached) files belong to the user,
 * and the writes are the user's own: a sandbox directory the user may not
 * write (which root could) stops the fetch.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, runBinary, stopAll, tempDir } from "../harness/processes.js";
import { sandboxOf } from "./containerizer-helpers.js";

const root = process.getuid?.() === 0;
let master: DaemonHandle;
let agent: DaemonHandle;
const files = tempDir("fetcher-as-user-files-");

type Uri = { value: string; cache?: boolean; executable?: boolean; output_file?: string };

before(async () => {
  if (!root) return;
  chmodSync(files, 0o755);
  writeFileSync(join(files, "secret.txt"), "root only\n", { mode: 0o600 });
  writeFileSync(join(files, "tool.sh"), "#!/bin/sh\necho tool\n", { mode: 0o644 });
  // An archive whose `pkg` holds a file, and one whose `sealed` directory nobody may write.
  const tree = tempDir("fetcher-as-user-tree-");
  mkdirSync(join(tree, "pkg"));
  writeFileSync(join(tree, "pkg", "hello.txt"), "hello\n");
  mkdirSync(join(tree, "sealed"));
  writeFileSync(join(tree, "sealed", "inside.txt"), "sealed\n");
  chmodSync(join(tree, "sealed"), 0o555);
  execFileSync("tar", ["-czf", join(files, "pkg.tar.gz"), "-C", tree, "pkg"]);
  execFileSync("tar", ["-czf", join(files, "sealed.tar.gz"), "-C", tree, "sealed"]);
  for (const name of ["pkg.tar.gz", "sealed.tar.gz"]) chmodSync(join(files, name), 0o644);
  ({ master, agent } = await startOneAgentCluster({
    fetcher_cache_dir: join(tempDir("fetcher-as-user-cache-"), "fetch"),
  }));
});

after(stopAll);

async function runAsNobody(id: string, uris: Uri[], command = "true") {
  const task = JSON.stringify({
    name: id,
    task_id: { value: id },
    resources: [
      { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
      { name: "mem", type: "SCALAR", scalar: { value: 32 } },
    ],
    command: { value: command, user: "nobody", uris },
  });
  const run = await runBinary("mesos-execute", [`--master=${master.address}`, `--task=${task}`], {
    timeoutMs: 90_000,
  });
  return { output: run.stdout + run.stderr, sandbox: await sandboxOf(agent, id) };
}

describe("a root agent fetches as the task's user", { skip: root ? false : "needs root" }, () => {
  it("a file:// URI of a root-only file fails the task with the fetcher's one-line reason", async () => {
    const secret = join(files, "secret.txt");
    const uri = pathToFileURL(secret).href;
    for (const [id, cache] of [
      ["secret", false],
      ["secret-cached", true],
    ] as const) {
      const run = await runAsNobody(id, [{ value: uri, cache }]);
      assert.ok(
        run.output.includes(`Received status update TASK_FAILED for task '${id}'`),
        run.output,
      );
      assert.ok(
        run.output.includes(
          `message: 'Failed to launch container: Failed to fetch '${uri}': permission denied reading '${secret}''`,
        ),
        run.output,
      );
    }
  });

  it("fetched, extracted and cached files belong to the task's user", async () => {
    const nobody = Number(execFileSync("id", ["-u", "nobody"]).toString());
    for (const [id, cache] of [
      ["owned", false],
      ["owned-cached", true],
    ] as const) {
      const run = await runAsNobody(
        id,
        [
          { value: join(files, "pkg.tar.gz"), cache },
          { value: join(files, "tool.sh"), executable: true, cache },
          { value: join(files, "tool.sh"), output_file: "bin/copy.sh", cache },
        ],
        "./tool.sh && cat pkg/hello.txt",
      );
      assert.ok(
        run.output.includes(`Received status update TASK_FINISHED for task '${id}'`),
        run.output,
      );
      for (const file of ["pkg", "pkg/hello.txt", "tool.sh", "bin", "bin/copy.sh"]) {
        assert.equal(statSync(join(run.sandbox, file)).uid, nobody, `${id}: ${file}`);
      }
      assert.equal(readFileSync(join(run.sandbox, "stdout"), "utf8"), "tool\nhello\n");
    }
  });

  it("the writes are the user's: a sandbox directory the user may not write stops the fetch (root could write there)", async () => {
    const run = await runAsNobody("sealed", [
      { value: join(files, "sealed.tar.gz") },
      { value: join(files, "tool.sh"), output_file: "sealed/tool.sh" },
    ]);
    assert.ok(
      run.output.includes("Received status update TASK_FAILED for task 'sealed'"),
      run.output,
    );
    const target = join(run.sandbox, "sealed", "tool.sh");
    assert.ok(
      run.output.includes(
        `message: 'Failed to launch container: Failed to fetch '${join(files, "tool.sh")}': permission denied writing '${target}''`,
      ),
      run.output,
    );
    // The archive itself was unpacked (by the user): only the write into `sealed` failed.
    assert.equal(readFileSync(join(run.sandbox, "sealed", "inside.txt"), "utf8"), "sealed\n");
    assert.equal(statSync(join(run.sandbox, "sealed")).mode & 0o777, 0o555);
  });
});

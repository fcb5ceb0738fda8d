/**
 * The Docker containerizer fetches as the task's user, as Mesos' does (it
 * hands the container's user to the same fetcher): with a root agent and a
 * DOCKER task whose command runs as `nobody`, the sandbox is nobody's, the
 * fetched, extracted and cached files are nobody's, and a file only root
 * may read fails the task (TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED, as
 * every fetch failure in Mesos) with the fetcher's one-line reason. Runs
 * against the FAKE docker CLI of test/fixtures/fake-docker (no Docker
 * daemon). Needs root.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type FakeDocker, installFakeDocker } from "../fixtures/fake-docker/install.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, stopAll, tempDir } from "../harness/processes.js";
import { executeTask, sandboxOf, scalar } from "./containerizer-helpers.js";

const root = process.getuid?.() === 0;
let master: DaemonHandle;
let agent: DaemonHandle;
let docker: FakeDocker | undefined;
const files = tempDir("fetcher-docker-user-files-");
let nobody: number;

before(async () => {
  if (!root) return;
  nobody = Number(execFileSync("id", ["-u", "nobody"], { encoding: "utf8" }).trim());
  chmodSync(files, 0o755);
  writeFileSync(join(files, "notes.txt"), "for nobody\n", { mode: 0o644 });
  writeFileSync(join(files, "secret.txt"), "root only\n", { mode: 0o600 });
  const tree = tempDir("fetcher-docker-user-tree-");
  mkdirSync(join(tree, "pkg"));
  writeFileSync(join(tree, "pkg", "hello.txt"), "hello\n");
  execFileSync("tar", ["-czf", join(files, "pkg.tar.gz"), "-C", tree, "pkg"]);
  chmodSync(join(files, "pkg.tar.gz"), 0o644);
  // An archive whose `stdout` is a named pipe: extracted into the sandbox
  // where the agent then opens the executor's output.
  const fifoTree = tempDir("fetcher-docker-user-fifo-");
  execFileSync("mkfifo", [join(fifoTree, "stdout")]);
  execFileSync("tar", ["-czf", join(files, "fifo.tar.gz"), "-C", fifoTree, "stdout"]);
  chmodSync(join(files, "fifo.tar.gz"), 0o644);
  docker = installFakeDocker(tempDir("fake-docker-fetch-user-"));
  ({ master, agent } = await startOneAgentCluster({
    containerizers: "mesos,docker",
    docker: docker.path,
    docker_remove_delay: "1secs",
    registration_backoff_factor: "10ms",
    fetcher_cache_dir: join(tempDir("fetcher-docker-user-cache-"), "fetch"),
  }));
});

after(async () => {
  docker?.removeAll();
  await stopAll();
});

const small = [scalar("cpus", 0.1), scalar("mem", 64)];
const image = { type: "DOCKER", docker: { image: "busybox" } };

describe("the Docker containerizer fetches as the task's user", {
  skip: root ? false : "needs root",
}, () => {
  it("the sandbox and the fetched, extracted and cached files belong to the task's user", async () => {
    const run = await executeTask(master, {
      name: "docker-fetch-nobody",
      resources: small,
      command: {
        value: "true",
        user: "nobody",
        uris: [
          { value: join(files, "notes.txt") },
          { value: join(files, "pkg.tar.gz"), cache: true },
        ],
      },
      container: image,
    });
    assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
    assert.ok(
      docker?.callsOf("run").some((c) => c.argv.some((a) => a.includes("/docker-fetch-nobody/"))),
      "the task ran through docker run",
    );
    const sandbox = await sandboxOf(agent, "docker-fetch-nobody");
    for (const path of [sandbox, "notes.txt", "pkg/hello.txt", "stderr"]) {
      const full = path === sandbox ? sandbox : join(sandbox, path);
      assert.equal(statSync(full).uid, nobody, `${full} belongs to nobody`);
    }
    assert.equal(readFileSync(join(sandbox, "pkg", "hello.txt"), "utf8"), "hello\n");
    // Through the cache (nobody's entries), the archive's content only.
    const stderr = readFileSync(join(sandbox, "stderr"), "utf8");
    assert.match(stderr, /Fetching URI '.*pkg\.tar\.gz' from cache/);
    assert.match(stderr, /\/fetch\/nobody\/c\d+-pkg\.tar\.gz/);
  });

  it("a named pipe fetched as `stdout` fails the launch (the agent does not wait on it)", async () => {
    const run = await executeTask(master, {
      name: "docker-fetch-fifo",
      resources: small,
      command: { value: "true", user: "nobody", uris: [{ value: join(files, "fifo.tar.gz") }] },
      container: image,
    });
    assert.equal(run.finalState, "TASK_FAILED", run.stdout);
    assert.equal(run.reason, "REASON_CONTAINER_LAUNCH_FAILED", run.stdout);
    assert.match(run.message ?? "", /stdout' is not a regular file with a single link$/);
    const sandbox = await sandboxOf(agent, "docker-fetch-fifo");
    assert.ok(statSync(join(sandbox, "stdout")).isFIFO(), "the archive's pipe is in the sandbox");
    // The agent still answers.
    assert.equal((await fetch(`${agent.url}/health`)).status, 200);
  });

  it("a file only root may read fails the task with the fetcher's reason", async () => {
    const secret = join(files, "secret.txt");
    const run = await executeTask(master, {
      name: "docker-fetch-secret",
      resources: small,
      command: { value: "true", user: "nobody", uris: [{ value: secret }] },
      container: image,
    });
    assert.equal(run.finalState, "TASK_FAILED", run.stdout);
    assert.equal(run.reason, "REASON_CONTAINER_LAUNCH_FAILED", run.stdout);
    assert.equal(
      run.message,
      `Failed to launch container: Failed to fetch '${secret}': permission denied reading '${secret}'`,
    );
    // The container never ran.
    assert.ok(
      !docker?.callsOf("run").some((c) => c.argv.some((a) => a.includes("/docker-fetch-secret/"))),
      "no docker run for the failed task",
    );
  });
});

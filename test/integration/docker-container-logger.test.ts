/**
 * The Docker containerizer with `--container_logger` set to the logrotate
 * logger, against the FAKE docker CLI of test/fixtures/fake-docker (it runs
 * the container's command on the host, so its output really flows): the
 * output of a DOCKER command task (relayed by the docker executor) and of a
 * custom executor in a DOCKER container goes through the logger, which
 * rotates `stdout` past `max_stdout_size` and leaves its configuration file
 * beside it. Without the logger the sandbox holds one unrotated `stdout`.
 * Needs Debian's `logrotate` on PATH.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type FakeDocker, installFakeDocker } from "../fixtures/fake-docker/install.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, stopAll, tempDir } from "../harness/processes.js";
import {
  executeTask,
  LOGROTATE_MAX_STDOUT_BYTES,
  LOGROTATE_MODULE,
  LOGROTATE_MODULES,
  loggersEnd,
  logrotateSkipReason,
  printBytes,
  printedTail,
  sandboxOf,
  scalar,
} from "./containerizer-helpers.js";

let master: DaemonHandle;
let agent: DaemonHandle;
let docker: FakeDocker | undefined;

before(async () => {
  if (logrotateSkipReason !== undefined) return;
  docker = installFakeDocker(tempDir("fake-docker-logger-"));
  ({ master, agent } = await startOneAgentCluster({
    containerizers: "mesos,docker",
    docker: docker.path,
    docker_remove_delay: "1secs",
    modules: LOGROTATE_MODULES,
    container_logger: LOGROTATE_MODULE,
    registration_backoff_factor: "10ms",
  }));
});

after(async () => {
  docker?.removeAll();
  await stopAll();
});

const small = [scalar("cpus", 0.1), scalar("mem", 64)];
const image = { type: "DOCKER", docker: { image: "busybox" } };

/** Checks that `sandbox`'s stdout was rotated by the logger and ends with `printBytes(bytes)`'s tail. */
function assertRotated(sandbox: string, bytes: number): void {
  const files = readdirSync(sandbox);
  // The logger writes its logrotate configuration beside the file it keeps.
  assert.ok(files.includes("stdout.logrotate.conf"), files.join(" "));
  assert.ok(files.includes("stderr.logrotate.conf"), files.join(" "));
  assert.ok(statSync(join(sandbox, "stdout")).size <= LOGROTATE_MAX_STDOUT_BYTES, files.join(" "));
  // `rotate 2`: stdout.1 and stdout.2 are kept, older ones deleted.
  assert.ok(files.includes("stdout.1"), files.join(" "));
  assert.ok(files.includes("stdout.2"), files.join(" "));
  assert.ok(!files.includes("stdout.3"), files.join(" "));
  const text = readFileSync(join(sandbox, "stdout"), "utf8");
  const tail = printedTail(bytes);
  assert.ok(text.endsWith(tail), `stdout ends with ${JSON.stringify(text.slice(-40))}`);
  assert.ok(!files.some((f) => f.endsWith(".fifo")), files.join(" "));
}

test("docker container logger: a DOCKER command task's output goes through the logger and is rotated", {
  skip: logrotateSkipReason,
}, async () => {
  const run = await executeTask(master, {
    name: "docker-chatty",
    resources: small,
    command: printBytes(50_000),
    container: image,
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  assert.ok(
    docker?.callsOf("run").some((c) => c.argv.some((a) => a.includes("/executors/docker-chatty/"))),
    "the task ran through docker run",
  );
  const sandbox = await sandboxOf(agent, "docker-chatty");
  await loggersEnd(sandbox);
  assertRotated(sandbox, 50_000);
  // The docker executor's own lines and the container's stderr share the stderr logger.
  const stderr = readFileSync(join(sandbox, "stderr"), "utf8");
  assert.match(stderr, /to-stderr/);
  assert.match(stderr, /Starting task docker-chatty/);
});

test("docker container logger: a custom executor in a DOCKER container logs through it too", {
  skip: logrotateSkipReason,
}, async () => {
  const script = join(
    dirname(fileURLToPath(import.meta.url)),
    "..",
    "fixtures",
    "fake-docker",
    "hello-executor.js",
  );
  const run = await executeTask(master, {
    name: "docker-custom-chatty",
    resources: small,
    command: "true",
    executor: {
      executor_id: { value: "docker-custom-logged" },
      command: { value: `${printBytes(40_000)}; exec '${process.execPath}' '${script}'` },
      container: { type: "DOCKER", docker: { image: "example/executor:1" } },
      resources: small,
    },
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  const sandbox = await sandboxOf(agent, "docker-custom-logged");
  await loggersEnd(sandbox);
  assertRotated(sandbox, 40_000);
  assert.match(readFileSync(join(sandbox, "stderr"), "utf8"), /to-stderr/);
});

test("docker container logger: CONTAINER_LOGGER_MAX_STDOUT_SIZE in the task's environment overrides the size", {
  skip: logrotateSkipReason,
}, async () => {
  const run = await executeTask(master, {
    name: "docker-overridden",
    resources: small,
    command: {
      value: printBytes(30_000),
      environment: { variables: [{ name: "CONTAINER_LOGGER_MAX_STDOUT_SIZE", value: "64KB" }] },
    },
    container: image,
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  const sandbox = await sandboxOf(agent, "docker-overridden");
  await loggersEnd(sandbox);
  assert.ok(existsSync(join(sandbox, "stdout.logrotate.conf")), readdirSync(sandbox).join(" "));
  // The task's 64KB, not the module's 10KB, bounds the file logrotate keeps.
  const conf = readFileSync(join(sandbox, "stdout.logrotate.conf"), "utf8");
  const size = Number(/^size (\d+)$/m.exec(conf)?.[1]);
  assert.ok(size > LOGROTATE_MAX_STDOUT_BYTES && size <= 64 * 1024, conf);
  assert.equal(statSync(join(sandbox, "stdout")).size, 30_000);
  assert.ok(!existsSync(join(sandbox, "stdout.1")));
});

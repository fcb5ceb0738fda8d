/**
 * docker/runtime as a Mesos user meets it: the table of how a CommandInfo
 * (shell, value, arguments) merges with the image's Entrypoint and Cmd,
 * launch errors where Mesos refuses the command, the image's Env under the
 * task's own variables, and the image's WorkingDir (created when the image
 * lacks it) for command tasks and custom executors. Needs root and a static
 * busybox; skips otherwise.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, stopAll, tempDir, waitFor } from "../harness/processes.js";
import { executeTask, sandboxOf, scalar } from "./containerizer-helpers.js";
import { buildLegacyImage, busyboxFiles, imageContainer, imageSkip } from "./images-helpers.js";

const skip = imageSkip;
let master: DaemonHandle;
let agent: DaemonHandle;

before(async () => {
  if (skip !== undefined) return;
  const registry = tempDir("mesos-images-runtime-registry-");
  // The images share their busybox layer; the runtime config lives in each top layer's json.
  const base = { id: "base", files: busyboxFiles() };
  buildLegacyImage(registry, "entry.tar", {
    repository: "entry",
    layers: [base, { id: "entry-top", files: {} }],
    config: {
      Entrypoint: ["/bin/echo", "entry"],
      Cmd: ["cmd1", "cmd2"],
      Env: ["PATH=/bin", "FROM_IMAGE=image", "OVERRIDDEN=image", "NO_EQUALS_SIGN"],
      WorkingDir: "/work/dir",
    },
  });
  buildLegacyImage(registry, "cmdonly:1.0.tar", {
    repository: "cmdonly",
    tag: "1.0",
    layers: [base, { id: "cmdonly-top", files: {} }],
    config: { Cmd: ["/bin/echo", "cmd-only", "x"], Env: ["PATH=/bin"] },
  });
  buildLegacyImage(registry, "bare.tar", {
    repository: "bare",
    layers: [base, { id: "bare-top", files: {} }],
    config: { Env: ["PATH=/bin"] },
  });
  ({ master, agent } = await startOneAgentCluster({
    isolation: "filesystem/linux,docker/runtime",
    image_providers: "docker",
    docker_registry: registry,
    docker_store_dir: tempDir("mesos-images-runtime-store-"),
  }));
});

after(async () => {
  await stopAll();
});

const resources = [scalar("cpus", 0.1), scalar("mem", 32)];

/** Runs a command task in `image`; returns its final status and its stdout. */
async function run(name: string, command: object, image: string) {
  const result = await executeTask(master, {
    name,
    resources,
    command,
    container: imageContainer(image),
  });
  let stdout = "";
  if (result.finalState === "TASK_FINISHED") {
    stdout = readFileSync(join(await sandboxOf(agent, name), "stdout"), "utf8");
  }
  return { ...result, stdout };
}

test("docker/runtime: shell=false without a value runs Entrypoint then Cmd, or Entrypoint then the arguments", {
  skip,
}, async () => {
  const plain = await run("rt-entry-cmd", { shell: false }, "entry");
  assert.equal(plain.finalState, "TASK_FINISHED", plain.stdout);
  assert.match(plain.stdout, /^entry cmd1 cmd2$/m);
  const args = await run("rt-entry-args", { shell: false, arguments: ["a1", "a2"] }, "entry");
  assert.equal(args.finalState, "TASK_FINISHED");
  assert.match(args.stdout, /^entry a1 a2$/m);
});

test("docker/runtime: without an Entrypoint, Cmd[0] runs with the rest of Cmd, or with the arguments", {
  skip,
}, async () => {
  const plain = await run("rt-cmd", { shell: false }, "cmdonly:1.0");
  assert.equal(plain.finalState, "TASK_FINISHED");
  assert.match(plain.stdout, /^cmd-only x$/m);
  const args = await run("rt-cmd-args", { shell: false, arguments: ["y", "z"] }, "cmdonly:1.0");
  assert.equal(args.finalState, "TASK_FINISHED");
  assert.match(args.stdout, /^y z$/m);
});

test("docker/runtime: a value ignores the image's Entrypoint and Cmd (shell or not)", {
  skip,
}, async () => {
  const exec = await run(
    "rt-value",
    { shell: false, value: "/bin/echo", arguments: ["echo", "own", "argv"] },
    "entry",
  );
  assert.equal(exec.finalState, "TASK_FINISHED");
  assert.match(exec.stdout, /^own argv$/m);
  assert.doesNotMatch(exec.stdout, /entry|cmd1/);
  const shell = await run("rt-shell", { value: "echo shell-$FROM_IMAGE" }, "entry");
  assert.equal(shell.finalState, "TASK_FINISHED");
  assert.match(shell.stdout, /^shell-image$/m);
});

test("docker/runtime: a shell command without a value, or an image with nothing to run, fails the launch as Mesos", {
  skip,
}, async () => {
  const shell = await executeTask(master, {
    name: "rt-shell-novalue",
    resources,
    command: { shell: true },
    container: imageContainer("entry"),
  });
  assert.equal(shell.finalState, "TASK_FAILED", shell.stdout);
  assert.equal(shell.reason, "REASON_CONTAINER_LAUNCH_FAILED");
  assert.equal(
    shell.message,
    "Failed to launch container: Failed to determine the launch command: Shell specified but no command value provided",
  );
  const bare = await executeTask(master, {
    name: "rt-bare",
    resources,
    command: { shell: false },
    container: imageContainer("bare"),
  });
  assert.equal(bare.finalState, "TASK_FAILED", bare.stdout);
  assert.equal(bare.reason, "REASON_CONTAINER_LAUNCH_FAILED");
  assert.equal(
    bare.message,
    "Failed to launch container: Failed to determine the launch command: No executable is found",
  );
});

test("docker/runtime: the image's Env sits under the task's variables; entries without '=' are skipped", {
  skip,
}, async () => {
  const env = await run(
    "rt-env",
    {
      value: "echo from=$FROM_IMAGE over=$OVERRIDDEN; env | grep -c NO_EQUALS_SIGN; true",
      environment: { variables: [{ name: "OVERRIDDEN", value: "task" }] },
    },
    "entry",
  );
  assert.equal(env.finalState, "TASK_FINISHED");
  assert.match(env.stdout, /^from=image over=task$/m);
  assert.match(env.stdout, /^0$/m);
});

test("docker/runtime: a WorkingDir the image lacks is created; a command task starts there", {
  skip,
}, async () => {
  const cwd = await run("rt-workdir", { value: "pwd; echo sandbox=$MESOS_SANDBOX" }, "entry");
  assert.equal(cwd.finalState, "TASK_FINISHED", cwd.stdout);
  assert.match(cwd.stdout, /^\/work\/dir$/m);
  assert.match(cwd.stdout, /^sandbox=\/mnt\/mesos\/sandbox$/m);
});

test("docker/runtime: a custom executor in an image starts in the image's WorkingDir with its Env", {
  skip,
}, async () => {
  const result = await executeTask(master, {
    name: "rt-executor",
    resources,
    command: "true",
    executor: {
      executor_id: { value: "rt-executor" },
      command: { value: "echo executor-pwd=$(pwd) from=$FROM_IMAGE; exit 0" },
      container: imageContainer("entry"),
      resources,
    },
  });
  // A shell script never subscribes: the task fails when the executor exits.
  assert.equal(result.finalState, "TASK_FAILED", result.stdout);
  const sandbox = await sandboxOf(agent, "rt-executor");
  const stdout = await waitFor("the executor's output", () => {
    const text = readFileSync(join(sandbox, "stdout"), "utf8");
    return text.includes("executor-pwd=") ? text : undefined;
  });
  assert.match(stdout, /^executor-pwd=\/work\/dir from=image$/m);
});

test("docker/runtime: a custom executor with shell=false and no value runs the image's Entrypoint and Cmd", {
  skip,
}, async () => {
  const result = await executeTask(master, {
    name: "rt-executor-entry",
    resources,
    command: "true",
    executor: {
      executor_id: { value: "rt-executor-entry" },
      command: { shell: false, arguments: ["from-executor-info"] },
      container: imageContainer("entry"),
      resources,
    },
  });
  // /bin/echo never subscribes: the task fails when the executor exits.
  assert.equal(result.finalState, "TASK_FAILED", result.stdout);
  const sandbox = await sandboxOf(agent, "rt-executor-entry");
  const stdout = await waitFor("the executor's output", () => {
    const text = readFileSync(join(sandbox, "stdout"), "utf8");
    return text.includes("entry") ? text : undefined;
  });
  assert.match(stdout, /^entry from-executor-info$/m);
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  COMMAND_EXECUTOR_ENTRY,
  commandExecutorScript,
  DEFAULT_EXECUTOR_ENTRY,
  defaultExecutorScript,
  describeCommandExecutorScript,
  executorCommand,
  findCommandExecutor,
  findDefaultExecutor,
} from "../../src/agent/containerizer/executor-command.js";
import {
  agentExecutorEnvironment,
  executorProcessEnvironment,
  HOST_DEFAULT_PATH,
} from "../../src/agent/executor-env.js";
import {
  commandExecutorName,
  defaultExecutorCommand,
  executorInfoFor,
} from "../../src/agent/executor-info.js";
import {
  forkedPidPath,
  isSafePathSegment,
  latestRunLink,
  sandboxPath,
} from "../../src/agent/paths.js";
import { Duration } from "../../src/common/flags/duration.js";
import { binDir } from "../../src/common/flags/install-paths.js";
import type { FrameworkInfo, TaskInfo } from "../../src/common/protocol/generated/mesos-v1.js";
import {
  COMMAND_EXECUTOR_BUNDLE,
  DEFAULT_EXECUTOR_BUNDLE,
} from "../../src/executor/launch-command.js";

const framework: FrameworkInfo = { user: "alice", name: "fw", id: { value: "F-0000" } };

function commandTask(value: string, extra: Partial<TaskInfo> = {}): TaskInfo {
  return {
    name: "t",
    task_id: { value: "task-1" },
    agent_id: { value: "S0" },
    resources: [
      { name: "cpus", type: "SCALAR", scalar: { value: 1 }, allocation_info: { role: "web" } },
    ],
    command: { value },
    ...extra,
  };
}

const ids = { agentId: "S0", frameworkId: "F-0000", executorId: "task-1", containerId: "c1" };

describe("agent sandbox paths", () => {
  it("follows the Mesos layout for sandboxes, the latest link and the forked pid", () => {
    assert.equal(sandboxPath("/w", ids), "/w/slaves/S0/frameworks/F-0000/executors/task-1/runs/c1");
    assert.equal(
      latestRunLink("/w", ids),
      "/w/slaves/S0/frameworks/F-0000/executors/task-1/runs/latest",
    );
    assert.equal(
      forkedPidPath("/w", ids),
      "/w/meta/slaves/S0/frameworks/F-0000/executors/task-1/runs/c1/pids/forked.pid",
    );
  });

  it("refuses ids that would escape their directory", () => {
    for (const bad of ["", ".", "..", "a/b", "x\0y"])
      assert.equal(isSafePathSegment(bad), false, bad);
    assert.equal(isSafePathSegment("task.1-2_3"), true);
  });
});

describe("agent command executor info", () => {
  it("names the executor after the task and a shortened command, as Mesos does", () => {
    assert.equal(
      commandExecutorName(commandTask("echo hello")),
      "Command Executor (Task: task-1) (Command: sh -c 'echo hello')",
    );
    assert.equal(
      commandExecutorName(commandTask("sleep 1000; echo done")),
      "Command Executor (Task: task-1) (Command: sh -c 'sleep 1000; ...')",
    );
    assert.equal(
      commandExecutorName(
        commandTask("ls", { command: { shell: false, value: "ls", arguments: ["ls", "-l"] } }),
      ),
      "Command Executor (Task: task-1) (Command: [ls, ls, -l])",
    );
  });

  it("uses the task id as executor id and source, runs mesos-executor and charges 0.1 cpus / 32 MB in the task's role", () => {
    const task = commandTask("echo hi", {
      command: {
        value: "echo hi",
        uris: [{ value: "http://x/y.tgz", extract: true }],
        environment: { variables: [{ name: "A", value: "1" }] },
        user: "bob",
      },
    });
    const info = executorInfoFor(framework, task, {
      launcherDir: "/opt/bin",
      executorPath: "/opt/bin/mesos-executor",
    });
    assert.equal(info.executor_id.value, "task-1");
    assert.equal(info.source, "task-1");
    assert.deepEqual(info.framework_id, { value: "F-0000" });
    assert.deepEqual(info.command, {
      uris: [{ value: "http://x/y.tgz", extract: true }],
      environment: { variables: [{ name: "A", value: "1" }] },
      user: "bob",
      shell: false,
      value: "/opt/bin/mesos-executor",
      arguments: ["mesos-executor", "--launcher_dir=/opt/bin"],
    });
    assert.deepEqual(info.resources, [
      { name: "cpus", type: "SCALAR", scalar: { value: 0.1 }, allocation_info: { role: "web" } },
      { name: "mem", type: "SCALAR", scalar: { value: 32 }, allocation_info: { role: "web" } },
    ]);
  });

  it("keeps a task's own executor untouched", () => {
    const executor = { executor_id: { value: "custom" }, command: { value: "./run" } };
    const task: TaskInfo = {
      name: "t",
      task_id: { value: "x" },
      agent_id: { value: "S0" },
      executor,
    };
    assert.equal(
      executorInfoFor(framework, task, { launcherDir: "/b", executorPath: "/b/e" }),
      executor,
    );
  });

  it("adds the kill policy grace period plus a margin to the executor's shutdown grace period", () => {
    const task = commandTask("sleep 9", { kill_policy: { grace_period: { nanoseconds: 3e9 } } });
    const info = executorInfoFor(framework, task, { launcherDir: "/b", executorPath: "/b/e" });
    assert.deepEqual(info.shutdown_grace_period, { nanoseconds: 5e9 });
  });

  it("fails the executor readably when mesos-executor is missing", () => {
    const info = executorInfoFor(framework, commandTask("true"), {
      launcherDir: "/b",
      executorPath: undefined,
    });
    assert.equal(info.command?.shell, true);
    assert.match(info.command?.value ?? "", /No such file or directory'; exit 1$/);
  });
});

describe("agent executor command line", () => {
  it("runs shell commands with /bin/sh -c and others with their own argv", () => {
    assert.deepEqual(executorCommand({ value: "echo hi" }), {
      file: "/bin/sh",
      args: ["sh", "-c", "echo hi"],
    });
    assert.deepEqual(
      executorCommand({ shell: false, value: "/x/exec", arguments: ["exec", "-v"] }),
      {
        file: "/x/exec",
        args: ["exec", "-v"],
      },
    );
  });

  it("starts our own mesos-executor with this Node and its bundle, no flags", () => {
    const path = findCommandExecutor(binDir());
    assert.ok(path !== undefined);
    const command = executorCommand({
      shell: false,
      value: path,
      arguments: ["mesos-executor", "--launcher_dir=/opt/bin"],
    });
    const script = commandExecutorScript();
    // The bundle unless it cannot be written here, then the module tree.
    assert.equal(script.entry, script.bundled ? COMMAND_EXECUTOR_BUNDLE : COMMAND_EXECUTOR_ENTRY);
    assert.match(describeCommandExecutorScript(), /^Command executors run from /);
    assert.deepEqual(command, {
      file: process.execPath,
      args: [process.execPath, script.entry],
      signalsReady: true,
    });
  });

  it("starts our own mesos-default-executor with this Node, not its #! script", () => {
    const path = findDefaultExecutor(binDir());
    assert.ok(path !== undefined);
    const command = executorCommand({
      shell: false,
      value: path,
      arguments: ["mesos-default-executor", "--launcher_dir=/opt/bin"],
    });
    assert.deepEqual(command, {
      file: process.execPath,
      args: [process.execPath, defaultExecutorScript().entry],
    });
    const script = defaultExecutorScript();
    assert.equal(script.entry, script.bundled ? DEFAULT_EXECUTOR_BUNDLE : DEFAULT_EXECUTOR_ENTRY);
  });
});

describe("agent default executor command", () => {
  it("runs mesos-default-executor from the launcher dir, or fails saying it is missing", () => {
    assert.deepEqual(defaultExecutorCommand("/b", "/b/mesos-default-executor"), {
      shell: false,
      value: "/b/mesos-default-executor",
      arguments: ["mesos-default-executor", "--launcher_dir=/b"],
    });
    const missing = defaultExecutorCommand("/b", undefined);
    assert.equal(missing.shell, true);
    assert.match(missing.value ?? "", /mesos-default-executor was not found in \/b.*exit 1$/);
  });
});

describe("agent executor environment", () => {
  const input = {
    executor: {
      executor_id: { value: "e1" },
      framework_id: { value: "F-0000" },
      command: {
        value: "x",
        environment: {
          variables: [
            { name: "MESOS_SANDBOX", value: "/override" },
            { name: "TOKEN", type: "SECRET" as const, secret: { type: "REFERENCE" as const } },
            { name: "GREETING", value: "hi" },
          ],
        },
      },
    },
    directory: "/w/sandbox",
    agentId: "S0",
    agentPid: "slave(1)@10.0.0.1:5051",
    agentEndpoint: "10.0.0.1:5051",
    checkpoint: false,
    shutdownGracePeriod: Duration.seconds(5),
    recoveryTimeout: Duration.minutes(15),
    reregistrationTimeout: Duration.seconds(2),
    httpCommandExecutor: false,
    agentEnv: { LIBPROCESS_IP: "10.0.0.1", HOME: "/root", PATH: "/agent/path" },
  };

  it("sets the Mesos variables and nothing of the agent's environment but LIBPROCESS_IP", () => {
    assert.deepEqual(agentExecutorEnvironment(input), {
      LIBPROCESS_IP: "10.0.0.1",
      LIBPROCESS_PORT: "0",
      MESOS_FRAMEWORK_ID: "F-0000",
      MESOS_EXECUTOR_ID: "e1",
      MESOS_DIRECTORY: "/w/sandbox",
      MESOS_SLAVE_ID: "S0",
      MESOS_SLAVE_PID: "slave(1)@10.0.0.1:5051",
      MESOS_AGENT_ENDPOINT: "10.0.0.1:5051",
      MESOS_CHECKPOINT: "0",
      MESOS_HTTP_COMMAND_EXECUTOR: "0",
      MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD: "5secs",
    });
  });

  it("adds recovery settings for checkpointing frameworks and honours the executor's grace period", () => {
    const env = agentExecutorEnvironment({
      ...input,
      checkpoint: true,
      executor: { ...input.executor, shutdown_grace_period: { nanoseconds: 90e9 } },
    });
    assert.equal(env.MESOS_CHECKPOINT, "1");
    assert.equal(env.MESOS_RECOVERY_TIMEOUT, "15mins");
    assert.equal(env.MESOS_SUBSCRIPTION_BACKOFF_MAX, "2secs");
    assert.equal(env.MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD, "90secs");
  });

  it("lets the command's environment win, skips secrets and defaults PATH", () => {
    const env = executorProcessEnvironment(input);
    assert.equal(env.MESOS_SANDBOX, "/override");
    assert.equal(env.GREETING, "hi");
    assert.equal(env.TOKEN, undefined);
    assert.equal(env.PATH, HOST_DEFAULT_PATH);
    assert.equal(env.HOME, undefined);
  });

  it("puts --executor_environment_variables under the Mesos variables", () => {
    const env = executorProcessEnvironment({
      ...input,
      extraVariables: { PATH: "/custom", MESOS_SLAVE_ID: "spoof" },
    });
    assert.equal(env.PATH, "/custom");
    assert.equal(env.MESOS_SLAVE_ID, "S0");
  });
});

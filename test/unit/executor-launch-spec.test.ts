import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeExit, describeSignal } from "../../src/executor/exit-status.js";
import {
  allocationRoleOf,
  buildLaunchSpec,
  type LaunchContext,
  type LaunchSpec,
} from "../../src/executor/launch-spec.js";
import type { CommandInfo } from "../../src/executor/protocol.js";
import { processTree } from "../../src/executor/task-process.js";

const base: LaunchContext = {
  baseEnv: { PATH: "/usr/bin:/bin", HOME: "/home/x", MESOS_SANDBOX: "/sb" },
};

function spec(command: CommandInfo, context = base): LaunchSpec {
  const result = buildLaunchSpec(command, context);
  if ("error" in result) assert.fail(result.error);
  return result;
}

function error(command: CommandInfo, context = base): string {
  const result = buildLaunchSpec(command, context);
  assert.ok("error" in result, "expected an error");
  return result.error;
}

describe("command executor: launch spec", () => {
  it("shell is the default: /bin/sh -c value, arguments ignored", () => {
    const s = spec({ value: "echo $HOME && exit 3", arguments: ["ignored"] });
    assert.equal(s.file, "/bin/sh");
    assert.equal(s.argv0, "sh");
    assert.deepEqual(s.args, ["-c", "echo $HOME && exit 3"]);
  });

  it("shell: false runs value with arguments as the whole argv (argv[0] included)", () => {
    const s = spec({ shell: false, value: "/bin/ls", arguments: ["ls", "-l", "/tmp"] });
    assert.equal(s.file, "/bin/ls");
    assert.equal(s.argv0, "ls");
    assert.deepEqual(s.args, ["-l", "/tmp"]);
  });

  it("shell: false without arguments uses value as argv[0]", () => {
    const s = spec({ shell: false, value: "true" });
    assert.equal(s.argv0, "true");
    assert.deepEqual(s.args, []);
  });

  it("a missing or empty value is an error naming what is missing", () => {
    assert.equal(error({}), "shell command is not specified");
    assert.equal(error({ shell: false, value: "" }), "executable is not specified");
  });

  it("the task inherits the executor environment", () => {
    assert.deepEqual(spec({ value: "true" }).env, base.baseEnv);
  });

  it("CommandInfo variables override inherited ones and are reported as overwritten", () => {
    const s = spec({
      value: "true",
      environment: {
        variables: [
          { name: "HOME", type: "VALUE", value: "/elsewhere" },
          { name: "PATH", value: "/usr/bin:/bin" },
          { name: "NEW", value: "1" },
        ],
      },
    });
    assert.equal(s.env.HOME, "/elsewhere");
    assert.equal(s.env.NEW, "1");
    assert.deepEqual(s.overwritten, ["HOME"], "an identical value is not an overwrite");
  });

  it("precedence: executor env < --task_environment < CommandInfo.environment < MESOS_ALLOCATION_ROLE", () => {
    const s = spec(
      {
        value: "true",
        environment: {
          variables: [
            { name: "A", value: "command" },
            { name: "MESOS_ALLOCATION_ROLE", value: "spoofed" },
          ],
        },
      },
      {
        baseEnv: { A: "executor", B: "executor" },
        taskEnvironment: {
          variables: [
            { name: "A", value: "agent" },
            { name: "B", value: "agent" },
            { name: "S", type: "SECRET", secret: {} },
          ],
        },
        allocationRole: "web",
      },
    );
    assert.deepEqual(s.env, { A: "command", B: "agent", MESOS_ALLOCATION_ROLE: "web" });
  });

  it("a SECRET in CommandInfo.environment keeps the value the agent resolved into the executor's environment", () => {
    const s = spec(
      { value: "true", environment: { variables: [{ name: "PW", type: "SECRET" }] } },
      { baseEnv: { PW: "resolved-by-agent" } },
    );
    assert.equal(s.env.PW, "resolved-by-agent");
  });

  it("bad variables and NUL characters are refused, not passed to spawn", () => {
    assert.match(
      error({ value: "true", environment: { variables: [{ name: "A=B", value: "x" }] } }),
      /invalid name/,
    );
    assert.match(
      error({ value: "true", environment: { variables: [{ name: "A", value: "x\0y" }] } }),
      /invalid value/,
    );
    assert.match(
      error({ value: "true", environment: { variables: [{ name: "A", type: "UNKNOWN" }] } }),
      /unsupported type 'UNKNOWN'/,
    );
    assert.match(error({ value: "a\0b" }), /NUL/);
    assert.match(error({ shell: false, value: "ls", arguments: ["ls", "\0"] }), /NUL/);
  });

  it("the allocation role comes from the first resource", () => {
    assert.equal(
      allocationRoleOf({
        name: "t",
        task_id: { value: "t" },
        agent_id: { value: "a" },
        resources: [
          { name: "cpus", allocation_info: { role: "eng" } },
          { name: "mem", allocation_info: { role: "other" } },
        ],
      }),
      "eng",
    );
    assert.equal(
      allocationRoleOf({ name: "t", task_id: { value: "t" }, agent_id: { value: "a" } }),
      undefined,
    );
  });
});

describe("command executor: exit status words", () => {
  it("an exit code reads 'exited with status N'", () => {
    assert.equal(describeExit(0, null), "exited with status 0");
    assert.equal(describeExit(3, null), "exited with status 3");
  });

  it("a signal reads 'terminated with signal' and glibc's description", () => {
    assert.equal(describeExit(null, "SIGKILL"), "terminated with signal Killed");
    assert.equal(describeExit(null, "SIGTERM"), "terminated with signal Terminated");
    assert.equal(describeSignal("SIGSEGV"), "Segmentation fault");
    assert.equal(describeSignal("SIGWHAT"), "Unknown signal SIGWHAT");
  });
});

describe("command executor: process tree", () => {
  const stat = (pid: number, ppid: number, pgrp: number, session: number) => ({
    pid,
    ppid,
    pgrp,
    session,
  });

  it("collects the group, the session and all descendants of the task, nothing else", () => {
    const stats = [
      stat(1, 0, 1, 1),
      stat(100, 1, 100, 100), // the executor
      stat(200, 100, 200, 200), // the task, session leader
      stat(201, 200, 200, 200), // its child
      stat(202, 201, 202, 202), // a grandchild that called setsid()
      stat(203, 1, 200, 200), // reparented to init, still in the group
      stat(204, 202, 202, 202), // child of the daemonized grandchild
      stat(300, 1, 300, 300), // unrelated
    ];
    assert.deepEqual(
      processTree(200, stats).sort((a, b) => a - b),
      [200, 201, 202, 203, 204],
    );
  });

  it("finds the leftovers of a group whose leader has exited", () => {
    const stats = [stat(1, 0, 1, 1), stat(211, 1, 210, 210), stat(212, 211, 210, 210)];
    assert.deepEqual(
      processTree(210, stats).sort((a, b) => a - b),
      [211, 212],
    );
  });
});

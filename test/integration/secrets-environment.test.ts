/**
 * Secrets in the environment with a real master and agent (default
 * isolation, no root needed): `environment_secret` resolves SECRET
 * variables of command tasks and of task group tasks (nested containers)
 * with the default resolver, a REFERENCE secret fails the launch with
 * Mesos' reason and message, the master refuses malformed secrets, and the
 * agent refuses a `--secret_resolver` module.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, runBinary, stopAll } from "../harness/processes.js";
import { executeTask, scalar } from "./containerizer-helpers.js";

let master: DaemonHandle;
let agent: DaemonHandle;

before(async () => {
  ({ master, agent } = await startOneAgentCluster());
});

after(stopAll);

const small = [scalar("cpus", 0.1), scalar("mem", 32)];
const base64 = (text: string) => Buffer.from(text).toString("base64");
const valueSecret = (text: string) => ({ type: "VALUE", value: { data: base64(text) } });
const secretVariable = (name: string, secret: object) => ({ name, type: "SECRET", secret });

test("environment_secret: a command task sees its VALUE secret in the environment", async () => {
  const run = await executeTask(master, {
    name: "env-secret",
    resources: small,
    command: {
      value: 'test "$TOKEN" = "s3cr3t value" && test "$PLAIN" = plain',
      environment: {
        variables: [
          secretVariable("TOKEN", valueSecret("s3cr3t value")),
          { name: "PLAIN", value: "plain" },
        ],
      },
    },
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
});

test("environment_secret: a REFERENCE secret fails the launch with the default resolver's message", async () => {
  const run = await executeTask(master, {
    name: "env-reference",
    resources: small,
    command: {
      value: "true",
      environment: {
        variables: [
          secretVariable("TOKEN", {
            type: "REFERENCE",
            reference: { name: "/my/secret", key: "username" },
          }),
        ],
      },
    },
  });
  assert.equal(run.finalState, "TASK_FAILED", run.stdout);
  assert.equal(run.reason, "REASON_CONTAINER_LAUNCH_FAILED", run.stdout);
  assert.match(run.message ?? "", /Default secret resolver cannot resolve references/);
});

test("environment_secret: the tasks of a task group (nested containers) see their secrets", async () => {
  const task = (id: string, command: object) => ({
    name: id,
    task_id: { value: id },
    agent_id: { value: "" },
    resources: small,
    command,
  });
  const run = await runBinary(
    "mesos-execute",
    [
      `--master=${master.address}`,
      `--task_group=${JSON.stringify({
        tasks: [
          task("group-secret", {
            value: 'test "$TOKEN" = "nested s3cr3t"',
            environment: { variables: [secretVariable("TOKEN", valueSecret("nested s3cr3t"))] },
          }),
        ],
      })}`,
    ],
    { timeoutMs: 45_000 },
  );
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /TASK_FINISHED/, run.stdout);
});

test("environment_secret: a task group task with a REFERENCE secret fails with the resolver's message", async () => {
  const run = await runBinary(
    "mesos-execute",
    [
      `--master=${master.address}`,
      `--task_group=${JSON.stringify({
        tasks: [
          {
            name: "group-reference",
            task_id: { value: "group-reference" },
            agent_id: { value: "" },
            resources: small,
            command: {
              value: "true",
              environment: {
                variables: [
                  secretVariable("TOKEN", { type: "REFERENCE", reference: { name: "/r" } }),
                ],
              },
            },
          },
        ],
      })}`,
    ],
    { timeoutMs: 45_000 },
  );
  assert.notEqual(run.code, 0, run.stdout);
  assert.match(run.stdout, /TASK_FAILED/, run.stdout);
  assert.match(run.stdout, /Default secret resolver cannot resolve references/, run.stdout);
});

test("master: malformed secrets are refused with TASK_ERROR and Mesos' texts", async () => {
  const refused = async (name: string, variable: object) =>
    executeTask(master, {
      name,
      resources: small,
      command: { value: "true", environment: { variables: [variable] } },
    });
  const noValue = await refused("no-value", secretVariable("TOKEN", { type: "VALUE" }));
  assert.equal(noValue.finalState, "TASK_ERROR", noValue.stdout);
  assert.match(
    noValue.message ?? "",
    /Environment variable 'TOKEN' specifies an invalid secret: Secret of type VALUE must have the 'value' field set/,
  );
  const both = await refused(
    "both",
    secretVariable("TOKEN", {
      type: "REFERENCE",
      reference: { name: "/my/secret" },
      value: { data: base64("x") },
    }),
  );
  assert.equal(both.finalState, "TASK_ERROR", both.stdout);
  assert.match(
    both.message ?? "",
    /Secret '\/my\/secret' of type REFERENCE must not have the 'value' field set/,
  );
  const nul = await refused("nul", secretVariable("TOKEN", valueSecret("a\0b")));
  assert.equal(nul.finalState, "TASK_ERROR", nul.stdout);
  assert.match(nul.message ?? "", /specifies a secret containing null bytes/);
});

test("agent: --secret_resolver names a module, which mesos-ts cannot load: it stops at start", async () => {
  const run = await runBinary(
    "mesos-agent",
    [
      `--master=${master.address}`,
      `--work_dir=${agent.workDir}/second`,
      "--secret_resolver=org_example_VaultResolver",
    ],
    { timeoutMs: 20_000 },
  );
  assert.notEqual(run.code, 0);
  assert.match(
    run.stderr,
    /Failed to initialize secret resolver: Module 'org_example_VaultResolver' unknown/,
  );
});

/**
 * Executor tokens and --acls with a real agent: ACLs that deny every
 * principal the nested-container actions still let the default executor
 * launch and wait for its task group's containers (its token is implicitly
 * authorized under its own container, as in Mesos), while an operator with
 * valid credentials is refused (403).
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { runBinary, stopAll, tempDir } from "../harness/processes.js";
import { FAST_AGENT_FLAGS, FAST_MASTER_FLAGS } from "./master-recovery-helpers.js";

after(stopAll);

test("executor auth: ACLs that deny nested containers to everyone still let the default executor run its task group", async () => {
  const dir = tempDir("executor-implicit-");
  const keyFile = join(dir, "jwt.key");
  writeFileSync(keyFile, "a-secret-only-the-agent-knows", { mode: 0o600 });
  const credentials = join(dir, "credentials.json");
  writeFileSync(credentials, JSON.stringify({ credentials: [{ principal: "ops", secret: "s" }] }));
  const nobody = [{ principals: { type: "ANY" }, users: { type: "NONE" } }];
  const acls = {
    permissive: true,
    launch_nested_containers_as_user: nobody,
    wait_nested_containers: nobody,
    kill_nested_containers: nobody,
    remove_nested_containers: nobody,
  };
  const { master, agent } = await startOneAgentCluster(
    {
      ...FAST_AGENT_FLAGS,
      authenticate_http_executors: true,
      jwt_secret_key: keyFile,
      authenticate_http_readwrite: true,
      http_credentials: credentials,
      acls: JSON.stringify(acls),
    },
    { masterFlags: FAST_MASTER_FLAGS },
  );

  const resources = [
    { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
    { name: "mem", type: "SCALAR", scalar: { value: 32 } },
  ];
  const group = {
    tasks: [
      { name: "nested", task_id: { value: "nested" }, resources, command: { value: "echo hi" } },
    ],
  };
  const run = await runBinary(
    "mesos-execute",
    [`--master=${master.address}`, `--task_group=${JSON.stringify(group)}`],
    { timeoutMs: 45_000 },
  );
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.ok(
    run.stdout.includes("Received status update TASK_FINISHED for task 'nested'"),
    run.stdout,
  );

  // An operator with valid credentials is judged by the ACLs: refused.
  const launch = await fetch(`${agent.url}/api/v1`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Authorization: `Basic ${Buffer.from("ops:s").toString("base64")}`,
    },
    body: JSON.stringify({
      type: "LAUNCH_NESTED_CONTAINER",
      launch_nested_container: {
        container_id: { value: "child", parent: { value: "some-executor" } },
        command: { value: "true" },
      },
    }),
  });
  assert.equal(launch.status, 403, await launch.text());
});

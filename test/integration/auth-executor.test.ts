/**
 * Executor authentication with a real agent (`--authenticate_http_executors`
 * and `--jwt_secret_key`): executors get a token and use it (tasks run),
 * the task does not see it; the executor API refuses calls without a token
 * or with a forged one (401) and calls for another executor's container
 * (403); the agent's read-write operator API takes executor tokens as well.
 * Without the key the agent does not start.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { signJwt } from "../../src/common/auth/jwt.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { getJson, runBinary, stopAll, tempDir, waitFor } from "../harness/processes.js";
import { type Subscription, subscribe, subscribeCall } from "./master-clients.js";
import {
  FAST_AGENT_FLAGS,
  FAST_MASTER_FLAGS,
  launchSleep,
  waitUpdate,
} from "./master-recovery-helpers.js";

const open: Subscription[] = [];
after(async () => {
  for (const s of open) s.close();
  await stopAll();
});

const KEY = "a-secret-only-the-agent-knows";

interface AgentState {
  frameworks?: { id: string; executors?: { id: string; container: string }[] }[];
}

async function executorCall(agentUrl: string, body: unknown, token?: string): Promise<Response> {
  return fetch(`${agentUrl}/api/v1/executor`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json",
      ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(body),
  });
}

test("executor auth: executors use their token (tasks run, and do not see it); no, forged or foreign tokens are refused", async () => {
  const dir = tempDir("executor-key-");
  const keyFile = join(dir, "jwt.key");
  writeFileSync(keyFile, KEY, { mode: 0o600 });
  const credentials = join(dir, "credentials.json");
  writeFileSync(credentials, JSON.stringify({ credentials: [{ principal: "ops", secret: "s" }] }));
  const { master, agent, agentId } = await startOneAgentCluster(
    {
      ...FAST_AGENT_FLAGS,
      authenticate_http_executors: true,
      jwt_secret_key: keyFile,
      authenticate_http_readwrite: true,
      http_credentials: credentials,
    },
    { masterFlags: FAST_MASTER_FLAGS },
  );

  // A command task through mesos-execute: its executor subscribes and sends
  // updates with its token; the task itself has no token in its environment.
  const run = await runBinary(
    "mesos-execute",
    [
      `--master=${master.address}`,
      "--name=token-check",
      '--command=test -z "$MESOS_EXECUTOR_AUTHENTICATION_TOKEN" && echo hi',
      "--resources=cpus:0.1;mem:32",
    ],
    { timeoutMs: 45_000 },
  );
  assert.match(run.stdout, /Received status update TASK_FINISHED/, run.stdout + run.stderr);

  // A long task, to aim calls at a live executor.
  const s = await subscribe(master.url, subscribeCall("tokens"));
  open.push(s);
  s.autoAcknowledge = true;
  await s.nth("SUBSCRIBED");
  await launchSleep(s, "sleeper", agentId);
  await waitUpdate(s, "sleeper", "TASK_RUNNING");
  const frameworkId = s.frameworkId;
  const container = await waitFor("the sleeper's container in the agent's /state", async () => {
    const state = await getJson<AgentState>(`${agent.url}/state`);
    const f = state?.frameworks?.find((x) => x.id === frameworkId);
    return f?.executors?.find((e) => e.id === "sleeper")?.container;
  });
  const message = {
    type: "MESSAGE",
    framework_id: { value: frameworkId },
    executor_id: { value: "sleeper" },
    message: { data: Buffer.from("hello").toString("base64") },
  };

  const none = await executorCall(agent.url, message);
  assert.equal(none.status, 401);
  // Mesos' agent combines the basic and jwt authenticators: both challenges, both bodies.
  assert.equal(
    none.headers.get("www-authenticate"),
    'Basic realm="mesos-agent-executor",Bearer realm="mesos-agent-executor"',
  );
  assert.equal(
    await none.text(),
    '"Basic" authenticator returned:\n401 Unauthorized.\n\n"Bearer" authenticator returned:\n401 Unauthorized.',
  );

  const forged = await executorCall(
    agent.url,
    message,
    signJwt({ fid: frameworkId, eid: "sleeper", cid: container }, "not-the-key"),
  );
  assert.equal(forged.status, 401);
  assert.match(forged.headers.get("www-authenticate") ?? "", /error="invalid_token"/);

  const foreign = await executorCall(
    agent.url,
    message,
    signJwt({ fid: frameworkId, eid: "sleeper", cid: "another-container" }, KEY),
  );
  assert.equal(foreign.status, 403);
  const refusal = await foreign.text();
  assert.match(refusal, /'cid' claim/);
  // The principal is printed as libprocess prints one with claims.
  assert.ok(
    refusal.startsWith(`Authenticated principal '{"claims":{"fid":"${frameworkId}",`),
    refusal,
  );

  const otherExecutor = await executorCall(
    agent.url,
    message,
    signJwt({ fid: frameworkId, eid: "someone-else", cid: container }, KEY),
  );
  assert.equal(otherExecutor.status, 403);
  assert.match(await otherExecutor.text(), /'eid' claim with the executor ID sleeper/);

  const own = await executorCall(
    agent.url,
    message,
    signJwt({ fid: frameworkId, eid: "sleeper", cid: container }, KEY),
  );
  assert.equal(own.status, 202, await own.text());

  // The agent's operator API (read-write realm) takes executor tokens too,
  // as the default executor's nested-container calls need.
  const operator = (authorization?: string) =>
    fetch(`${agent.url}/api/v1`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        ...(authorization === undefined ? {} : { Authorization: authorization }),
      },
      body: JSON.stringify({ type: "GET_CONTAINERS" }),
    });
  assert.equal((await operator()).status, 401);
  const valid = signJwt({ fid: frameworkId, eid: "sleeper", cid: container }, KEY);
  assert.equal((await operator(`Bearer ${valid}`)).status, 200);
  const bad = await operator(`Bearer ${signJwt({ fid: frameworkId }, "not-the-key")}`);
  assert.equal(bad.status, 401);
  assert.match(
    bad.headers.get("www-authenticate") ?? "",
    /^Basic realm="mesos-agent-readwrite",Bearer realm="mesos-agent-readwrite", error="invalid_token", error_description="Invalid JWT: /,
  );
  const basic = `Basic ${Buffer.from("ops:s").toString("base64")}`;
  assert.equal((await operator(basic)).status, 200);
});

test("executor auth: --authenticate_http_executors without --jwt_secret_key stops the agent with a reason", async () => {
  const run = await runBinary(
    "mesos-agent",
    [
      "--master=127.0.0.1:1",
      "--ip=127.0.0.1",
      "--port=0",
      `--work_dir=${tempDir("agent-no-key-")}`,
      "--authenticate_http_executors",
    ],
    { timeoutMs: 20_000 },
  );
  assert.equal(run.code, 1);
  assert.match(
    run.stderr,
    /--jwt_secret_key must be specified when --authenticate_http_executors is set to true/,
  );
});

/**
 * ACCESS_SANDBOX and ACCESS_MESOS_LOG on a real master and agent started
 * with `--acls`: a task's sandbox and the daemons' logs through `/files`
 * (on the agent, and through the master, which checks before forwarding)
 * and through the v1 LIST_FILES / READ_FILE calls. HTTP authentication is
 * off, so a request without credentials has no principal and only rules
 * for ANY principals apply to it.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, runBinary, stopAll, tempDir, waitFor } from "../harness/processes.js";

/** The user mesos-execute's framework (and so its task) runs as. */
const USER = userInfo().username;

/** `ops` may read sandboxes of USER's executors and the logs; everyone else neither. */
const ACLS = {
  permissive: true,
  access_sandboxes: [
    { principals: { values: ["ops"] }, users: { values: [USER] } },
    { principals: { type: "ANY" }, users: { type: "NONE" } },
  ],
  access_mesos_logs: [
    { principals: { values: ["ops"] }, logs: { type: "ANY" } },
    { principals: { type: "ANY" }, logs: { type: "NONE" } },
  ],
};

const q = encodeURIComponent;
const auth = (who: string) => ({
  Authorization: `Basic ${Buffer.from(`${who}:${who}-secret`).toString("base64")}`,
});

let master: DaemonHandle;
let agent: DaemonHandle;
/** `/frameworks/<fid>/executors/<task>/runs/latest` */
let sandbox = "";

async function get(daemon: DaemonHandle, path: string, who?: string): Promise<[number, string]> {
  const r = await fetch(`${daemon.url}${path}`, { headers: who === undefined ? {} : auth(who) });
  return [r.status, await r.text()];
}

async function v1(daemon: DaemonHandle, call: unknown, who?: string): Promise<[number, string]> {
  const r = await fetch(`${daemon.url}/api/v1`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json",
      ...(who === undefined ? {} : auth(who)),
    },
    body: JSON.stringify(call),
  });
  return [r.status, await r.text()];
}

before(async () => {
  const dir = tempDir("files-acls-");
  const credentials = join(dir, "credentials");
  writeFileSync(credentials, "ops ops-secret\neve eve-secret\n");
  const acls = join(dir, "acls.json");
  writeFileSync(acls, JSON.stringify(ACLS));
  ({ master, agent } = await startOneAgentCluster(
    {
      http_credentials: credentials,
      acls: `file://${acls}`,
      log_dir: tempDir("files-acls-agent-log-"),
    },
    {
      masterFlags: {
        credentials: `file://${credentials}`,
        acls: `file://${acls}`,
        log_dir: tempDir("files-acls-master-log-"),
      },
    },
  ));
  const run = await runBinary(
    "mesos-execute",
    [`--master=${master.address}`, "--name=acl-task", "--command=echo acl-hello"],
    { timeoutMs: 60_000 },
  );
  assert.equal(run.code, 0, run.stdout + run.stderr);
  sandbox = await waitFor("the task's sandbox attached on the agent", async () => {
    const debug = (await (await fetch(`${agent.url}/files/debug`)).json()) as Record<
      string,
      string
    >;
    return Object.keys(debug).find((k) => k.endsWith("/executors/acl-task/runs/latest"));
  });
  // The logs are attached a moment after start-up.
  await waitFor("the agent log readable", async () => {
    const [status] = await get(agent, "/files/read?path=/slave/log&offset=0&length=1", "ops");
    return status === 200;
  });
  await waitFor("the master log readable", async () => {
    const [status] = await get(master, "/files/read?path=/master/log&offset=0&length=1", "ops");
    return status === 200;
  });
});

after(stopAll);

describe("files acls", () => {
  test("files acls: the agent serves a sandbox to principals ACCESS_SANDBOX allows, 403 to others", async () => {
    const stdout = q(`${sandbox}/stdout`);
    const [status, text] = await get(agent, `/files/read?path=${stdout}&offset=0`, "ops");
    assert.equal(status, 200, text);
    assert.match((JSON.parse(text) as { data: string }).data, /acl-hello/);
    const frameworkId = sandbox.split("/")[2];
    assert.deepEqual(await get(agent, `/files/browse?path=${q(sandbox)}`, "eve"), [
      403,
      `Principal 'eve' is not authorized to access the sandbox of executor 'acl-task' of framework ${frameworkId}\n`,
    ]);
    const [anonymous, reason] = await get(agent, `/files/download?path=${stdout}`);
    assert.equal(anonymous, 403);
    assert.match(reason, /^Anonymous is not authorized to access the sandbox/);
  });

  test("files acls: the real sandbox path under the work dir is guarded too", async () => {
    const debug = JSON.parse((await get(agent, "/files/debug"))[1]) as Record<string, string>;
    const real = Object.keys(debug).find((k) =>
      /\/slaves\/.*\/executors\/acl-task\/runs\//.test(k),
    );
    assert.ok(real !== undefined, JSON.stringify(debug));
    assert.equal((await get(agent, `/files/browse?path=${q(real)}`, "ops"))[0], 200);
    assert.equal((await get(agent, `/files/browse?path=${q(real)}`, "eve"))[0], 403);
  });

  test("files acls: /slave/log and /master/log need ACCESS_MESOS_LOG", async () => {
    assert.deepEqual(await get(agent, "/files/read?path=/slave/log&offset=-1", "eve"), [
      403,
      "Principal 'eve' is not authorized to access the Mesos log\n",
    ]);
    assert.equal((await get(agent, "/files/browse?path=/slave/log"))[0], 403);
    assert.equal((await get(master, "/files/read?path=/master/log&offset=-1", "ops"))[0], 200);
    assert.deepEqual(await get(master, "/files/download?path=/master/log"), [
      403,
      "Anonymous is not authorized to access the Mesos log\n",
    ]);
  });

  test("files acls: the master refuses a sandbox or agent log before forwarding it", async () => {
    const stdout = q(`${sandbox}/stdout`);
    const [ok, text] = await get(master, `/files/read?path=${stdout}&offset=0`, "ops");
    assert.equal(ok, 200, text);
    const [refused, reason] = await get(master, `/files/read?path=${stdout}&offset=0`, "eve");
    assert.equal(refused, 403);
    assert.match(reason, /^Principal 'eve' is not authorized to access the sandbox/);
    const agentId = sandbox === "" ? "" : await agentIdOf();
    const log = q(`/agents/${agentId}/slave/log`);
    assert.equal((await get(master, `/files/read?path=${log}&offset=-1`, "ops"))[0], 200);
    assert.equal((await get(master, `/files/read?path=${log}&offset=-1`))[0], 403);
  });

  test("files acls: v1 LIST_FILES and READ_FILE apply the same rules on the agent and the master", async () => {
    const list = { type: "LIST_FILES", list_files: { path: sandbox } };
    assert.equal((await v1(agent, list, "ops"))[0], 200);
    assert.equal((await v1(agent, list, "eve"))[0], 403);
    const agentLog = { type: "READ_FILE", read_file: { path: "/slave/log", offset: 0 } };
    assert.equal((await v1(agent, agentLog, "ops"))[0], 200);
    assert.equal((await v1(agent, agentLog))[0], 403);
    const masterLog = { type: "READ_FILE", read_file: { path: "/master/log", offset: 0 } };
    assert.equal((await v1(master, masterLog, "ops"))[0], 200);
    assert.equal((await v1(master, masterLog, "eve"))[0], 403);
  });
});

async function agentIdOf(): Promise<string> {
  const state = JSON.parse((await get(master, "/master/slaves", "ops"))[1]) as {
    slaves: { id: string }[];
  };
  return state.slaves[0]?.id ?? "";
}

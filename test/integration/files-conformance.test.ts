/**
 * The `/files` and small common endpoints of a real master and agent held
 * against Mesos' answers: statuses and one-line bodies for bad input, what
 * a sandbox listing shows, download headers, the master's forwarding of
 * sandbox paths (ours; Mesos answers 404 there) with ids as they are, and
 * `/logging/toggle` / `/metrics/snapshot` parameter errors.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { executorsCheckpointed } from "../harness/checkpoints.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { operatorCall } from "../harness/operator.js";
import {
  binPath,
  type DaemonHandle,
  freePort,
  killProcessGroups,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
} from "../harness/processes.js";

/** A task id with a '%' in it: the virtual path holds it as is. */
const TASK = "pct%41-files";

let master: DaemonHandle;
let agent: DaemonHandle;
/** `/frameworks/<fid>/executors/<TASK>/runs/latest` */
let latest = "";

async function get(daemon: DaemonHandle, path: string): Promise<Response> {
  return fetch(`${daemon.url}${path}`);
}

async function answer(daemon: DaemonHandle, path: string): Promise<[number, string]> {
  const res = await get(daemon, path);
  return [res.status, await res.text()];
}

const q = encodeURIComponent;

before(async () => {
  ({ master, agent } = await startOneAgentCluster(
    { log_dir: tempDir("files-log-") },
    { masterFlags: { log_dir: tempDir("files-master-log-") } },
  ));
  const run = await runBinary(
    "mesos-execute",
    [
      `--master=${master.address}`,
      `--name=${TASK}`,
      "--command=echo sandbox-hello; ln -s loop loop; ln -s nowhere dangling; printf '{}' > data.json",
    ],
    { timeoutMs: 60_000 },
  );
  assert.equal(run.code, 0, run.stdout + run.stderr);
  latest = await waitFor("the finished task's sandbox attached on the agent", async () => {
    const debug = (await (await get(agent, "/files/debug")).json()) as Record<string, string>;
    return Object.keys(debug).find((k) => k.endsWith(`/executors/${TASK}/runs/latest`));
  });
});

after(async () => {
  await stopAll();
});

describe("files conformance", () => {
  test("files: bad offset and length answer 400 with Mesos' wording", async () => {
    const path = q(`${latest}/stdout`);
    assert.deepEqual(await answer(agent, `/files/read?path=${path}&offset=abc`), [
      400,
      "Failed to parse offset: Failed to convert 'abc' to number.\n",
    ]);
    assert.deepEqual(await answer(agent, `/files/read?path=${path}&offset=0&length=x`), [
      400,
      "Failed to parse length: Failed to convert 'x' to number.\n",
    ]);
    assert.deepEqual(await answer(master, `/files/read?path=${path}&offset=-2`), [
      400,
      "Negative offset provided: -2.\n",
    ]);
    assert.deepEqual(await answer(agent, `/files/read?offset=0`), [
      400,
      "Expecting 'path=value' in query.\n",
    ]);
    const sized = (await (await get(agent, `/files/read?path=${path}&offset=-1`)).json()) as {
      offset: number;
      data: string;
    };
    assert.deepEqual(sized, { offset: "sandbox-hello\n".length, data: "" });
    const hex = await get(agent, `/files/read?path=${path}&offset=0x8&length=5`);
    assert.deepEqual(await hex.json(), { offset: 8, data: "hello" });
  });

  test("files: a sandbox listing leaves out links that lead nowhere", async () => {
    const res = await get(agent, `/files/browse?path=${q(latest)}`);
    assert.equal(res.status, 200);
    const names = ((await res.json()) as { path: string }[]).map((e) => e.path.split("/").pop());
    assert.ok(names.includes("stdout"), names.join(","));
    assert.ok(names.includes("data.json"), names.join(","));
    assert.ok(!names.includes("dangling"), names.join(","));
    assert.ok(!names.includes("loop"), names.join(","));
  });

  test("files: a link loop is a 400 naming the host path; a directory cannot be read", async () => {
    const debug = (await (await get(agent, "/files/debug")).json()) as Record<string, string>;
    assert.deepEqual(await answer(agent, `/files/read?path=${q(`${latest}/loop`)}&offset=0`), [
      400,
      `Failed to determine canonical path of '${debug[latest]}/loop': Too many levels of symbolic links.\n`,
    ]);
    assert.deepEqual(await answer(agent, `/files/read?path=${q(latest)}&offset=0`), [
      400,
      "Cannot read a directory.\n",
    ]);
    assert.deepEqual(await answer(agent, `/files/download?path=${q(latest)}`), [
      400,
      "Cannot download a directory.\n",
    ]);
  });

  test("files: the master forwards a sandbox path whose executor id holds '%'", async () => {
    const res = await get(master, `/files/read?path=${q(`${latest}/stdout`)}&offset=0`);
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual(await res.json(), { offset: 0, data: "sandbox-hello\n" });
  });

  test("files: download names, sizes and types the file as libprocess does", async () => {
    for (const daemon of [agent, master]) {
      const json = await get(daemon, `/files/download?path=${q(`${latest}/data.json`)}`);
      assert.equal(json.status, 200);
      assert.equal(json.headers.get("content-type"), "application/octet-stream");
      assert.equal(json.headers.get("content-disposition"), "attachment; filename=data.json");
      // A file goes out whole with its size, as libprocess sends one (not chunked).
      assert.equal(json.headers.get("content-length"), "2");
      assert.equal(await json.text(), "{}");
    }
  });

  test("files v1: LIST_FILES of an empty path is 404 (nothing is attached there)", async () => {
    const listed = await operatorCall(master, { type: "LIST_FILES", list_files: { path: "" } });
    assert.equal(listed.status, 404);
  });

  test("logging toggle and metrics: bad parameters answer with stout's wording", async () => {
    assert.deepEqual(await answer(agent, "/logging/toggle?level=abc&duration=1secs"), [
      400,
      "Failed to convert 'abc' to number.\n",
    ]);
    assert.deepEqual(await answer(master, "/logging/toggle?level=1&duration=1soon"), [
      400,
      "Unknown duration unit 'soon'; supported units are 'ns', 'us', 'ms', 'secs', 'mins', 'hrs', 'days', and 'weeks'.\n",
    ]);
    assert.deepEqual(await answer(master, "/metrics/snapshot?timeout=5"), [
      400,
      "Invalid timeout '5': Invalid duration '5'.\n",
    ]);
  });
});

describe("files through masters and agents that authenticate", () => {
  const basic = `Basic ${Buffer.from("ops:ops-secret").toString("base64")}`;
  let authMaster: DaemonHandle;
  let agentId = "";

  before(async () => {
    const credentials = join(tempDir("files-credentials-"), "credentials");
    writeFileSync(credentials, "ops ops-secret\n");
    authMaster = await startMaster({
      flags: { credentials: `file://${credentials}`, authenticate_http_readonly: true },
    });
    await startAgent({
      master: authMaster.address,
      flags: {
        http_credentials: credentials,
        authenticate_http_readonly: true,
        log_dir: tempDir("files-auth-agent-log-"),
      },
    });
    const res = await waitFor("the agent registered", async () => {
      const r = await fetch(`${authMaster.url}/master/slaves`, {
        headers: { Authorization: basic },
      });
      const slaves = ((await r.json()) as { slaves?: { id: string }[] }).slaves ?? [];
      return slaves[0]?.id;
    });
    agentId = res;
  });

  test("files: the master forwards the client's credentials to the agent", async () => {
    const path = q(`/agents/${agentId}/slave/log`);
    const read = await waitFor("the agent log readable through the master", async () => {
      const r = await fetch(`${authMaster.url}/files/read?path=${path}&offset=0&length=10`, {
        headers: { Authorization: basic },
      });
      return r.status === 200 ? r : undefined;
    });
    assert.equal(((await read.json()) as { offset: number }).offset, 0);
    const anonymous = await fetch(`${authMaster.url}/files/read?path=${path}&offset=0`);
    assert.equal(anonymous.status, 401);
  });
});

describe("files after an agent restart", () => {
  let restartMaster: DaemonHandle;
  let scheduler: ChildProcess | undefined;
  const workDir = tempDir("files-restart-agent-");
  let port = 0;
  let firstAgent: DaemonHandle;
  const agentFlags = () => ({
    work_dir: workDir,
    registration_backoff_factor: "10ms",
    executor_reregistration_timeout: "5secs",
  });

  before(async () => {
    restartMaster = await startMaster();
    port = await freePort();
    firstAgent = await startAgent({ master: restartMaster.address, port, flags: agentFlags() });
  });

  let executorPid: number | undefined;

  after(async () => {
    scheduler?.kill("SIGKILL");
    // The executor outlived its first agent: the teardown asked the second
    // one to end it; whatever is left of it goes now.
    const pid = executorPid;
    if (pid !== undefined) {
      await waitFor("the recovered executor gone", async () => !existsSync(`/proc/${pid}`), {
        timeoutMs: 15_000,
      }).catch(() => killProcessGroups([pid]));
    }
  });

  test("files: a recovered executor's sandbox is attached again after the agent restarts", async () => {
    scheduler = spawn(
      process.execPath,
      [
        binPath("mesos-execute"),
        `--master=${restartMaster.address}`,
        "--name=survivor",
        "--checkpoint",
        "--command=echo survived; sleep 60",
      ],
      { stdio: "ignore" },
    );
    const url = `http://127.0.0.1:${port}`;
    const virtual = await waitFor("the running task's sandbox attached", async () => {
      const debug = (await (await fetch(`${url}/files/debug`)).json()) as Record<string, string>;
      return Object.keys(debug).find((k) => k.endsWith("/executors/survivor/runs/latest"));
    });
    const frameworkId = virtual.split("/")[2] ?? "";
    const containers = (await (await fetch(`${url}/containers`)).json()) as {
      executor_pid?: number;
    }[];
    executorPid = containers[0]?.executor_pid;
    await executorsCheckpointed(workDir);
    firstAgent.kill("SIGKILL");
    await firstAgent.exited;
    await startAgent({ master: restartMaster.address, port, flags: agentFlags() });
    try {
      const read = `${url}/files/read?path=${q(`${virtual}/stdout`)}&offset=0`;
      const res = await waitFor("the recovered sandbox attached", async () => {
        const r = await fetch(read);
        return r.status === 404 ? undefined : r;
      });
      assert.equal(res.status, 200);
      assert.match(((await res.json()) as { data: string }).data, /survived/);
    } finally {
      // The executor outlived the agent: once the agent is back with the
      // master, the framework's teardown ends it.
      await waitFor("the restarted agent registered", async () => {
        const r = await fetch(`${url}/state`);
        const state = (await r.json()) as { master_hostname?: string };
        return state.master_hostname !== undefined && state.master_hostname !== "";
      }).catch(() => undefined);
      await fetch(`${restartMaster.url}/master/teardown`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: `frameworkId=${frameworkId}`,
      });
    }
  });
});

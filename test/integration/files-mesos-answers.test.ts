/**
 * How a real agent (and the master relaying or answering itself) answers
 * files requests that name nothing or leave the sandbox, as Mesos' files
 * process does: a bare 404 for a path that names nothing, 400
 * `'<host path>' is inaccessible.` for one that resolves to an existing
 * file outside the attached directory, over `/files/*` and the v1
 * LIST_FILES / READ_FILE calls in JSON and protobuf.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { codecFor } from "../../src/common/protocol/index.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { typedOperatorCall } from "../harness/operator.js";
import { type DaemonHandle, runBinary, stopAll, tempDir, waitFor } from "../harness/processes.js";

const TASK = "files-answers";
const agentCodecs = {
  call: codecFor("mesos.v1.agent.Call"),
  response: codecFor("mesos.v1.agent.Response"),
};
const masterCodecs = {
  call: codecFor("mesos.v1.master.Call"),
  response: codecFor("mesos.v1.master.Response"),
};
const q = encodeURIComponent;

let master: DaemonHandle;
let agent: DaemonHandle;
/** `/frameworks/<fid>/executors/<TASK>/runs/latest` */
let latest = "";
/** The sandbox's real path, as `/files/debug` shows it. */
let host = "";

async function answer(daemon: DaemonHandle, path: string): Promise<[number, string]> {
  const res = await fetch(`${daemon.url}${path}`);
  return [res.status, await res.text()];
}

before(async () => {
  const outside = tempDir("files-answers-outside-");
  writeFileSync(join(outside, "secret"), "not for the sandbox\n");
  ({ master, agent } = await startOneAgentCluster());
  const run = await runBinary(
    "mesos-execute",
    [
      `--master=${master.address}`,
      `--name=${TASK}`,
      `--command=echo hi; ln -s ${join(outside, "secret")} out; ln -s ${join(outside, "gone")} gone`,
    ],
    { timeoutMs: 60_000 },
  );
  assert.equal(run.code, 0, run.stdout + run.stderr);
  [latest, host] = await waitFor("the finished task's sandbox attached on the agent", async () => {
    const res = await fetch(`${agent.url}/files/debug`);
    const debug = (await res.json()) as Record<string, string>;
    const key = Object.keys(debug).find((k) => k.endsWith(`/executors/${TASK}/runs/latest`));
    return key === undefined ? undefined : ([key, debug[key] as string] as const);
  });
});

after(async () => {
  await stopAll();
});

describe("files answers as Mesos'", () => {
  test("files: a path that names nothing is a 404 with an empty body, on the agent and through the master", async () => {
    for (const daemon of [agent, master]) {
      for (const path of [`${latest}/nosuch`, `${latest}/gone`, `${latest}/stdout/x`]) {
        for (const endpoint of ["browse", "read", "download"]) {
          assert.deepEqual(
            await answer(daemon, `/files/${endpoint}?path=${q(path)}&offset=0`),
            [404, ""],
            `${daemon === agent ? "agent" : "master"} ${endpoint} ${path}`,
          );
        }
      }
    }
    assert.deepEqual(await answer(agent, `/files/browse?path=${q("/no/such/attachment")}`), [
      404,
      "",
    ]);
    assert.deepEqual(
      await answer(master, `/files/read?path=${q("/no/such/attachment")}&offset=0`),
      [404, ""],
    );
  });

  test("files: a link or '..' out of the sandbox is 400 naming the host path, relayed by the master", async () => {
    for (const daemon of [agent, master]) {
      for (const endpoint of ["browse", "read", "download"]) {
        assert.deepEqual(
          await answer(daemon, `/files/${endpoint}?path=${q(`${latest}/out`)}&offset=0`),
          [400, `'${host}/out' is inaccessible.\n`],
          endpoint,
        );
      }
    }
    // The sandbox's parents exist: walking up out of it is refused the same way.
    const up = "../../../../..";
    assert.deepEqual(await answer(agent, `/files/browse?path=${q(`${latest}/${up}`)}`), [
      400,
      `'${host}/${up}' is inaccessible.\n`,
    ]);
    // Inside the sandbox all is well.
    const [status, body] = await answer(
      agent,
      `/files/read?path=${q(`${latest}/stdout`)}&offset=0`,
    );
    assert.equal(status, 200, body);
  });

  test("files v1: LIST_FILES and READ_FILE map the same answers to 404 and 400, in JSON and protobuf", async () => {
    for (const format of ["json", "protobuf"] as const) {
      const missing = await typedOperatorCall(
        agent,
        agentCodecs,
        { type: "LIST_FILES", list_files: { path: `${latest}/nosuch` } },
        format,
      );
      assert.equal(missing.status, 404, `${format}: ${missing.text}`);
      assert.equal(missing.text, "");
      const read = await typedOperatorCall(
        agent,
        agentCodecs,
        { type: "READ_FILE", read_file: { path: `${latest}/nosuch`, offset: 0 } },
        format,
      );
      assert.equal(read.status, 404, `${format}: ${read.text}`);
      assert.equal(read.text, "");
      for (const call of [
        { type: "LIST_FILES", list_files: { path: `${latest}/out` } },
        { type: "READ_FILE", read_file: { path: `${latest}/out`, offset: 0 } },
      ] as const) {
        const escaped = await typedOperatorCall(agent, agentCodecs, call, format);
        assert.equal(escaped.status, 400, `${format} ${call.type}: ${escaped.text}`);
        assert.equal(escaped.text.trimEnd(), `'${host}/out' is inaccessible.`);
      }
      const onMaster = await typedOperatorCall(
        master,
        masterCodecs,
        { type: "LIST_FILES", list_files: { path: "/no/such/attachment" } },
        format,
      );
      assert.equal(onMaster.status, 404, `${format}: ${onMaster.text}`);
      assert.equal(onMaster.text, "");
    }
  });
});

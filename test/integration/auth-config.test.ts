/**
 * Bad security configuration stops mesos-master (and mesos-agent) at start
 * with exit code 1 and a line naming the file (or flag) and the problem.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { freePort, runBinary, startMaster, stopAll, tempDir } from "../harness/processes.js";

after(stopAll);

async function masterFails(extra: string[]): Promise<string> {
  const port = await freePort();
  const r = await runBinary(
    "mesos-master",
    [
      "--ip=127.0.0.1",
      `--port=${port}`,
      "--registry=in_memory",
      `--work_dir=${tempDir()}`,
      ...extra,
    ],
    { timeoutMs: 30_000 },
  );
  assert.equal(r.code, 1, `expected exit code 1, got ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stderr;
}

async function agentFails(extra: string[]): Promise<string> {
  const r = await runBinary(
    "mesos-agent",
    ["--master=127.0.0.1:1", `--port=${await freePort()}`, `--work_dir=${tempDir()}`, ...extra],
    { timeoutMs: 30_000 },
  );
  assert.equal(r.code, 1, `expected exit code 1, got ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stderr;
}

function file(name: string, text: string): string {
  const path = join(tempDir(), name);
  writeFileSync(path, text);
  return path;
}

describe("auth: bad configuration stops the master", () => {
  it("an ACL file that is not JSON is named in the error", async () => {
    const path = file("acls.json", "{ not json");
    const stderr = await masterFails([`--acls=file://${path}`]);
    assert.match(stderr, new RegExp(path.replace(/[.]/g, "\\.")));
  });

  it("an ACL rule without its object names the file, the rule and the fields it needs", async () => {
    const path = file("acls.json", '{"view_flags": [{"principals": {"type": "ANY"}}]}');
    const stderr = await masterFails([`--acls=file://${path}`]);
    assert.ok(stderr.includes(path), stderr);
    assert.match(stderr, /view_flags\[0\]: 'flags' is required/);
  });

  it("a get_endpoints rule on a path that cannot be authorized is refused", async () => {
    const acls = JSON.stringify({
      get_endpoints: [{ principals: { type: "ANY" }, paths: { values: ["/state"] } }],
    });
    const stderr = await masterFails([`--acls=${acls}`]);
    assert.match(
      stderr,
      /--acls: get_endpoints\[0\]\.paths: '\/state' is not an authorizable path/,
    );
  });

  it("a credentials file with a bad line names the file and the line", async () => {
    const path = file("credentials", "alice secret\nbob\n");
    const stderr = await masterFails([`--credentials=${path}`]);
    assert.ok(stderr.includes(`Failed to load credentials from '${path}': line 2`), stderr);
  });

  it("a missing credentials file is named", async () => {
    const stderr = await masterFails(["--credentials=file:///nonexistent/creds.json"]);
    assert.ok(stderr.includes("'/nonexistent/creds.json'"), stderr);
  });

  it("a rate limits file with a negative qps names the file and the field", async () => {
    const path = file("limits.json", '{"limits":[{"principal":"a","qps":-1}]}');
    const stderr = await masterFails([`--rate_limits=file://${path}`]);
    assert.ok(stderr.includes(path), stderr);
    assert.match(stderr, /limits\[0\]\.qps must be a positive number/);
  });

  it("an empty credentials file stops the master, a standby (--zk) too, as in Mesos", async () => {
    const path = file("credentials", "");
    const zk = `--zk=zk://127.0.0.1:${await freePort()}/mesos`;
    for (const extra of [[], [zk]]) {
      const stderr = await masterFails([`--credentials=${path}`, ...extra]);
      assert.ok(
        stderr.includes(
          "mesos-master: Credentials file must contain at least one credential " +
            "(see --credentials flag)",
        ),
        stderr,
      );
    }
  });

  it("an empty --http_credentials or --credential file stops the agent, as in Mesos", async () => {
    const path = file("credentials", "");
    const http = await agentFails([`--http_credentials=${path}`]);
    assert.ok(
      http.includes(
        "mesos-agent: Credentials file must contain at least one credential " +
          "(see --http_credentials flag)",
      ),
      http,
    );
    const own = await agentFails([`--credential=file://${path}`]);
    assert.ok(
      own.includes(`mesos-agent: Empty credential file '${path}' (see --credential flag)`),
      own,
    );
  });

  it("HTTP authentication without credentials is refused, naming the realm", async () => {
    const stderr = await masterFails(["--authenticate_http_readonly"]);
    assert.match(stderr, /No credentials provided .* realm 'mesos-master-readonly'/);
  });
});

describe("auth: what Mesos ignores in a configuration file", () => {
  it("ACL and rate limit keys of no Mesos field are ignored; the known rules apply", async () => {
    const acls = file(
      "acls.json",
      JSON.stringify({
        run_taskz: [],
        view_flags: [{ principals: { type: "ANY" }, flags: { type: "NONE" }, note: "nobody" }],
      }),
    );
    const limits = file(
      "limits.json",
      JSON.stringify({ limits: [{ principal: "a", qps: 10, owner: "ops" }], comment: "x" }),
    );
    const master = await startMaster({
      flags: { acls: `file://${acls}`, rate_limits: `file://${limits}` },
    });
    const response = await fetch(`${master.url}/master/flags`);
    assert.equal(response.status, 403, "the view_flags rule applies");
  });
});

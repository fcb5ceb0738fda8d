/**
 * Start-up flag handling of the real binaries compared with Mesos':
 * `--weights` without `--roles`, the allocator name and sorters, which
 * `LIBPROCESS_*` variables count and what `/flags` then shows,
 * `--http_framework_authenticators` with `--authenticate_http_frameworks`, protobuf
 * required fields of `--domain`, the agent's `--authorizer`,
 * `--registration_backoff_factor`, work directories, `--modules` it does
 * not load, and a closed
 * stdout (`--help | head`).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  binPath,
  environmentWithoutProxies,
  freePort,
  getJson,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
} from "../harness/processes.js";

after(stopAll);

/** The lines a failed start wrote to stderr that are not log lines. */
function messageLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l !== "" && !/^[IWE]\d{4} /.test(l));
}

test("--weights without --roles takes any role name and the last weight of a repeated role", async () => {
  const master = await startMaster({ flags: { weights: "eng/../x=2,a=3,a=1.5" } });
  const weights = await waitFor("the --weights in /weights", async () => {
    const got = await getJson<{ role: string; weight: number }[]>(`${master.url}/weights`);
    return got !== undefined && got.length === 2 ? got : undefined;
  });
  assert.deepEqual(
    [...weights].sort((a, b) => (a.role < b.role ? -1 : 1)),
    [
      { role: "a", weight: 1.5 },
      { role: "eng/../x", weight: 2 },
    ],
  );
});

test("--weights with --roles: a role off the whitelist stops the master with Mesos' line", async () => {
  const port = await freePort();
  const r = await runBinary("mesos-master", [
    "--ip=127.0.0.1",
    `--port=${port}`,
    "--registry=in_memory",
    "--roles=a",
    "--weights=b=2",
  ]);
  assert.equal(r.code, 1);
  assert.deepEqual(messageLines(r.stderr), [
    "mesos-master: Invalid weight: 'b=2'. b is not a valid role",
  ]);
});

test("--allocator=HierarchicalDRF is the built-in allocator, as in Mesos", async () => {
  const master = await startMaster({ flags: { allocator: "HierarchicalDRF" } });
  const flags = await getJson<{ flags: Record<string, string> }>(`${master.url}/flags`);
  assert.equal(flags?.flags.allocator, "HierarchicalDRF");
});

test("unequal --role_sorter and --framework_sorter stop the master, a standby (--zk) too, before it listens", async () => {
  const port = await freePort();
  const zkPort = await freePort();
  for (const extra of [[], [`--zk=zk://127.0.0.1:${zkPort}/mesos`]]) {
    const r = await runBinary("mesos-master", [
      "--ip=127.0.0.1",
      `--port=${port}`,
      "--registry=in_memory",
      "--role_sorter=random",
      ...extra,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(messageLines(r.stderr), [
      "mesos-master: Failed to create allocator 'hierarchical': Unsupported combination of " +
        "'role_sorter' and 'framework_sorter': must be equal (for now)",
    ]);
    assert.doesNotMatch(r.stderr, /Listening on/);
  }
});

test("--authenticate_http_frameworks without --http_framework_authenticators stops the master, as in Mesos", async () => {
  const dir = tempDir("flags-startup-");
  const credentials = join(dir, "credentials.json");
  writeFileSync(credentials, JSON.stringify({ credentials: [{ principal: "p", secret: "s" }] }));
  const r = await runBinary("mesos-master", [
    "--ip=127.0.0.1",
    `--port=${await freePort()}`,
    "--registry=in_memory",
    `--credentials=${credentials}`,
    "--authenticate_http_frameworks",
  ]);
  assert.equal(r.code, 1);
  assert.deepEqual(messageLines(r.stderr), [
    "mesos-master: Missing `--http_framework_authenticators` flag. This must be used in " +
      "conjunction with `--authenticate_http_frameworks`",
  ]);
  const master = await startMaster({
    flags: {
      credentials,
      authenticate_http_frameworks: true,
      http_framework_authenticators: "basic",
    },
  });
  const response = await fetch(`${master.url}/api/v1/scheduler`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      type: "SUBSCRIBE",
      subscribe: { framework_info: { user: "u", name: "n" } },
    }),
  });
  assert.equal(response.status, 401);
});

test("path flags (--credentials, --whitelist) drop a leading file:// as Mesos' Path flags, /flags too", async () => {
  const dir = tempDir("flags-startup-");
  const credentials = join(dir, "credentials.json");
  writeFileSync(credentials, JSON.stringify({ credentials: [{ principal: "p", secret: "s" }] }));
  const whitelist = join(dir, "whitelist");
  writeFileSync(whitelist, "localhost\n");
  const master = await startMaster({
    flags: { credentials: `file://${credentials}`, whitelist: `file://${whitelist}` },
  });
  const flags = await getJson<{ flags: Record<string, string> }>(`${master.url}/flags`);
  assert.equal(flags?.flags.credentials, credentials);
  assert.equal(flags?.flags.whitelist, whitelist);
});

test("LIBPROCESS_IP binds the master without counting as --ip in /flags", async () => {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      binPath("mesos-master"),
      `--port=${port}`,
      "--registry=in_memory",
      `--work_dir=${tempDir("flags-startup-")}`,
      "--no-hostname_lookup",
    ],
    {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...environmentWithoutProxies(), LIBPROCESS_IP: "127.0.0.1" },
    },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    const flags = await waitFor(
      "the master's /flags",
      () => getJson<{ flags: Record<string, string> }>(`http://127.0.0.1:${port}/flags`),
      { timeoutMs: 60_000 },
    );
    assert.equal(flags.flags.port, String(port));
    assert.equal(flags.flags.ip, undefined);
  } finally {
    child.kill("SIGKILL");
    await exited;
  }
});

test("LIBPROCESS_PORT does not move the master off its --port default (5050), as in Mesos", async () => {
  const ignored = await freePort();
  const workDir = tempDir("flags-startup-");
  let stderr = "";
  const child = spawn(
    process.execPath,
    [binPath("mesos-master"), "--registry=in_memory", `--work_dir=${workDir}`],
    {
      stdio: ["ignore", "ignore", "pipe"],
      env: {
        ...environmentWithoutProxies(),
        LIBPROCESS_IP: "127.0.0.1",
        LIBPROCESS_PORT: String(ignored),
      },
    },
  );
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  let code: number | null | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (c) => {
      code = c;
      resolve();
    }),
  );
  try {
    // Either this master serves on 5050, or 5050 is taken on this machine and it says so.
    const outcome = await waitFor(
      "the master on 5050, or its failure to bind 5050",
      async () => {
        if (code !== undefined) return "exited";
        const got = await getJson<{ flags: Record<string, string> }>("http://127.0.0.1:5050/flags");
        return got?.flags.work_dir === workDir ? "serving" : undefined;
      },
      { timeoutMs: 60_000 },
    );
    if (outcome === "exited") {
      assert.match(stderr, /Failed to listen on 127\.0\.0\.1:5050/);
    }
    const other = await fetch(`http://127.0.0.1:${ignored}/health`).then(
      (r) => r.status,
      () => "refused",
    );
    assert.equal(other, "refused");
  } finally {
    child.kill("SIGKILL");
    await exited;
  }
});

test("--domain without a zone fails to load, as Mesos' required protobuf fields do", async () => {
  const r = await runBinary("mesos-master", [
    "--registry=in_memory",
    '--domain={"fault_domain":{"region":{"name":"r"}}}',
  ]);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    "Failed to load flag 'domain': Missing required fields: fault_domain.zone\n\n" +
      "See `mesos-master --help` for a list of supported flags.\n",
  );
});

test("the agent's --authorizer other than 'local' stops it at start (it was accepted and ignored)", async () => {
  const r = await runBinary("mesos-agent", [
    "--master=127.0.0.1:1",
    `--work_dir=${tempDir("flags-startup-")}`,
    "--authorizer=com_example_Authorizer",
  ]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^Could not create 'com_example_Authorizer' authorizer: only the built-in 'local' authorizer exists/,
  );
});

test("the agent: --registration_backoff_factor above 1mins and a work directory it cannot make stop it at start", async () => {
  const backoff = await runBinary("mesos-agent", [
    "--master=127.0.0.1:1",
    `--work_dir=${tempDir("flags-startup-")}`,
    "--registration_backoff_factor=2mins",
  ]);
  assert.equal(backoff.code, 1);
  assert.match(
    backoff.stderr,
    /^Invalid value '2mins' for --registration_backoff_factor: Must be less than 1mins\n/,
  );
  const notADir = join(tempDir("flags-startup-"), "file");
  writeFileSync(notADir, "");
  const workDir = await runBinary("mesos-agent", [
    "--ip=127.0.0.1",
    `--port=${await freePort()}`,
    "--master=127.0.0.1:1",
    `--work_dir=${notADir}/work`,
  ]);
  assert.equal(workDir.code, 1);
  assert.deepEqual(messageLines(workDir.stderr), [
    `mesos-agent: Failed to create agent work directory '${notADir}/work': Not a directory`,
  ]);
});

test("the master: a --work_dir it cannot make stops it before it listens", async () => {
  const notADir = join(tempDir("flags-startup-"), "file");
  writeFileSync(notADir, "");
  const r = await runBinary("mesos-master", [
    "--ip=127.0.0.1",
    `--port=${await freePort()}`,
    `--work_dir=${notADir}/work`,
  ]);
  assert.equal(r.code, 1);
  assert.deepEqual(messageLines(r.stderr), [
    `mesos-master: Failed to create work directory '${notADir}/work': Not a directory`,
  ]);
  assert.doesNotMatch(r.stderr, /Listening on/);
});

test("a work directory under /proc (which cannot be made) stops master, agent and mesos-local with Mesos' line", async () => {
  // Node's recursive mkdir never returns for such a path; the daemons must
  // still end at once. A killed run (the timeout) has no exit code.
  const dir = `/proc/mesos-ts-no-such-entry-${process.pid}/work`;
  const runs = [
    {
      binary: "mesos-master",
      args: ["--ip=127.0.0.1", `--port=${await freePort()}`, `--work_dir=${dir}`],
      line: `mesos-master: Failed to create work directory '${dir}': No such file or directory`,
    },
    {
      binary: "mesos-agent",
      args: ["--master=127.0.0.1:1", `--port=${await freePort()}`, `--work_dir=${dir}`],
      line: `mesos-agent: Failed to create agent work directory '${dir}': No such file or directory`,
    },
    {
      binary: "mesos-local",
      args: ["--ip=127.0.0.1", `--port=${await freePort()}`, `--work_dir=${dir}`],
      line:
        `mesos-local: Failed to create the work_dir for master '${dir}/master': ` +
        "No such file or directory",
    },
  ];
  for (const run of runs) {
    const r = await runBinary(run.binary, run.args, { timeoutMs: 30_000 });
    assert.equal(r.code, 1, `${run.binary} ends by itself with 1: ${r.stderr}`);
    assert.deepEqual(messageLines(r.stderr), [run.line]);
  }
});

test("the agent warns of each module in --modules it does not load (Mesos would load the library)", async () => {
  const master = await startMaster();
  const agent = await startAgent({
    master: master.address,
    flags: {
      modules: JSON.stringify({
        libraries: [
          {
            file: "/usr/lib/libexample.so",
            modules: [{ name: "org_example_Hook" }, "org_apache_mesos_LogrotateContainerLogger"],
          },
        ],
      }),
    },
  });
  await waitFor("the module warning in the agent's log", () =>
    agent
      .logs()
      .includes("Module 'org_example_Hook' (library '/usr/lib/libexample.so') is not loaded"),
  );
  assert.doesNotMatch(agent.logs(), /Module 'org_apache_mesos_LogrotateContainerLogger'/);
});

test("--help into a closed pipe ends quietly with 0 (no EPIPE stack trace)", async () => {
  for (const binary of ["mesos-master", "mesos-agent", "mesos-local"]) {
    const child = spawn(process.execPath, [binPath(binary), "--help"], {
      stdio: ["ignore", "pipe", "pipe"],
      env: environmentWithoutProxies(),
    });
    // The reader is gone before the program writes anything.
    child.stdout.destroy();
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    const code = await new Promise<number | null>((resolve) =>
      child.once("close", (c) => resolve(c)),
    );
    assert.equal(stderr, "", `${binary}: ${stderr}`);
    assert.equal(code, 0, binary);
  }
});

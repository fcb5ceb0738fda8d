/**
 * Flags that used to parse without effect: --ip_discovery_command,
 * --firewall_rules (master and agent), --require_agent_domain, --allocator, the agent's --http_authenticators.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, test } from "node:test";
import {
  binPath,
  freePort,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
  waitForAgents,
} from "../harness/processes.js";

after(stopAll);

test("ip_discovery_command: the master listens on the discovered address only", async () => {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      binPath("mesos-master"),
      "--ip_discovery_command=echo '  127.0.0.2'",
      `--port=${port}`,
      "--registry=in_memory",
      `--work_dir=${tempDir("flags-ipdisc-")}`,
      "--no-hostname_lookup",
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LIBPROCESS_IP: "127.0.0.1" } },
  );
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    output += d;
  });
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    output += d;
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    const flags = await waitFor(
      "the master on 127.0.0.2",
      async () => {
        if (child.exitCode !== null) throw new Error(`master exited:\n${output}`);
        const r = await fetch(`http://127.0.0.2:${port}/flags`).catch(() => undefined);
        return r?.status === 200
          ? ((await r.json()) as { flags: Record<string, string> })
          : undefined;
      },
      { timeoutMs: 30_000 },
    );
    assert.equal(flags.flags.ip_discovery_command, "echo '  127.0.0.2'");
    assert.equal(flags.flags.ip, undefined);
    // Bound to the discovered address, not to every interface nor LIBPROCESS_IP.
    const other = await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.status,
      () => "refused",
    );
    assert.equal(other, "refused");
    const state = (await (await fetch(`http://127.0.0.2:${port}/master/state`)).json()) as {
      pid: string;
    };
    assert.equal(state.pid, `master@127.0.0.2:${port}`);
  } finally {
    child.kill("SIGKILL");
    await exited;
  }
});

test("ip_discovery_command: output that is not an IP address stops the master", async () => {
  const r = await runBinary(
    "mesos-master",
    [
      "--ip_discovery_command=echo not-an-address",
      "--registry=in_memory",
      `--port=${await freePort()}`,
    ],
    { timeoutMs: 30_000 },
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /printed 'not-an-address', which is not an IP address/);
});

test("ip_discovery_command: a failing command stops the agent", async () => {
  const r = await runBinary(
    "mesos-agent",
    [
      "--ip_discovery_command=exit 7",
      "--master=127.0.0.1:1",
      `--work_dir=${tempDir("flags-ipdisc-agent-")}`,
    ],
    { timeoutMs: 30_000 },
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Failed to run --ip_discovery_command 'exit 7'/);
});

test("firewall_rules: the master answers 403 on disabled endpoints only", async () => {
  const master = await startMaster({
    flags: {
      firewall_rules: JSON.stringify({
        disabled_endpoints: { paths: ["/state", "/metrics/snapshot"] },
      }),
    },
  });
  for (const path of ["/state", "/master/state"]) {
    const r = await fetch(`${master.url}${path}`);
    assert.equal(r.status, 403, path);
    assert.equal(await r.text(), "Endpoint '/master/state' is disabled");
  }
  const metrics = await fetch(`${master.url}/metrics/snapshot`);
  assert.equal(metrics.status, 403);
  assert.equal((await fetch(`${master.url}/master/state-summary`)).status, 200);
  assert.equal((await fetch(`${master.url}/health`)).status, 200);
  await master.stop();
});

test("firewall_rules: the agent answers 403 on disabled endpoints only", async () => {
  const master = await startMaster();
  const agent = await startAgent({
    master: master.address,
    flags: { firewall_rules: JSON.stringify({ disabled_endpoints: { paths: ["/state"] } }) },
  });
  for (const path of ["/state", "/slave(1)/state"]) {
    const r = await fetch(`${agent.url}${path}`);
    assert.equal(r.status, 403, path);
    assert.equal(await r.text(), "Endpoint '/slave(1)/state' is disabled");
  }
  assert.equal((await fetch(`${agent.url}/slave(1)/flags`)).status, 200);
  assert.equal((await fetch(`${agent.url}/health`)).status, 200);
  await agent.stop();
  await master.stop();
});

test("require_agent_domain: an agent without --domain is ignored, one with a domain registers", async () => {
  const domain = JSON.stringify({
    fault_domain: { region: { name: "r1" }, zone: { name: "z1" } },
  });
  // The master needs a domain of its own: one without ignores agents that have one, as in Mesos.
  const master = await startMaster({ flags: { require_agent_domain: true, domain } });
  const plain = await startAgent({
    master: master.address,
    flags: { registration_backoff_factor: "100ms" },
  });
  await waitFor("the master to ignore the agent without a domain", async () =>
    master.logs().includes("attempted to register without a domain") ? true : undefined,
  );
  const placed = await startAgent({ master: master.address, flags: { domain } });
  const ids = await waitForAgents(master, 1);
  assert.equal(ids.length, 1);
  const state = (await (await fetch(`${master.url}/master/state`)).json()) as {
    slaves: { hostname: string; port: number }[];
  };
  assert.deepEqual(
    state.slaves.map((a) => a.port),
    [placed.port],
  );
  await plain.stop();
  await placed.stop();
  await master.stop();
});

test("allocator: a name other than 'hierarchical' (or its old name 'HierarchicalDRF') stops the master at start", async () => {
  const r = await runBinary(
    "mesos-master",
    [
      "--allocator=org_example_Allocator",
      "--registry=in_memory",
      "--ip=127.0.0.1",
      `--port=${await freePort()}`,
    ],
    { timeoutMs: 30_000 },
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Failed to create allocator 'org_example_Allocator'/);
});

test("http_authenticators: the agent refuses an authenticator it does not have", async () => {
  const r = await runBinary(
    "mesos-agent",
    [
      "--http_authenticators=custom",
      "--master=127.0.0.1:1",
      "--ip=127.0.0.1",
      `--port=${await freePort()}`,
      `--work_dir=${tempDir("flags-httpauth-agent-")}`,
    ],
    { timeoutMs: 30_000 },
  );
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /--http_authenticators=custom: 'custom' is not a built-in HTTP authenticator/,
  );
});

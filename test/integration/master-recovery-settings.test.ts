/**
 * Quota, weights and maintenance survive a SIGKILL of a real mesos-master
 * (durable registry in --work_dir): after the restart GET_QUOTA,
 * GET_WEIGHTS, GET_MAINTENANCE_SCHEDULE and GET_MAINTENANCE_STATUS answer
 * what they answered before, stored weights win over a changed --weights,
 * and an agent on the DOWN machine is still refused.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import {
  type DaemonHandle,
  freePort,
  getJson,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
  waitForAgents,
} from "../harness/processes.js";
import { FAST_AGENT_FLAGS, FAST_MASTER_FLAGS } from "./master-recovery-helpers.js";

after(() => stopAll());

/** POSTs a v1 operator call (JSON); returns status and body text. */
async function operator(
  master: DaemonHandle,
  call: Record<string, unknown>,
): Promise<{ status: number; body: string }> {
  const response = await fetch(`${master.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(call),
  });
  return { status: response.status, body: await response.text() };
}

async function read(master: DaemonHandle, type: string): Promise<unknown> {
  const answer = await operator(master, { type });
  assert.equal(answer.status, 200, `${type}: ${answer.body}`);
  return JSON.parse(answer.body);
}

const READS = [
  "GET_QUOTA",
  "GET_WEIGHTS",
  "GET_MAINTENANCE_SCHEDULE",
  "GET_MAINTENANCE_STATUS",
] as const;

test("master restart: quota, weights and the maintenance schedule come back from the registry; a DOWN machine's agent stays refused", async () => {
  const port = await freePort();
  const workDir = tempDir("master-settings-");
  const flags = {
    ...FAST_MASTER_FLAGS,
    registry: "replicated_log",
    work_dir: workDir,
    weights: "ops=2",
  };
  const master = await startMaster({ port, flags });
  const downAgent = await startAgent({
    master: master.address,
    flags: { ...FAST_AGENT_FLAGS, hostname: "down-host" },
  });
  await waitForAgents(master, 1);

  const set = async (call: Record<string, unknown>) => {
    const answer = await operator(master, call);
    assert.equal(answer.status, 200, `${String(call.type)}: ${answer.body}`);
  };
  await set({
    type: "UPDATE_QUOTA",
    update_quota: {
      force: true,
      quota_configs: [
        { role: "dev", guarantees: { cpus: { value: 0.5 } }, limits: { cpus: { value: 1 } } },
      ],
    },
  });
  await set({
    type: "UPDATE_WEIGHTS",
    update_weights: { weight_infos: [{ role: "dev", weight: 3 }] },
  });
  const start = (Date.now() + 3_600_000) * 1_000_000;
  await set({
    type: "UPDATE_MAINTENANCE_SCHEDULE",
    update_maintenance_schedule: {
      schedule: {
        windows: [
          {
            machine_ids: [{ hostname: "down-host", ip: "127.0.0.1" }, { hostname: "drain-host" }],
            unavailability: { start: { nanoseconds: start }, duration: { nanoseconds: 3.6e12 } },
          },
        ],
      },
    },
  });
  await set({
    type: "START_MAINTENANCE",
    start_maintenance: { machines: [{ hostname: "down-host", ip: "127.0.0.1" }] },
  });
  await waitFor(
    "the DOWN machine's agent to exit",
    () => downAgent.child.exitCode !== null || downAgent.child.signalCode !== null,
    { timeoutMs: 20_000 },
  );

  const before = new Map<string, unknown>();
  for (const type of READS) before.set(type, await read(master, type));
  // What was set is what the reads show (the test would pass vacuously otherwise).
  assert.match(JSON.stringify(before.get("GET_QUOTA")), /"role":"dev"/);
  assert.match(
    JSON.stringify(before.get("GET_WEIGHTS")),
    /"role":"dev","weight":3|"weight":3,"role":"dev"/,
  );
  assert.match(JSON.stringify(before.get("GET_MAINTENANCE_STATUS")), /down_machines.*down-host/);

  master.kill("SIGKILL");
  await master.exited;
  // Restarted with another --weights: the registry's weights win (as in Mesos).
  const restarted = await startMaster({ port, flags: { ...flags, weights: "ops=5" } });
  for (const type of READS) assert.deepEqual(await read(restarted, type), before.get(type), type);
  assert.match(
    restarted.logs(),
    /Ignoring --weights flag 'ops=5' and recovering the weights from registry/,
  );
  // The legacy endpoints agree.
  const quota = await getJson<{ configs?: { role: string }[] }>(`${restarted.url}/master/quota`);
  assert.deepEqual(
    quota?.configs?.map((c) => c.role),
    ["dev"],
  );

  // An agent on the DOWN machine is told to shut down when it tries to register.
  // It may be refused and gone before it would answer /health.
  const again = await startAgent({
    master: restarted.address,
    flags: { ...FAST_AGENT_FLAGS, hostname: "down-host" },
    waitReady: false,
  });
  await waitFor(
    "the DOWN machine's new agent to exit",
    () => again.child.exitCode !== null || again.child.signalCode !== null,
    { timeoutMs: 20_000 },
  );
  assert.match(
    restarted.logs(),
    /Refusing registration of agent at .* because the machine 'down-host \(127\.0\.0\.1\)' that it is running on is `DOWN`/,
  );
  const state = await getJson<{ slaves: unknown[] }>(`${restarted.url}/master/state`);
  assert.equal(state?.slaves.length, 0);

  // Machine UP is stored too: after another restart the schedule has only drain-host left.
  const up = await operator(restarted, {
    type: "STOP_MAINTENANCE",
    stop_maintenance: { machines: [{ hostname: "down-host", ip: "127.0.0.1" }] },
  });
  assert.equal(up.status, 200, up.body);
  restarted.kill("SIGKILL");
  await restarted.exited;
  const third = await startMaster({ port, flags });
  const schedule = JSON.stringify(await read(third, "GET_MAINTENANCE_SCHEDULE"));
  assert.match(schedule, /drain-host/);
  assert.doesNotMatch(schedule, /down-host/);
  assert.doesNotMatch(JSON.stringify(await read(third, "GET_MAINTENANCE_STATUS")), /down_machines/);
});

/**
 * Agents that do not come back, with real processes, as Mesos' master
 * handles them: a disconnected agent that does not reregister within
 * --agent_reregister_timeout, and an agent recovered from the registry that
 * does not reregister after a master failover, are marked unreachable at
 * the pace of --agent_removal_rate_limit (an agent back before its permit
 * is left alone); master/slave_unreachable_scheduled|completed|canceled
 * count both. After a failover, more missing agents than
 * --recovery_agent_removal_limit allows stop the master.
 *
 * Health checks are made slow here (minutes) so that only the
 * re-registration timeouts act.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
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
  waitLong,
} from "../harness/processes.js";
import { agentIdOf, masterState, SHORT_TIMEOUTS_ENV } from "./master-recovery-helpers.js";

after(() => stopAll());

/** Long permits: an agent restarted meanwhile is back well before the next one. */
const RATE = "1/30secs";
const SLOW_HEALTH_CHECKS = { agent_ping_timeout: "60secs", max_agent_ping_timeouts: 10 } as const;

/** An agent with its own port and work dir, so that it can come back as itself. */
class Agent {
  daemon: DaemonHandle | undefined;
  readonly workDir = tempDir("removal-limits-agent-");
  constructor(
    readonly port: number,
    private master: string,
  ) {}

  static async create(master: string): Promise<Agent> {
    const agent = new Agent(await freePort(), master);
    await agent.start();
    return agent;
  }

  async start(master = this.master): Promise<DaemonHandle> {
    this.master = master;
    this.daemon = await startAgent({
      master,
      port: this.port,
      flags: { work_dir: this.workDir, registration_backoff_factor: "100ms" },
    });
    return this.daemon;
  }

  /** Waits until its agent id is checkpointed (the master's answer reached it). */
  async checkpointed(): Promise<void> {
    await waitLong("the agent's id to be checkpointed", () =>
      existsSync(join(this.workDir, "meta", "slaves", "latest", "slave.info")),
    );
  }

  /** Killed only once its agent id is checkpointed, so that it comes back as itself. */
  async kill(): Promise<void> {
    await this.checkpointed();
    this.daemon?.kill("SIGKILL");
    await this.daemon?.exited;
  }
}

type Steps = { scheduled: number; completed: number; canceled: number };

async function steps(master: DaemonHandle): Promise<Steps> {
  const m = await getJson<Record<string, number>>(`${master.url}/metrics/snapshot`);
  assert.ok(m !== undefined, "/metrics/snapshot answers 200");
  return {
    scheduled: m["master/slave_unreachable_scheduled"] ?? -1,
    completed: m["master/slave_unreachable_completed"] ?? -1,
    canceled: m["master/slave_unreachable_canceled"] ?? -1,
  };
}

/** Waits until `ready(steps)`; returns those steps (the last ones seen are in the error). */
async function stepsWhen(
  master: DaemonHandle,
  what: string,
  ready: (s: Steps) => boolean,
): Promise<Steps> {
  let last: Steps | undefined;
  try {
    return await waitLong(what, async () => {
      last = await steps(master);
      return ready(last) ? last : undefined;
    });
  } catch (error) {
    throw new Error(`${String(error)}; last seen ${JSON.stringify(last)}`);
  }
}

interface AgentsView {
  slaves: { id: string; active: boolean }[];
  unreachable_slaves?: number;
}

test("agent removal rate limit: disconnected agents that do not reregister in time are marked unreachable one permit at a time; one back before its permit stays", async () => {
  const master = await startMaster({
    env: SHORT_TIMEOUTS_ENV,
    flags: {
      ...SLOW_HEALTH_CHECKS,
      agent_reregister_timeout: "2secs",
      agent_removal_rate_limit: RATE,
    },
  });
  const agents = [await Agent.create(master.address), await Agent.create(master.address)];
  await waitForAgents(master, 2);
  const state = await masterState(master.url);
  const ids = agents.map((a) => agentIdOf(state, a.daemon as DaemonHandle));

  for (const agent of agents) await agent.kill();
  // Both timed out; the first permit is free, the second is RATE away.
  const paced = await stepsWhen(master, "both removals scheduled", (s) => s.scheduled === 2);
  assert.equal(paced.canceled, 0);
  assert.equal(
    paced.completed,
    1,
    "only one removal completes at once (without the limit both would)",
  );
  const view = await waitFor("one agent unreachable, the other waiting", async () => {
    const v = await getJson<AgentsView>(`${master.url}/master/state`);
    return v?.unreachable_slaves === 1 && v.slaves.length === 1 ? v : undefined;
  });
  const waitingId = view.slaves[0]?.id;
  assert.equal(view.slaves[0]?.active, false, "the waiting agent is disconnected");
  const waiting = agents[ids.indexOf(waitingId ?? "")];
  assert.ok(waiting !== undefined, "the waiting agent is one of ours");
  assert.match(
    master.logs(),
    /Scheduling removal of agent .*; agent did not reregister within 2secs after disconnecting/,
  );

  // It comes back before its permit: the permit finds it connected.
  await waiting.start();
  await waitForAgents(master, 1);
  const after = await stepsWhen(master, "the pending removal canceled", (s) => s.canceled === 1);
  assert.deepEqual(after, { scheduled: 2, completed: 1, canceled: 1 });
  const final = await getJson<AgentsView>(`${master.url}/master/state`);
  assert.deepEqual(
    final?.slaves.map((s) => [s.id, s.active]),
    [[waitingId, true]],
  );
  assert.equal(final?.unreachable_slaves, 1);
});

test("master failover: recovered agents that do not reregister go through --agent_removal_rate_limit; above --recovery_agent_removal_limit the master exits", async () => {
  const port = await freePort();
  const workDir = tempDir("removal-limits-master-");
  const flags = {
    ...SLOW_HEALTH_CHECKS,
    registry: "replicated_log",
    work_dir: workDir,
    agent_reregister_timeout: "2secs",
    agent_removal_rate_limit: RATE,
  };
  const first = await startMaster({ port, env: SHORT_TIMEOUTS_ENV, flags });
  const agents = [await Agent.create(first.address), await Agent.create(first.address)];
  await waitForAgents(first, 2);
  // Registered in the master is not yet known to the agent: the master must
  // not go before its answer is checkpointed, or the agent never learns its id.
  for (const agent of agents) await agent.checkpointed();
  // The master and both agents are gone; the agents stay away for now.
  first.kill("SIGKILL");
  await first.exited;
  for (const agent of agents) await agent.kill();

  // Every remembered agent missing (100%) is above a 99% limit: the master stops itself.
  const strict = await startMaster({
    port,
    env: SHORT_TIMEOUTS_ENV,
    flags: { ...flags, recovery_agent_removal_limit: "99%" },
  });
  assert.equal(await strict.exited, 1, "the master exits with status 1");
  assert.match(
    strict.logs(),
    /Post-recovery agent removal limit exceeded! .*2 of the 2 agents recovered from the registry \(100%\) did not reregister.*The configured removal limit is 99%/,
  );

  // At the default 100% limit (not above it) they are marked unreachable, one permit at a time.
  const master = await startMaster({ port, env: SHORT_TIMEOUTS_ENV, flags });
  const paced = await stepsWhen(master, "both removals scheduled", (s) => s.scheduled === 2);
  assert.equal(paced.canceled, 0);
  assert.equal(paced.completed <= 1, true, "only one removal completes at once");
  await waitFor("one agent unreachable", async () => {
    const v = await getJson<AgentsView>(`${master.url}/master/state`);
    return v?.unreachable_slaves === 1;
  });
  assert.deepEqual(await steps(master), { scheduled: 2, completed: 1, canceled: 0 });
  assert.match(
    master.logs(),
    /Scheduling removal of agent .*; it did not reregister within 2secs after master failover/,
  );

  // Both come back before the next permit; the one still waiting for it is left alone.
  for (const agent of agents) await agent.start(master.address);
  await waitForAgents(master, 2);
  const after = await stepsWhen(master, "the pending removal canceled", (s) => s.canceled === 1);
  assert.deepEqual(after, { scheduled: 2, completed: 1, canceled: 1 });
  const state = await getJson<AgentsView>(`${master.url}/master/state`);
  assert.equal(state?.slaves.filter((s) => s.active).length, 2);
  assert.equal(state?.unreachable_slaves, 0);
});

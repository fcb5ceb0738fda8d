/**
 * A container session whose agent is SIGKILLed before anyone attached its
 * stdin: its shell waits to open its stdin pipe, which the dead agent will
 * never write. Its streams belonged to that agent run, so nobody can attach
 * to it again; the agent that recovers on the same work_dir must kill it
 * (Mesos kills a session once its connection/I/O switchboard is gone),
 * rather than adopt it and leave it blocked forever.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { launchSession, launchSleepingContainer, operatorCall } from "../harness/operator.js";
import { alive, carrying, killEach } from "../harness/proc-scan.js";
import {
  type DaemonHandle,
  freePort,
  startAgent,
  startMaster,
  stopAll,
  waitLong,
} from "../harness/processes.js";
import { WorkDirs } from "../harness/work-dirs.js";

let master: DaemonHandle;
/** The session's processes: killed at the end whatever happened. */
const strays = new Set<number>();

const workDirs = new WorkDirs();

before(async () => {
  master = await startMaster();
});

after(async () => {
  workDirs.killLeft();
  killEach(strays);
  await stopAll();
});

test("a session whose agent was killed before its stdin was attached is killed when an agent recovers", async () => {
  const port = await freePort();
  const flags = {
    work_dir: workDirs.make("session-agent-death-"),
    registration_backoff_factor: "10ms",
  };
  // Killed by the test hook right after the session's process started: before
  // the agent's end of its stdin could open (see nested-containers.ts).
  const agent = await startAgent({
    master: master.address,
    port,
    flags,
    env: { MESOS_TS_TESTING_CRASH_AFTER_SPAWN: "nested" },
  });
  // Named apart from other tests' containers: processes are found (and killed) by this id machine-wide.
  const holder = { value: "death-holder" };
  await launchSleepingContainer(agent, holder);

  // Usually still waiting to open its stdin when the agent dies; were it
  // quicker, its command runs on (it ignores its stdin's EOF).
  await launchSession(agent, { value: "sess", parent: holder }, { value: "exec sleep 300" }).catch(
    () => undefined,
  );
  assert.equal(await agent.exited, null, "the agent was killed by the test hook");
  for (const pid of carrying("MESOS_TS_CONTAINER_ID=death-holder")) strays.add(pid);
  const pids = carrying("MESOS_TS_CONTAINER_ID=death-holder.sess");
  for (const pid of pids) strays.add(pid);
  assert.ok(pids.length > 0, "the session's process outlives its agent");

  const next = await startAgent({ master: master.address, port, flags });
  await waitLong("the session's processes to be killed by the recovering agent", () =>
    pids.every((pid) => !alive(pid)),
  ).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}\n${next.logs().slice(-3000)}`);
  });
  const r = await operatorCall(next, {
    type: "WAIT_CONTAINER",
    wait_container: { container_id: { value: "sess", parent: holder } },
  });
  assert.equal(r.status, 200, r.text);
  await operatorCall(next, { type: "KILL_CONTAINER", kill_container: { container_id: holder } });
});

test("a running session is killed, not adopted, by the agent that recovers after its agent was killed", async () => {
  const port = await freePort();
  const workDir = workDirs.make("session-agent-death-");
  const flags = { work_dir: workDir, registration_backoff_factor: "10ms" };
  const agent = await startAgent({ master: master.address, port, flags });
  const holder = { value: "death-holder" };
  await launchSleepingContainer(agent, holder);
  // Ignores its stdin: the end of the agent's pipes does not end it.
  const session = new AbortController();
  const res = await launchSession(
    agent,
    { value: "sess", parent: holder },
    { value: "exec sleep 300" },
    session.signal,
  );
  assert.equal(res.status, 200);
  for (const pid of carrying("MESOS_TS_CONTAINER_ID=death-holder")) strays.add(pid);
  const record = join(workDir, "meta", "nested-containers", "death-holder", "sess.json");
  // Checkpointed with its pid: a recovering agent knows it runs.
  const pid = await waitLong("the session's checkpointed pid", () => {
    const text = existsSync(record) ? readFileSync(record, "utf8") : "";
    const noted = text === "" ? undefined : (JSON.parse(text) as { pid?: number }).pid;
    return noted !== undefined && alive(noted) ? noted : undefined;
  });
  strays.add(pid);

  agent.kill("SIGKILL");
  assert.equal(await agent.exited, null);
  session.abort();
  assert.ok(alive(pid), "the session outlives its agent until one recovers");

  const next = await startAgent({ master: master.address, port, flags });
  await waitLong("the session to be killed by the recovering agent", () => !alive(pid)).catch(
    (e: unknown) => {
      throw new Error(`${(e as Error).message}\n${next.logs().slice(-3000)}`);
    },
  );
  const r = await operatorCall(next, {
    type: "WAIT_CONTAINER",
    wait_container: { container_id: { value: "sess", parent: holder } },
  });
  assert.equal(r.status, 200, r.text);
  await operatorCall(next, { type: "KILL_CONTAINER", kill_container: { container_id: holder } });
});

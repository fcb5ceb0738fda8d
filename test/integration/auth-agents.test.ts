/**
 * `--authenticate_agents`: agents run the CRAM-MD5 handshake with the
 * master before registering; unauthenticated agents, wrong secrets and
 * principals that `register_agents` denies are refused.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CramMd5Authenticatee } from "../../src/common/auth/cram-md5.js";
import { type DaemonHandle, startMaster, stopAll, tempDir, waitFor } from "../harness/processes.js";
import { FakeAgent } from "./master-clients.js";

let master: DaemonHandle;
const agents: FakeAgent[] = [];

const RESOURCES = [{ name: "cpus", type: "SCALAR" as const, scalar: { value: 1 } }];

before(async () => {
  const credentials = join(tempDir(), "credentials");
  writeFileSync(credentials, "agent-ok ok-secret\nagent-denied denied-secret\n");
  master = await startMaster({
    flags: {
      credentials,
      authenticate_agents: true,
      acls: JSON.stringify({
        register_agents: [
          { principals: { values: ["agent-ok"] }, agents: { type: "ANY" } },
          { principals: { type: "ANY" }, agents: { type: "NONE" } },
        ],
      }),
    },
  });
});

after(async () => {
  for (const a of agents) await a.stop();
  await stopAll();
});

async function fakeAgent(): Promise<FakeAgent> {
  const agent = await FakeAgent.start(master.address);
  agents.push(agent);
  return agent;
}

function authenticate(agent: FakeAgent, principal: string, secret: string) {
  const authenticatee = agent.host.spawn(new CramMd5Authenticatee());
  return authenticatee.authenticate(`master@${master.address}`, agent.pid, { principal, secret });
}

function registerMessage(agent: FakeAgent) {
  agent.send("mesos.internal.RegisterSlaveMessage", {
    slave: {
      hostname: "fake-agent",
      port: agent.host.port,
      resources: RESOURCES,
      checkpoint: true,
    },
    version: "1.12.0",
  });
}

describe("auth: agent authentication (CRAM-MD5)", () => {
  it("an agent that did not authenticate is refused", async () => {
    const agent = await fakeAgent();
    registerMessage(agent);
    await waitFor("the refusal in the master log", () =>
      master
        .logs()
        .includes(`Refusing registration of agent at ${agent.pid} because it is not authenticated`),
    );
    assert.equal(agent.agentId, "");
  });

  it("a wrong secret fails the handshake", async () => {
    const agent = await fakeAgent();
    const outcome = await authenticate(agent, "agent-ok", "wrong");
    assert.match(String(outcome), /authentication failed/);
  });

  it("an authenticated agent registers", async () => {
    const agent = await fakeAgent();
    assert.equal(await authenticate(agent, "agent-ok", "ok-secret"), true);
    const id = await agent.register(RESOURCES);
    assert.ok(id !== "");
  });

  it("a disconnected agent's authentication is forgotten: the next process at its address must authenticate", async () => {
    const first = await fakeAgent();
    assert.equal(await authenticate(first, "agent-ok", "ok-secret"), true);
    const id = await first.register(RESOURCES);
    const pid = first.pid;
    const port = first.host.port;
    await first.stop();
    await waitFor("the master to see the agent disconnect", () =>
      master.logs().includes(`Agent ${id} at ${pid} (fake-agent) disconnected`),
    );
    // Another process takes the address (same pid) and registers without authenticating.
    const second = await FakeAgent.start(master.address, port);
    agents.push(second);
    assert.equal(second.pid, pid);
    registerMessage(second);
    await waitFor("the refusal in the master log", () =>
      master
        .logs()
        .includes(`Refusing registration of agent at ${pid} because it is not authenticated`),
    );
    assert.equal(second.agentId, "");
  });

  it("register_agents: an authenticated principal the ACLs deny is refused", async () => {
    const agent = await fakeAgent();
    assert.equal(await authenticate(agent, "agent-denied", "denied-secret"), true);
    registerMessage(agent);
    await waitFor("the refusal in the master log", () =>
      master
        .logs()
        .includes(
          `Refusing registration of agent at ${agent.pid} (fake-agent): Not authorized to ` +
            "register agent providing resources 'cpus:1' with principal 'agent-denied'",
        ),
    );
    assert.equal(agent.agentId, "");
  });
});

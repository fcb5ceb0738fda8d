/**
 * Fault domains as Mesos' guide describes them, on real masters and agents:
 * a master without `--domain` ignores agents that have one (registration
 * and re-registration alike, the agent keeps running); a master with a
 * domain offers agents of other regions only to REGION_AWARE frameworks,
 * agents without a domain count as local, and offers, `/master/state`,
 * `/master/slaves` and the SUBSCRIBED event carry the domains.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import type { Event } from "../../src/common/protocol/generated/mesos-v1-scheduler.js";
import {
  getJson,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
  waitForAgents,
  waitLong,
} from "../harness/processes.js";
import { type Subscription, subscribe, subscribeCall } from "./master-clients.js";

after(stopAll);

function domain(region: string, zone: string): string {
  return JSON.stringify({ fault_domain: { region: { name: region }, zone: { name: zone } } });
}

const FAST_RETRY = { registration_backoff_factor: "100ms" };

test("fault domains: a master without --domain ignores an agent with one, also when it re-registers", async () => {
  const plain = await startMaster();
  const placed = await startAgent({
    master: plain.address,
    flags: { ...FAST_RETRY, domain: domain("eu", "rack1") },
  });
  await waitFor("the master to ignore the agent's registration", () =>
    plain.logs().includes("but the master has no configured domain. Ignoring agent registration"),
  );
  const slaves = await getJson<{ slaves: unknown[] }>(`${plain.url}/master/slaves`);
  assert.deepEqual(slaves?.slaves, []);
  assert.equal(placed.child.exitCode, null, "the agent keeps running");
  await placed.stop();
  await plain.stop();

  // Registered under a master with a domain; that master restarts without one.
  const workDir = tempDir("fault-domains-master-");
  const flags = { registry: "replicated_log", work_dir: workDir };
  const first = await startMaster({ flags: { ...flags, domain: domain("eu", "rack0") } });
  const agent = await startAgent({
    master: first.address,
    flags: { ...FAST_RETRY, domain: domain("eu", "rack1") },
  });
  const [agentId] = await waitForAgents(first, 1);
  await first.stop();
  const second = await startMaster({ port: first.port, flags });
  await waitLong("the restarted master to ignore the agent's re-registration", () =>
    second
      .logs()
      .includes("but the master has no configured domain. Ignoring agent re-registration"),
  );
  const state = await getJson<{ slaves: unknown[]; recovered_slaves: { id: string }[] }>(
    `${second.url}/master/slaves`,
  );
  assert.deepEqual(state?.slaves, []);
  assert.deepEqual(
    state?.recovered_slaves.map((s) => s.id),
    [agentId],
  );
  assert.equal(agent.child.exitCode, null, "the agent keeps running");
  await agent.stop();
  await second.stop();
});

interface AgentEntry {
  port: number;
  domain?: unknown;
}

function offeredPorts(subscription: Subscription): Set<number> {
  const ports = new Set<number>();
  for (const e of subscription.events as Event[]) {
    for (const o of e.offers?.offers ?? []) ports.add(o.url?.address.port ?? 0);
  }
  return ports;
}

test("fault domains: remote agents are offered only to REGION_AWARE frameworks; domains show in offers and state", async () => {
  const dir = tempDir("fault-domains-");
  const file = join(dir, "domain.json");
  writeFileSync(file, domain("eu", "rack0"));
  const master = await startMaster({ flags: { domain: `file://${file}` } });
  const resources = "cpus:1;mem:128;disk:64";
  const local = await startAgent({
    master: master.address,
    flags: { resources, domain: domain("eu", "rack1") },
  });
  const remote = await startAgent({
    master: master.address,
    flags: { resources, domain: domain("us", "z1") },
  });
  const bare = await startAgent({ master: master.address, flags: { resources } });
  await waitForAgents(master, 3);

  const state = await getJson<{ domain?: unknown; slaves: AgentEntry[] }>(
    `${master.url}/master/state`,
  );
  assert.deepEqual(state?.domain, JSON.parse(domain("eu", "rack0")));
  const byPort = new Map(state?.slaves.map((s) => [s.port, s.domain]));
  assert.deepEqual(byPort.get(local.port), JSON.parse(domain("eu", "rack1")));
  assert.deepEqual(byPort.get(remote.port), JSON.parse(domain("us", "z1")));
  assert.equal(byPort.get(bare.port), undefined);
  const slaves = await getJson<{ slaves: AgentEntry[] }>(`${master.url}/master/slaves`);
  assert.deepEqual(
    slaves?.slaves.find((s) => s.port === remote.port)?.domain,
    JSON.parse(domain("us", "z1")),
  );

  const plain = await subscribe(master.url, subscribeCall("plain"));
  const subscribed = await plain.nth("SUBSCRIBED");
  assert.deepEqual(subscribed.subscribed?.master_info?.domain, JSON.parse(domain("eu", "rack0")));
  await waitLong("offers of both local agents", () => {
    const ports = offeredPorts(plain);
    return ports.has(local.port) && ports.has(bare.port);
  });
  // Let the allocator run a few more times with the remote agent still free.
  const runs = async () => {
    const metrics = await getJson<Record<string, number>>(`${master.url}/metrics/snapshot`);
    return metrics?.["allocator/mesos/allocation_runs"] ?? 0;
  };
  const seen = await runs();
  await waitLong("three more allocation runs", async () => (await runs()) >= seen + 3);
  assert.equal(offeredPorts(plain).has(remote.port), false, "no offer from the remote region");

  const aware = await subscribe(
    master.url,
    subscribeCall("aware", { capabilities: [{ type: "REGION_AWARE" }] }),
  );
  await waitLong("an offer of the remote agent", () => offeredPorts(aware).has(remote.port));
  const offer = (aware.events as Event[])
    .flatMap((e) => e.offers?.offers ?? [])
    .find((o) => o.url?.address.port === remote.port);
  assert.deepEqual(offer?.domain, JSON.parse(domain("us", "z1")));
  const localOffer = (plain.events as Event[])
    .flatMap((e) => e.offers?.offers ?? [])
    .find((o) => o.url?.address.port === bare.port);
  assert.equal(localOffer?.domain, undefined, "an agent without a domain has none in its offer");
  plain.close();
  aware.close();
  await Promise.all([local.stop(), remote.stop(), bare.stop()]);
  await master.stop();
});

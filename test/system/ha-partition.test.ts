/**
 * A network partition between the leading master and ZooKeeper, with every
 * daemon on a host of its own (a network namespace with its own IP): the
 * cut-off leader exits on purpose once its session is gone, another master
 * leads, and the agent follows it. Registry writes show one writer at a
 * time. Needs root and `ip netns`; skips otherwise.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { netnsUnavailable, VirtualNetwork } from "../harness/netns.js";
import { fetchJson, type HostDaemon, startOn, stopHostDaemons } from "../harness/netns-daemons.js";
import { waitFor } from "../harness/processes.js";
import {
  startZooKeeper,
  ZOOKEEPER_MISSING,
  type ZooKeeper,
  zookeeperAvailable,
} from "../harness/zookeeper.js";

const skip = !zookeeperAvailable() ? ZOOKEEPER_MISSING : (netnsUnavailable() ?? false);
let net: VirtualNetwork;
let zk: ZooKeeper;

async function elected(d: HostDaemon): Promise<boolean> {
  if (d.child.exitCode !== null || d.child.signalCode !== null) return false;
  const s = await fetchJson<Record<string, number>>(`${d.url}/metrics/snapshot`);
  return s?.["master/elected"] === 1;
}

before(async () => {
  if (skip !== false) return;
  net = VirtualNetwork.create(["zk", "m1", "m2", "m3", "a1"]);
  zk = await startZooKeeper({ host: net.host("zk") });
});

after(async () => {
  await stopHostDaemons();
  await zk?.stop();
  net?.cleanup();
});

test("ha/partition: the leader cut off from ZooKeeper exits; another leads; the agent follows", {
  skip,
}, async () => {
  const url = zk.url("/mesos");
  const masters: HostDaemon[] = [];
  for (const name of ["m1", "m2", "m3"]) {
    masters.push(
      await startOn(net.host(name), "mesos-master", 5050, {
        zk: url,
        quorum: 2,
        registry: "replicated_log",
        zk_session_timeout: "3secs",
        hostname_lookup: "false",
      }),
    );
  }
  const leader = await waitFor("a leader", async () => {
    for (const m of masters) if (await elected(m)) return m;
    return undefined;
  });
  const agent = await startOn(net.host("a1"), "mesos-agent", 5051, {
    master: url,
    registration_backoff_factor: "100ms",
    resources: "cpus:1;mem:256;disk:256",
  });
  const [agentId] = await waitFor("the agent registered", async () => {
    const s = await fetchJson<{ slaves: { id: string }[] }>(`${leader.url}/master/slaves`);
    return s?.slaves.length === 1 ? s.slaves.map((a) => a.id) : undefined;
  });

  leader.host.partition();
  const code = await leader.exited;
  assert.equal(code, 1, "the partitioned leader exits on purpose");
  assert.match(leader.logs(), /committing suicide/);
  leader.host.heal();

  const others = masters.filter((m) => m !== leader);
  const next = await waitFor(
    "a new leader",
    async () => {
      for (const m of others) if (await elected(m)) return m;
      return undefined;
    },
    { timeoutMs: 40_000 },
  );
  await waitFor(
    "the agent re-registered with the new leader under its id",
    async () => {
      const s = await fetchJson<{ slaves: { id: string; active: boolean }[] }>(
        `${next.url}/master/slaves`,
      );
      return s?.slaves.some((a) => a.id === agentId && a.active) === true;
    },
    { timeoutMs: 40_000 },
  );
  assert.equal(agent.child.exitCode, null);
  // One writer at a time: the registry names the new leader as its last writer.
  const redirect = await fetch(`${others.find((m) => m !== next)?.url}/master/redirect`, {
    redirect: "manual",
    signal: AbortSignal.timeout(2000),
  });
  assert.equal(redirect.headers.get("location"), `//${next.host.ip}:5050`);
});

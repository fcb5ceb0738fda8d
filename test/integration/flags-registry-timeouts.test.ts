import assert from "node:assert/strict";
import { after, test } from "node:test";
import { silentLogger } from "../../src/common/observability/logger.js";
import { ProcessHost } from "../../src/common/process/process-host.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { loadMasterFlags } from "../../src/master/flags.js";
import { type MasterRuntime, startMaster } from "../../src/master/master-runtime.js";
import { InMemoryRegistrar } from "../../src/master/registrar/in-memory.js";
import type { Registrar } from "../../src/master/registrar/registrar.js";

const hosts: ProcessHost[] = [];
const runtimes: MasterRuntime[] = [];
after(async () => {
  for (const r of runtimes) r.stop();
  for (const h of hosts) await h.stop();
});

async function newHost(clock: ManualClock): Promise<ProcessHost> {
  const host = new ProcessHost({
    logger: silentLogger,
    clock,
    listen: { bindIp: "127.0.0.1", bindPort: 0, advertiseIp: undefined, advertisePort: undefined },
    delegate: "master",
    tls: null,
  });
  await host.start();
  hosts.push(host);
  return host;
}

function flags(...argv: string[]) {
  const r = loadMasterFlags({
    argv: ["--registry=in_memory", "--no-hostname_lookup", ...argv],
  });
  if (!r.ok) throw new Error(r.error);
  return r.flags;
}

const pending = <T>(): Promise<T> => new Promise<T>(() => {});
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

test("registry_fetch_timeout: a registry read that never answers stops the master", async () => {
  const clock = new ManualClock();
  const host = await newHost(clock);
  const memory = new InMemoryRegistrar();
  const registrar: Registrar = {
    durable: false,
    name: "stuck",
    recover: () => pending(),
    apply: (op) => memory.apply(op),
    snapshot: () => memory.snapshot(),
  };
  let outcome: string | undefined;
  startMaster({
    host,
    flags: flags("--registry_fetch_timeout=3secs"),
    logger: silentLogger,
    clock,
    registrar,
    onFatal: () => {},
  }).then(
    (runtime) => {
      runtimes.push(runtime);
      outcome = "started";
    },
    (error: unknown) => {
      outcome = (error as Error).message;
    },
  );
  await settle();
  clock.advance(2999);
  await settle();
  assert.equal(outcome, undefined);
  clock.advance(1);
  await settle();
  assert.match(outcome ?? "", /Failed to perform fetch within 3secs \(--registry_fetch_timeout\)/);
});

test("registry_store_timeout: a registry write that never answers fails", async () => {
  const clock = new ManualClock();
  const host = await newHost(clock);
  const memory = new InMemoryRegistrar();
  const registrar: Registrar = {
    durable: false,
    name: "stuck-writes",
    recover: () => memory.recover(),
    apply: () => pending(),
    snapshot: () => memory.snapshot(),
  };
  const runtime = await startMaster({
    host,
    flags: flags("--registry_store_timeout=2secs"),
    logger: silentLogger,
    clock,
    registrar,
    onFatal: () => {},
  });
  runtimes.push(runtime);
  let outcome: string | undefined;
  runtime.core.registrar.apply({ kind: "reactivate-agent", agentId: "a1" }).then(
    () => {
      outcome = "stored";
    },
    (error: unknown) => {
      outcome = (error as Error).message;
    },
  );
  clock.advance(1999);
  await settle();
  assert.equal(outcome, undefined);
  clock.advance(1);
  await settle();
  assert.equal(outcome, "Failed to perform store within 2secs (--registry_store_timeout)");
});

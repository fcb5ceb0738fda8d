/**
 * The Mesos containerizer's side of agent recovery, with recording
 * isolators (no processes, no sockets): adopted executors are recovered by
 * every isolator once, then follow the agent's updates, are destroyed by a
 * limitation, and release their isolators when they end.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import type { CgroupsHierarchy } from "../../src/agent/containerizer/cgroups/hierarchy.js";
import {
  BaseIsolator,
  type ContainerLimitation,
  type ContainerResources,
} from "../../src/agent/containerizer/isolators/isolator.js";
import type { LauncherClient } from "../../src/agent/containerizer/launcher.js";
import { PosixContainerizer } from "../../src/agent/containerizer/posix-containerizer.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import { parseResources, type Resources } from "../../src/common/resources/index.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Records what the containerizer asks of it; `recover` may be held back. */
class RecordingIsolator extends BaseIsolator {
  readonly recovered: Map<string, number>[] = [];
  readonly updates: { id: string; resources: ContainerResources }[] = [];
  readonly cleanups: string[] = [];
  /** Set: `recover` resolves only when this promise does. */
  hold: Promise<void> | undefined;
  constructor(readonly name: string) {
    super();
  }
  override async recover(containers: ReadonlyMap<string, number>): Promise<void> {
    this.recovered.push(new Map(containers));
    await this.hold;
  }
  override async update(id: string, resources: ContainerResources): Promise<void> {
    this.updates.push({ id, resources });
  }
  override async cleanup(id: string): Promise<void> {
    this.cleanups.push(id);
  }
}

function containerizer(isolators: RecordingIsolator[], launcherCgroups?: CgroupsHierarchy) {
  const workDir = mkdtempSync(join(tmpdir(), "posix-recovery-"));
  dirs.push(workDir);
  const c = new PosixContainerizer({
    workDir,
    // Never used: nothing is launched.
    launcher: {} as LauncherClient,
    logger: silentLogger,
    frameworksHome: "",
    fetcherStallTimeoutMs: 1000,
    bootId: "boot",
    isolators,
    ...(launcherCgroups === undefined ? {} : { launcherCgroups }),
  });
  after(() => c.stop());
  return c;
}

function resources(text: string): Resources {
  const parsed = parseResources(text);
  assert.ok(parsed.ok);
  return parsed.value;
}

const portsLimitation: ContainerLimitation = {
  reason: "REASON_CONTAINER_LIMITATION",
  message: "Container C1 is listening on unallocated port(s): [9000-9000]",
};

test("recovery: every isolator recovers the adopted containers once; updates reach them afterwards", async () => {
  const ports = new RecordingIsolator("network/ports");
  const cpu = new RecordingIsolator("cgroups/cpu");
  const c = containerizer([ports, cpu]);
  await c.recover(
    new Map([
      ["C1", 101],
      ["C2", 102],
    ]),
    () => undefined,
  );
  for (const isolator of [ports, cpu]) {
    assert.deepEqual(isolator.recovered, [
      new Map([
        ["C1", 101],
        ["C2", 102],
      ]),
    ]);
  }
  assert.ok(c.isRecovered("C1"));
  c.update("C1", resources("cpus:0.5;mem:64;ports:[31000-31001]"));
  c.update("unknown", resources("cpus:1"));
  for (const isolator of [ports, cpu]) {
    assert.equal(isolator.updates.length, 1);
    const [u] = isolator.updates;
    assert.equal(u?.id, "C1");
    assert.equal(u?.resources.cpus, 0.5);
    assert.equal(u?.resources.memMb, 64);
    assert.deepEqual(u?.resources.ports, { range: [{ begin: 31000, end: 31001 }] });
  }
});

test("recovery: an update that arrives while the isolators recover reaches them once they have", async () => {
  const ports = new RecordingIsolator("network/ports");
  let release: () => void = () => {};
  ports.hold = new Promise((resolve) => {
    release = resolve;
  });
  const c = containerizer([ports]);
  const recovering = c.recover(new Map([["C1", 101]]), () => undefined);
  c.update("C1", resources("cpus:0.1;ports:[31000-31000]"));
  assert.equal(ports.updates.length, 0, "not before the isolator knows the container");
  release();
  await recovering;
  assert.equal(ports.updates.length, 1);
  assert.deepEqual(ports.updates[0]?.resources.ports, { range: [{ begin: 31000, end: 31000 }] });
});

test("recovery: a limitation destroys the adopted container once; its end carries it and cleans up every isolator", async () => {
  const ports = new RecordingIsolator("network/ports");
  const mem = new RecordingIsolator("cgroups/mem");
  const destroyed: string[] = [];
  const c = containerizer([ports, mem]);
  await c.recover(new Map([["C1", 101]]), (id) => destroyed.push(id));
  c.limit("C1", portsLimitation);
  c.limit("C1", { ...portsLimitation, message: "a second look" });
  assert.deepEqual(destroyed, ["C1"]);

  const termination = await c.recoveredEnded("C1", { status: 9 });
  assert.deepEqual(termination, {
    status: 9,
    limitation: portsLimitation,
    message: portsLimitation.message,
  });
  // Without the linux launcher nothing else releases the cgroups.
  assert.deepEqual(ports.cleanups, ["C1"]);
  assert.deepEqual(mem.cleanups, ["C1"]);
  assert.equal(c.isRecovered("C1"), false);
  c.update("C1", resources("cpus:1"));
  assert.deepEqual(ports.updates, [], "an ended container is no longer updated");
  // An unknown container's end is passed on as it is, without cleanups.
  assert.deepEqual(await c.recoveredEnded("C2", {}), {});
  assert.deepEqual(ports.cleanups, ["C1"]);
});

test("recovery: an adopted container that ends by itself has no limitation", async () => {
  const ports = new RecordingIsolator("network/ports");
  const c = containerizer([ports]);
  await c.recover(new Map([["C1", 101]]), () => assert.fail("nothing destroys it"));
  assert.deepEqual(await c.recoveredEnded("C1", {}), {});
  assert.deepEqual(ports.cleanups, ["C1"]);
});

test("recovery: with the linux launcher, the cgroup isolators of an ended container are left to RecoveredCgroups", async () => {
  const cgroups = {
    version: 1,
    containers: async () => [],
    path: (subsystem: string, id: string) => `/nonexistent/${subsystem}/${id}`,
    has: () => true,
  } as unknown as CgroupsHierarchy;
  const ports = new RecordingIsolator("network/ports");
  const cpu = new RecordingIsolator("cgroups/cpu");
  const c = containerizer([ports, cpu], cgroups);
  await c.recover(new Map([["C1", 101]]), () => undefined);
  await c.recoveredEnded("C1", {});
  assert.deepEqual(ports.cleanups, ["C1"]);
  assert.deepEqual(cpu.cleanups, [], "RecoveredCgroups cleans them up when the cgroup is empty");
});

test("recovery: without isolators nothing is recovered", async () => {
  const c = containerizer([]);
  await c.recover(new Map([["C1", 101]]), () => assert.fail("nothing destroys it"));
  assert.equal(c.isRecovered("C1"), false);
  c.limit("C1", portsLimitation);
});

test("recovery: an executor joined to a named network is not handed to network/ports, as at launch", async () => {
  const ports = new RecordingIsolator("network/ports");
  const cpu = new RecordingIsolator("cgroups/cpu");
  const c = containerizer([ports, cpu]);
  const executors = new Map([
    [
      "C1",
      {
        executor_id: { value: "E1" },
        container: { type: "MESOS" as const, network_infos: [{ name: "net" }] },
      },
    ],
    ["C2", { executor_id: { value: "E2" } }],
  ]);
  const alive = new Map([
    ["C1", 101],
    ["C2", 102],
  ]);
  await c.recover(alive, () => undefined, executors);
  assert.deepEqual(ports.recovered, [new Map([["C2", 102]])]);
  assert.deepEqual(cpu.recovered, [alive]);
});

test("recovery without the linux launcher: usage of an adopted container comes from the isolators that recovered it", async () => {
  class UsageIsolator extends RecordingIsolator {
    pids = new Map<string, number>();
    override async recover(containers: ReadonlyMap<string, number>): Promise<void> {
      await super.recover(containers);
      for (const [id, pid] of containers) this.pids.set(id, pid);
    }
    override async usage(id: string) {
      const pid = this.pids.get(id);
      return pid === undefined
        ? { timestamp: 0 }
        : { timestamp: 1, processes: 2, mem_rss_bytes: pid };
    }
  }
  const posix = new UsageIsolator("posix/mem");
  const c = containerizer([posix]);
  assert.equal(await c.usage("C1"), undefined, "unknown before recovery");
  await c.recover(new Map([["C1", 4242]]), () => {});
  assert.deepEqual(await c.usage("C1"), { timestamp: 1, processes: 2, mem_rss_bytes: 4242 });
  assert.equal(await c.usage("C2"), undefined, "not adopted: unknown");
  await c.recoveredEnded("C1", {});
  assert.equal(await c.usage("C1"), undefined, "ended: unknown again");
});

test("teardown: an isolator cleanup that fails counts one container destroy error", async () => {
  class FailingIsolator extends RecordingIsolator {
    override async cleanup(id: string): Promise<void> {
      this.cleanups.push(id);
      throw new Error("device busy");
    }
  }
  const failing = new FailingIsolator("network/ports");
  const other = new FailingIsolator("cgroups/cpu");
  const c = containerizer([failing, other]);
  await c.recover(
    new Map([
      ["C1", 101],
      ["C2", 102],
    ]),
    () => undefined,
  );
  assert.equal(c.destroyErrors, 0);
  await c.recoveredEnded("C1", {});
  assert.deepEqual(failing.cleanups, ["C1"]);
  assert.deepEqual(other.cleanups, ["C1"], "the other isolators still clean up");
  assert.equal(c.destroyErrors, 1, "one per container, however many steps failed");
  await c.recoveredEnded("C2", {});
  assert.equal(c.destroyErrors, 2);
});

test("teardown: clean cleanups count no destroy error", async () => {
  const ports = new RecordingIsolator("network/ports");
  const c = containerizer([ports]);
  await c.recover(new Map([["C1", 101]]), () => undefined);
  await c.recoveredEnded("C1", {});
  assert.equal(c.destroyErrors, 0);
});

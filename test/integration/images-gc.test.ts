/**
 * Image garbage collection as Mesos: the agent's PRUNE_IMAGES call keeps
 * the excluded images and those of running containers (and the layers they
 * use) and removes the rest from `--docker_store_dir`; `--image_gc_config`
 * prunes by itself when the store's disk passes the headroom, keeping its
 * `excluded_images`. Needs root and a static busybox; skips otherwise.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  type DaemonHandle,
  getJson,
  runBinary,
  startAgent,
  startDaemon,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
  waitLong,
} from "../harness/processes.js";
import { executeTask, sandboxOf, scalar } from "./containerizer-helpers.js";
import { buildLegacyImage, busyboxFiles, imageContainer, imageSkip } from "./images-helpers.js";

const skip = imageSkip;
const resources = [scalar("cpus", 0.1), scalar("mem", 32)];
let master: DaemonHandle;
let registry: string;

before(async () => {
  if (skip !== undefined) return;
  registry = tempDir("mesos-images-gc-registry-");
  const base = { id: "base", files: busyboxFiles() };
  for (const name of ["one", "two", "three"]) {
    buildLegacyImage(registry, `${name}.tar`, {
      repository: name,
      layers: [base, { id: `${name}-top`, files: { [`etc/${name}`]: `${name}\n` } }],
      config: { Env: ["PATH=/bin"] },
    });
  }
  master = await startMaster();
});

after(async () => {
  await stopAll();
});

/** Starts an agent on its own store and waits until the master lists it as the only active one. */
async function startImageAgent(store: string, extra: Record<string, string> = {}) {
  const agent = await startAgent({
    master: master.address,
    flags: {
      isolation: "filesystem/linux,docker/runtime",
      image_providers: "docker",
      docker_registry: registry,
      docker_store_dir: store,
      ...extra,
    },
  });
  await waitFor(`the agent on port ${agent.port} to register`, async () => {
    const state = await getJson<{ slaves?: { pid?: string; active?: boolean }[] }>(
      `${master.url}/master/state`,
    );
    const active = (state?.slaves ?? []).filter((s) => s.active !== false);
    return active.length === 1 && active[0]?.pid?.endsWith(`:${agent.port}`) === true;
  });
  return agent;
}

async function finish(name: string, image: string) {
  const run = await executeTask(master, {
    name,
    resources,
    command: `cat /etc/${image}`,
    container: imageContainer(image),
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
}

function storedReferences(store: string): string[] {
  const parsed = JSON.parse(readFileSync(join(store, "storedImages"), "utf8")) as {
    images: { reference: string }[];
  };
  return parsed.images.map((i) => i.reference).sort();
}

async function pruneImages(agent: DaemonHandle, excluded: string[]) {
  return fetch(`${agent.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({
      type: "PRUNE_IMAGES",
      prune_images: {
        excluded_images: excluded.map((name) => ({ type: "DOCKER", docker: { name } })),
      },
    }),
  });
}

test("PRUNE_IMAGES keeps excluded images and those of running containers, and removes the rest", {
  skip,
}, async () => {
  const store = tempDir("mesos-images-gc-store-");
  const agent = await startImageAgent(store);
  await finish("gc-one", "one");
  await finish("gc-three", "three");
  // "two" keeps running until the test lets it finish.
  const running = runBinary(
    "mesos-execute",
    [
      `--master=${master.address}`,
      `--task=${JSON.stringify({
        name: "gc-two",
        task_id: { value: "gc-two" },
        agent_id: { value: "" },
        resources,
        command: { value: "until test -e /mnt/mesos/sandbox/stop; do sleep 0.1; done" },
        container: imageContainer("two"),
      })}`,
    ],
    { timeoutMs: 120_000 },
  );
  const sandbox = await sandboxOf(agent, "gc-two");
  await waitLong("gc-two to run", async () => {
    const state = await getJson<{
      frameworks?: { executors?: { tasks?: { id: string; state: string }[] }[] }[];
    }>(`${agent.url}/state`);
    return (state?.frameworks ?? [])
      .flatMap((f) => f.executors ?? [])
      .flatMap((e) => e.tasks ?? [])
      .some((t) => t.id === "gc-two" && t.state === "TASK_RUNNING");
  });
  const layers = join(store, "layers");
  assert.deepEqual(readdirSync(layers).sort(), ["base", "one-top", "three-top", "two-top"]);
  // The finished tasks' root filesystems go with their containers, a little after their status.
  const containers = join(agent.workDir, "provisioner", "containers");
  await waitLong(
    "only gc-two's root filesystem to be left",
    () => readdirSync(containers).length === 1,
  );

  const pruned = await pruneImages(agent, ["three"]);
  assert.equal(pruned.status, 200, await pruned.text());
  assert.deepEqual(readdirSync(layers).sort(), ["base", "three-top", "two-top"]);
  assert.deepEqual(storedReferences(store), ["three", "two"]);
  assert.deepEqual(readdirSync(join(store, "gc")), []);

  writeFileSync(join(sandbox, "stop"), "");
  const finished = await running;
  assert.match(finished.stdout, /TASK_FINISHED/);
  // Once gc-two's container is gone, nothing holds its layers.
  await waitLong("gc-two's root filesystem to be removed", () => {
    return !existsSync(containers) || readdirSync(containers).length === 0;
  });
  const all = await pruneImages(agent, []);
  assert.equal(all.status, 200);
  assert.deepEqual(readdirSync(layers), []);
  assert.deepEqual(storedReferences(store), []);

  // A pruned image is pulled again when a task needs it.
  await finish("gc-one-again", "one");
  assert.deepEqual(readdirSync(layers).sort(), ["base", "one-top"]);
  await agent.stop();
});

test("--image_gc_config prunes by itself when the store's disk passes the headroom, keeping excluded_images", {
  skip,
}, async () => {
  const store = tempDir("mesos-images-gc-auto-store-");
  const agent = await startImageAgent(store, {
    // Headroom 1: any usage passes it, so every check prunes.
    image_gc_config: JSON.stringify({
      image_disk_headroom: 1,
      image_disk_watch_interval: { nanoseconds: 200_000_000 },
      excluded_images: [{ type: "DOCKER", docker: { name: "three" } }],
    }),
  });
  await finish("auto-three", "three");
  await finish("auto-one", "one");
  await waitLong("the automatic image GC to remove image 'one'", () => {
    const ids = readdirSync(join(store, "layers")).sort();
    return ids.join(",") === "base,three-top" ? ids : undefined;
  });
  assert.deepEqual(storedReferences(store), ["three"]);
  await agent.stop();
});

test("an --image_gc_config headroom outside 0..1 stops the agent at start", { skip }, async () => {
  const agent = await startDaemon("mesos-agent", undefined, {
    waitReady: false,
    flags: {
      master: master.address,
      isolation: "filesystem/linux,docker/runtime",
      image_providers: "docker",
      docker_registry: registry,
      image_gc_config: JSON.stringify({ image_disk_headroom: 2 }),
    },
  });
  assert.notEqual(await agent.exited, 0);
  assert.match(agent.logs(), /image_disk_headroom must be between 0\.0 and 1\.0/);
});

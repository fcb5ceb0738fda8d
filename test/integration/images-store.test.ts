/**
 * The Docker store and copy provisioner as a Mesos operator meets them:
 * archives in the layout Mesos' local puller reads (`repositories` and
 * per-layer `json`), whiteouts and opaque directories across layers, a
 * symlink replaced by a directory, layers shared by images unpacked once in
 * Mesos' `--docker_store_dir` layout, the store reused by a restarted agent
 * (and `cached: false` going back to the registry), the errors of missing
 * and malformed image names, `--docker_ignore_runtime`, and the agent
 * refusing images without `filesystem/linux`. Needs root and a static
 * busybox; skips otherwise.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  type DaemonHandle,
  getJson,
  startAgent,
  startDaemon,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
} from "../harness/processes.js";
import { executeTask, sandboxOf, scalar } from "./containerizer-helpers.js";
import { buildLegacyImage, busyboxFiles, imageContainer, imageSkip } from "./images-helpers.js";

const skip = imageSkip;
const resources = [scalar("cpus", 0.1), scalar("mem", 32)];
let master: DaemonHandle;
let registry: string;
let store: string;

before(async () => {
  if (skip !== undefined) return;
  registry = tempDir("mesos-images-store-registry-");
  store = tempDir("mesos-images-store-");
  const base = {
    id: "base",
    files: {
      ...busyboxFiles(),
      "etc/gone": "whited out by the next layer\n",
      "etc/kept": "kept\n",
      "opt/dir/old1": "old\n",
      "opt/dir/old2": "old\n",
      "opt/other/stays": "stays\n",
      // A relative link: a copy that wrote through it would land in /etc.
      lnk: { link: "etc" },
    },
  };
  buildLegacyImage(registry, "multi.tar", {
    repository: "multi",
    layers: [
      base,
      {
        id: "multi-mid",
        files: {
          "etc/.wh.gone": "",
          "opt/dir/.wh..wh..opq": "",
          "opt/dir/new": "new\n",
          "lnk/inside": "in a real directory\n",
        },
      },
      { id: "multi-top", files: { "etc/top": "top\n" } },
    ],
    config: { Env: ["PATH=/bin", "FROM_IMAGE=multi"], WorkingDir: "/opt" },
  });
  buildLegacyImage(registry, "second:2.0.tar", {
    repository: "second",
    tag: "2.0",
    layers: [base, { id: "second-top", files: { "etc/second": "second\n" } }],
    config: { Env: ["PATH=/bin"] },
  });
  master = await startMaster();
});

after(async () => {
  await stopAll();
});

/** Starts an agent and waits until the master lists it as active (earlier agents are gone). */
async function startImageAgent(
  extra: Record<string, string | boolean> = {},
): Promise<DaemonHandle> {
  const agent = await startAgent({ master: master.address, flags: agentFlags(extra) });
  await waitFor(`the agent on port ${agent.port} to register`, async () => {
    const state = await getJson<{ slaves?: { pid?: string; active?: boolean }[] }>(
      `${master.url}/master/state`,
    );
    const active = (state?.slaves ?? []).filter((s) => s.active !== false);
    return active.length === 1 && active[0]?.pid?.endsWith(`:${agent.port}`) === true;
  });
  return agent;
}

function agentFlags(extra: Record<string, string | boolean> = {}) {
  return {
    isolation: "filesystem/linux,docker/runtime",
    image_providers: "docker",
    docker_registry: registry,
    docker_store_dir: store,
    ...extra,
  };
}

async function runIn(
  agent: DaemonHandle,
  name: string,
  image: string,
  command: string,
  cached?: boolean,
) {
  const result = await executeTask(master, {
    name,
    resources,
    command,
    container: imageContainer(image, cached),
  });
  const stdout =
    result.finalState === "TASK_FINISHED"
      ? readFileSync(join(await sandboxOf(agent, name), "stdout"), "utf8")
      : "";
  return { ...result, stdout };
}

test("images: layers stack with whiteouts, opaque directories and a symlink replaced by a directory; shared layers are stored once", {
  skip,
}, async () => {
  const agent = await startImageAgent();
  const script = [
    "ls /opt/dir",
    "test -e /etc/gone && echo GONE-PRESENT",
    "cat /etc/kept /etc/top /opt/other/stays",
    "test -L /lnk && echo LNK-IS-LINK",
    "cat /lnk/inside",
    "test -e /etc/inside && echo WROTE-THROUGH-LINK",
    "ls -a /etc /opt/dir | grep -c '^[.]wh[.]'",
    "true",
  ].join("; ");
  const multi = await runIn(agent, "store-multi", "multi", script);
  assert.equal(multi.finalState, "TASK_FINISHED", multi.stdout);
  assert.match(multi.stdout, /^new\n/);
  assert.doesNotMatch(multi.stdout, /old1|old2|GONE-PRESENT|LNK-IS-LINK|WROTE-THROUGH-LINK/);
  assert.match(multi.stdout, /^kept\ntop\nstays\nin a real directory\n0$/m);

  // Mesos' layout: one directory per layer id, the top layer's json, the image list.
  const layers = join(store, "layers");
  assert.deepEqual(readdirSync(layers).sort(), ["base", "multi-mid", "multi-top"]);
  assert.ok(existsSync(join(layers, "base", "rootfs", "bin", "busybox")));
  assert.match(readFileSync(join(layers, "multi-top", "json"), "utf8"), /FROM_IMAGE=multi/);
  const busybox = statSync(join(layers, "base", "rootfs", "bin", "busybox"));

  const second = await runIn(agent, "store-second", "second:2.0", "cat /etc/second /etc/kept");
  assert.equal(second.finalState, "TASK_FINISHED", second.stdout);
  assert.match(second.stdout, /^second\nkept$/m);
  assert.deepEqual(readdirSync(layers).sort(), ["base", "multi-mid", "multi-top", "second-top"]);
  // The shared layer was not unpacked again.
  assert.equal(statSync(join(layers, "base", "rootfs", "bin", "busybox")).ino, busybox.ino);
  const images = JSON.parse(readFileSync(join(store, "storedImages"), "utf8")) as {
    images: { reference: string; layer_ids: string[] }[];
  };
  assert.deepEqual(images.images.map((i) => [i.reference, i.layer_ids]).sort(), [
    ["multi", ["base", "multi-mid", "multi-top"]],
    ["second:2.0", ["base", "second-top"]],
  ]);
  assert.deepEqual(readdirSync(join(store, "staging")), []);
  // Mesos' timer of image pulls (two pulls: multi and second:2.0).
  const metrics = await getJson<Record<string, number>>(`${agent.url}/metrics/snapshot`);
  assert.ok((metrics?.["containerizer/mesos/provisioner/docker_store/image_pull_ms"] ?? 0) > 0);
  assert.equal(metrics?.["containerizer/mesos/provisioner/docker_store/image_pull_ms/count"], 2);
  await agent.stop();
});

test("images: a restarted agent runs stored images without their archives; cached: false pulls again", {
  skip,
}, async () => {
  rmSync(join(registry, "multi.tar"));
  const agent = await startImageAgent();
  const cachedRun = await runIn(
    agent,
    "store-cached",
    "multi",
    "cat /etc/top; pwd; echo $FROM_IMAGE",
  );
  assert.equal(cachedRun.finalState, "TASK_FINISHED", cachedRun.stdout);
  assert.match(cachedRun.stdout, /^top\n\/opt\nmulti$/m);

  const fresh = await runIn(agent, "store-uncached", "multi", "true", false);
  assert.equal(fresh.finalState, "TASK_FAILED", fresh.stdout);
  assert.equal(fresh.reason, "REASON_CONTAINER_LAUNCH_FAILED");
  assert.equal(
    fresh.message,
    `Failed to launch container: Failed to find archive for image 'multi' at '${join(registry, "multi.tar")}'`,
  );
  await agent.stop();
});

test("images: missing images and malformed names fail the task with Mesos' messages", {
  skip,
}, async () => {
  const agent = await startImageAgent();
  const missing = await runIn(agent, "store-missing", "nosuch:1.0", "true");
  assert.equal(missing.finalState, "TASK_FAILED");
  assert.equal(missing.reason, "REASON_CONTAINER_LAUNCH_FAILED");
  assert.equal(
    missing.message,
    `Failed to launch container: Failed to find archive for image 'nosuch:1.0' at '${join(registry, "nosuch:1.0.tar")}'`,
  );
  const malformed = await runIn(agent, "store-malformed", "a@b@c", "true");
  assert.equal(malformed.finalState, "TASK_FAILED");
  assert.equal(
    malformed.message,
    "Failed to launch container: Failed to parse docker image 'a@b@c': Multiple '@' symbols found",
  );
  await agent.stop();
});

test("images: --docker_ignore_runtime gives the image's root filesystem without its Env and WorkingDir", {
  skip,
}, async () => {
  const agent = await startImageAgent({ docker_ignore_runtime: true });
  const run = await runIn(
    agent,
    "store-ignore",
    "multi",
    "cat /etc/top; echo pwd=$(pwd) from=$FROM_IMAGE",
  );
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  assert.match(run.stdout, /^top\npwd=\/mnt\/mesos\/sandbox from=$/m);
  await agent.stop();
});

test("images: an agent with --image_providers refuses to start without filesystem/linux", {
  skip,
}, async () => {
  const agent = await startDaemon("mesos-agent", undefined, {
    waitReady: false,
    flags: {
      master: master.address,
      isolation: "posix/cpu,posix/mem",
      image_providers: "docker",
      docker_registry: registry,
      docker_store_dir: tempDir("mesos-images-store-refused-"),
    },
  });
  const code = await agent.exited;
  assert.notEqual(code, 0);
  assert.match(
    agent.logs(),
    /The 'filesystem\/linux' isolator must be enabled for container image support/,
  );
});

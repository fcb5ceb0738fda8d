/**
 * Host volumes of a container with an image, placed as Mesos places them:
 * an absolute container_path inside the image's root filesystem (its mount
 * point created there, a file for a file), a relative one under the
 * sandbox at /mnt/mesos/sandbox. Needs root and a static busybox; skips
 * otherwise.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, stopAll, tempDir } from "../harness/processes.js";
import { executeTask, sandboxOf, scalar } from "./containerizer-helpers.js";
import { buildLegacyImage, busyboxFiles, imageContainer, imageSkip } from "./images-helpers.js";

const skip = imageSkip;
let master: DaemonHandle;
let agent: DaemonHandle;
let hostDir: string;

before(async () => {
  if (skip !== undefined) return;
  const registry = tempDir("mesos-images-volumes-registry-");
  buildLegacyImage(registry, "vol.tar", {
    repository: "vol",
    layers: [{ id: "vol-base", files: { ...busyboxFiles(), "etc/motd": "image motd\n" } }],
    config: { Env: ["PATH=/bin"] },
  });
  hostDir = tempDir("mesos-images-volumes-host-");
  mkdirSync(join(hostDir, "dir"));
  writeFileSync(join(hostDir, "dir", "data"), "host data\n");
  writeFileSync(join(hostDir, "motd"), "host motd\n");
  ({ master, agent } = await startOneAgentCluster({
    isolation: "filesystem/linux,docker/runtime",
    image_providers: "docker",
    docker_registry: registry,
    docker_store_dir: tempDir("mesos-images-volumes-store-"),
  }));
});

after(async () => {
  await stopAll();
});

test("images: host volumes land inside the image (absolute paths) or its sandbox (relative paths)", {
  skip,
}, async () => {
  const container = {
    ...imageContainer("vol"),
    volumes: [
      { container_path: "/srv/data", host_path: join(hostDir, "dir"), mode: "RO" },
      { container_path: "/etc/motd", host_path: join(hostDir, "motd"), mode: "RO" },
      { container_path: "shared", host_path: join(hostDir, "dir"), mode: "RW" },
    ],
  };
  const run = await executeTask(master, {
    name: "image-volumes",
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: [
      "cat /srv/data/data /etc/motd /mnt/mesos/sandbox/shared/data",
      "echo x > /srv/data/new 2>/dev/null || echo read-only",
      "echo written > /mnt/mesos/sandbox/shared/from-task",
    ].join("; "),
    container,
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  const stdout = readFileSync(join(await sandboxOf(agent, "image-volumes"), "stdout"), "utf8");
  assert.match(stdout, /^host data\nhost motd\nhost data\nread-only$/m);
  assert.equal(readFileSync(join(hostDir, "dir", "from-task"), "utf8"), "written\n");
});

test("images: a volume whose source is an image is that image's root filesystem, with or without an image of the container's own", {
  skip,
}, async () => {
  const volumeImage = { type: "DOCKER", docker: { name: "vol" } };
  const onHost = await executeTask(master, {
    name: "image-volume-host",
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: "cat tools/etc/motd; test -x tools/bin/busybox && echo has-busybox",
    container: {
      type: "MESOS",
      volumes: [{ container_path: "tools", mode: "RO", image: volumeImage }],
    },
  });
  assert.equal(onHost.finalState, "TASK_FINISHED", onHost.stdout);
  const hostOut = readFileSync(join(await sandboxOf(agent, "image-volume-host"), "stdout"), "utf8");
  assert.match(hostOut, /^image motd\nhas-busybox$/m);

  const inImage = await executeTask(master, {
    name: "image-volume-in-image",
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: "cat /opt/tools/etc/motd /mnt/mesos/sandbox/rel/etc/motd",
    container: {
      ...imageContainer("vol"),
      volumes: [
        { container_path: "/opt/tools", mode: "RO", image: volumeImage },
        { container_path: "rel", mode: "RW", image: volumeImage },
      ],
    },
  });
  assert.equal(inImage.finalState, "TASK_FINISHED", inImage.stdout);
  const imageOut = readFileSync(
    join(await sandboxOf(agent, "image-volume-in-image"), "stdout"),
    "utf8",
  );
  assert.match(imageOut, /^image motd\nimage motd$/m);
});

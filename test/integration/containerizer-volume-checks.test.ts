/**
 * What Mesos' volume isolators and provisioner refuse, checked against a
 * real agent: isolator combinations refused at start (volume/image and
 * volume/host_path without filesystem/linux, two filesystem isolators,
 * images without docker/runtime, with the posix launcher or a backend
 * other than copy), and volumes
 * refused at launch with Mesos' words (a relative HOST_PATH source, an
 * absolute mount point missing on the host) or because mesos-ts cannot
 * serve them (DOCKER_VOLUME). Also that `volume/image` and
 * `volume/host_path`, which Mesos users name, are accepted next to
 * filesystem/linux. Needs root (mount namespaces); the image volume part
 * also a static busybox.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, startDaemon, stopAll, tempDir } from "../harness/processes.js";
import { executeTask, sandboxOf, scalar } from "./containerizer-helpers.js";
import { buildLegacyImage, busyboxFiles, imageSkip } from "./images-helpers.js";

const skip =
  process.platform !== "linux" || process.getuid?.() !== 0
    ? "needs root on Linux (mount namespaces)"
    : undefined;
let master: DaemonHandle;
let agent: DaemonHandle;
let registry: string;

before(async () => {
  if (skip !== undefined) return;
  registry = tempDir("h12-volume-checks-registry-");
  if (imageSkip === undefined) {
    buildLegacyImage(registry, "tools.tar", {
      repository: "tools",
      layers: [{ id: "tools-base", files: { ...busyboxFiles(), "etc/motd": "tools motd\n" } }],
    });
  }
  ({ master, agent } = await startOneAgentCluster({
    // Mesos' spelling of the volume isolators, next to filesystem/linux.
    isolation: "filesystem/linux,volume/host_path,volume/image,volume/sandbox_path,docker/runtime",
    image_providers: "docker",
    docker_registry: registry,
    docker_store_dir: tempDir("h12-volume-checks-store-"),
  }));
});

after(async () => {
  await stopAll();
});

/** Starts an agent with `flags` and returns its logs once it has exited (non-zero). */
async function refusedAgent(flags: Record<string, string>): Promise<string> {
  const refused = await startDaemon("mesos-agent", undefined, {
    waitReady: false,
    flags: { master: master.address, work_dir: tempDir("h12-volume-checks-refused-"), ...flags },
  });
  const code = await refused.exited;
  assert.notEqual(code, 0, refused.logs());
  return refused.logs();
}

test("volume isolators: combinations Mesos refuses stop the agent at start", { skip }, async () => {
  assert.match(
    await refusedAgent({ isolation: "volume/image" }),
    /'filesystem\/linux' must be enabled to create the volume image isolator/,
  );
  assert.match(
    await refusedAgent({ isolation: "posix/cpu,volume/host_path" }),
    /'volume\/host_path' needs the 'filesystem\/linux' isolator/,
  );
  assert.match(
    await refusedAgent({ isolation: "filesystem/linux,filesystem/posix" }),
    /Using multiple filesystem isolators simultaneously is disallowed/,
  );
  assert.match(
    await refusedAgent({ isolation: "filesystem/linux", launcher: "posix" }),
    /'filesystem\/linux' isolator requires 'linux' launcher/,
  );
  const images = {
    isolation: "filesystem/linux,docker/runtime",
    image_providers: "docker",
    docker_registry: registry,
    docker_store_dir: tempDir("h12-volume-checks-store-refused-"),
  };
  assert.match(
    await refusedAgent({ ...images, isolation: "filesystem/linux" }),
    /Docker runtime isolator has to be specified if 'DOCKER' is included in 'image_providers'/,
  );
  assert.match(
    await refusedAgent({ ...images, image_providers: "docker,oci" }),
    /Unknown image type 'oci'/,
  );
  assert.match(
    await refusedAgent({ ...images, image_providers: "appc,docker" }),
    /Unsupported image provider 'appc' \(only docker\)/,
  );
  assert.match(
    await refusedAgent({ ...images, launcher: "posix" }),
    /The 'linux' launcher must be used for container image support/,
  );
  assert.match(
    await refusedAgent({ ...images, image_provisioner_backend: "overlay" }),
    /Unsupported image provisioner backend 'overlay' \(only copy\)/,
  );
});

test("volume/host_path: a relative HOST_PATH source is refused with Mesos' words; the legacy relative host_path is a sandbox directory", {
  skip,
}, async () => {
  const refused = await executeTask(master, {
    name: "h12-relative-source",
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: "true",
    container: {
      type: "MESOS",
      volumes: [
        {
          container_path: "data",
          mode: "RW",
          source: { type: "HOST_PATH", host_path: { path: "data" } },
        },
      ],
    },
  });
  assert.equal(refused.finalState, "TASK_FAILED", refused.stdout);
  assert.match(refused.message ?? "", /Path 'data' in HOST_PATH volume is not absolute/);

  // Legacy: a relative host_path is a SANDBOX_PATH volume of type SELF (an absolute mount point).
  const mountPoint = tempDir("h12-volume-checks-legacy-");
  const legacy = await executeTask(master, {
    name: "h12-relative-legacy",
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: `echo kept > ${mountPoint}/x && cat src/x`,
    container: {
      type: "MESOS",
      volumes: [{ container_path: mountPoint, host_path: "src", mode: "RW" }],
    },
  });
  assert.equal(legacy.finalState, "TASK_FINISHED", legacy.stdout);
  assert.match(
    readFileSync(join(await sandboxOf(agent, "h12-relative-legacy"), "stdout"), "utf8"),
    /^kept$/m,
  );
});

test("volume/host_path: an absolute mount point missing on the host is refused with Mesos' words", {
  skip,
}, async () => {
  const missing = join(tempDir("h12-volume-checks-target-"), "absent");
  const run = await executeTask(master, {
    name: "h12-missing-target",
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: "true",
    container: {
      type: "MESOS",
      volumes: [
        {
          container_path: missing,
          mode: "RO",
          source: { type: "HOST_PATH", host_path: { path: tempDir("h12-volume-checks-src-") } },
        },
      ],
    },
  });
  assert.equal(run.finalState, "TASK_FAILED", run.stdout);
  assert.ok(
    (run.message ?? "").includes(
      `Mount point '${missing}' is an absolute path. It must exist if the container shares the host filesystem`,
    ),
    run.stdout,
  );
});

test("volume/host_path: a relative container_path leading out of the sandbox is refused (Mesos does not check)", {
  skip,
}, async () => {
  const run = await executeTask(master, {
    name: "h12-escape",
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: "true",
    container: {
      type: "MESOS",
      volumes: [
        {
          container_path: "../../escape",
          mode: "RW",
          source: { type: "HOST_PATH", host_path: { path: tempDir("h12-volume-checks-esc-") } },
        },
      ],
    },
  });
  assert.equal(run.finalState, "TASK_FAILED", run.stdout);
  assert.match(run.message ?? "", /container_path '\.\.\/\.\.\/escape' leaves the sandbox/);
});

test("volumes: a DOCKER_VOLUME volume fails the launch (no docker/volume isolator) instead of running without it", {
  skip,
}, async () => {
  const run = await executeTask(master, {
    name: "h12-docker-volume",
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: "true",
    container: {
      type: "MESOS",
      volumes: [
        {
          container_path: "/data",
          mode: "RW",
          source: { type: "DOCKER_VOLUME", docker_volume: { driver: "local", name: "v1" } },
        },
      ],
    },
  });
  assert.equal(run.finalState, "TASK_FAILED", run.stdout);
  assert.match(
    run.message ?? "",
    /DOCKER_VOLUME volume '\/data' is not supported \(no docker\/volume or volume\/csi isolator\)/,
  );
});

test("volume/host_path: BIDIRECTIONAL mount propagation fails the launch (not silently private)", {
  skip,
}, async () => {
  const run = await executeTask(master, {
    name: "h12-bidirectional",
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: "true",
    container: {
      type: "MESOS",
      volumes: [
        {
          container_path: "shared",
          mode: "RW",
          source: {
            type: "HOST_PATH",
            host_path: {
              path: tempDir("h12-volume-checks-bidi-"),
              mount_propagation: { mode: "BIDIRECTIONAL" },
            },
          },
        },
      ],
    },
  });
  assert.equal(run.finalState, "TASK_FAILED", run.stdout);
  assert.match(
    run.message ?? "",
    /BIDIRECTIONAL mount propagation \(HOST_PATH volume 'shared'\) is not supported/,
  );
});

test("volume/image: named in --isolation, an image volume of a host container is mounted under its sandbox", {
  skip: skip ?? imageSkip,
}, async () => {
  const run = await executeTask(master, {
    name: "h12-image-volume",
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: "cat tools/etc/motd",
    container: {
      type: "MESOS",
      volumes: [
        {
          container_path: "tools",
          mode: "RO",
          image: { type: "DOCKER", docker: { name: "tools" } },
        },
      ],
    },
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  assert.match(
    readFileSync(join(await sandboxOf(agent, "h12-image-volume"), "stdout"), "utf8"),
    /^tools motd$/m,
  );
});

test("--default_container_info with an image and a volume: a task sent without a ContainerInfo runs in that image", {
  skip: skip ?? imageSkip,
}, async () => {
  const { master: ownMaster, agent: ownAgent } = await startOneAgentCluster({
    isolation: "filesystem/linux,docker/runtime",
    image_providers: "docker",
    docker_registry: registry,
    docker_store_dir: tempDir("h12-volume-checks-default-store-"),
    default_container_info: JSON.stringify({
      type: "MESOS",
      mesos: { image: { type: "DOCKER", docker: { name: "tools" } } },
      volumes: [{ container_path: "/scratch", host_path: "scratch", mode: "RW" }],
    }),
  });
  const run = await executeTask(ownMaster, {
    name: "h12-default-image",
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: "cat /etc/motd && echo from-image > /scratch/f",
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  const sandbox = await sandboxOf(ownAgent, "h12-default-image");
  assert.match(readFileSync(join(sandbox, "stdout"), "utf8"), /^tools motd$/m);
  assert.equal(readFileSync(join(sandbox, "scratch", "f"), "utf8"), "from-image\n");
});

/**
 * COMMAND checks and health checks of a command task in a container image
 * run inside the image's root filesystem, from the sandbox, as Mesos runs
 * them in the task's mount namespace. Builds a tiny busybox image in a
 * local registry directory; needs root and a static busybox, skips otherwise.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, runBinary, stopAll, tempDir } from "../harness/processes.js";
import { buildManifestImage, imageSkip, type LayerFiles } from "./images-helpers.js";

const CHROOT = ["/usr/sbin/chroot", "/usr/bin/chroot", "/sbin/chroot"].find((p) => existsSync(p));

const skip = imageSkip ?? (CHROOT === undefined ? "needs chroot(8)" : undefined);

const MARKER = "mesos-ts-health-image";
let master: DaemonHandle;

/** `<registry>/healthimage:latest.tar`: busybox and an /etc/os-release only the image has. */
function buildImage(registry: string): void {
  const files: LayerFiles = { "bin/busybox": "", "etc/os-release": `ID=${MARKER}\n` };
  for (const tool of ["sh", "sleep", "grep", "test", "pwd", "cat", "echo", "["]) {
    files[`bin/${tool}`] = { link: "busybox" };
  }
  buildManifestImage(registry, "healthimage:latest.tar", {
    repository: "healthimage",
    layers: [{ files }],
    config: { Env: ["PATH=/bin"] },
  });
}

before(async () => {
  if (skip !== undefined) return;
  const registry = tempDir("mesos-health-registry-");
  buildImage(registry);
  ({ master } = await startOneAgentCluster({
    isolation: "filesystem/linux,docker/runtime",
    image_providers: "docker",
    docker_registry: registry,
    docker_store_dir: tempDir("mesos-health-docker-store-"),
  }));
});

after(stopAll);

test("health checks: COMMAND checks of a command task in an image run in the image's root filesystem, from the sandbox", {
  skip,
}, async () => {
  // Only true inside the image: the agent's /etc/os-release does not name the marker.
  const inImage = `grep -q ${MARKER} /etc/os-release && test "$(pwd)" = /mnt/mesos/sandbox && test "$MESOS_SANDBOX" = /mnt/mesos/sandbox`;
  // The task ends once each probe succeeded twice (each probe appends a line in the
  // sandbox): by the second run the first result was reported. At most ~20 s.
  const waitForProbes = [
    "i=0",
    'until [ "$(grep -c . h 2>/dev/null)" -ge 2 ] && [ "$(grep -c . c 2>/dev/null)" -ge 2 ]',
    "do i=$((i+1)); [ $i -gt 100 ] && exit 0; sleep 0.2",
    "done",
  ].join("; ");
  const task = {
    name: "image-health",
    task_id: { value: "image-health" },
    agent_id: { value: "" },
    resources: [
      { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
      { name: "mem", type: "SCALAR", scalar: { value: 32 } },
    ],
    command: { value: waitForProbes },
    container: {
      type: "MESOS",
      mesos: { image: { type: "DOCKER", docker: { name: "healthimage" } } },
    },
    health_check: {
      type: "COMMAND",
      command: { value: `${inImage} && echo ok >> h` },
      delay_seconds: 0.2,
      interval_seconds: 0.3,
      grace_period_seconds: 0,
      consecutive_failures: 1,
    },
    check: {
      type: "COMMAND",
      command: {
        command: {
          shell: false,
          value: "/bin/sh",
          arguments: ["sh", "-c", `grep -q ${MARKER} /etc/os-release && echo ok >> c`],
        },
      },
      delay_seconds: 0.2,
      interval_seconds: 0.3,
    },
  };
  const run = await runBinary(
    "mesos-execute",
    [`--master=${master.address}`, `--task=${JSON.stringify(task)}`],
    { timeoutMs: 60_000 },
  );
  const out = run.stdout;
  assert.match(out, /Received status update TASK_FINISHED for task 'image-health'/, out);
  assert.match(out, /healthy\?: 1/, out);
  assert.doesNotMatch(out, /healthy\?: 0/, out);
  assert.match(out, /check status: COMMAND exit code 0/, out);
});

/**
 * `volume/secret` for containers with an image, placed as Mesos places
 * them: an absolute container_path inside the image (its mount point made
 * in the root filesystem), a relative one under the sandbox mount at
 * `--sandbox_directory`; for a command task and for a task of a group (a
 * nested container). Needs root on Linux and a static busybox; skips
 * otherwise.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, runBinary, stopAll, tempDir, waitFor } from "../harness/processes.js";
import { executeTask, scalar } from "./containerizer-helpers.js";
import { buildLegacyImage, busyboxFiles, imageContainer, imageSkip } from "./images-helpers.js";

const skip = imageSkip;
let master: DaemonHandle;
let runtimeDir: string;

before(async () => {
  if (skip !== undefined) return;
  const registry = tempDir("h12-secret-image-registry-");
  buildLegacyImage(registry, "secretive.tar", {
    repository: "secretive",
    layers: [{ id: "secretive-base", files: { ...busyboxFiles(), "etc/hostname": "image\n" } }],
    config: { Env: ["PATH=/bin"] },
  });
  runtimeDir = tempDir("h12-secret-image-runtime-");
  ({ master } = await startOneAgentCluster({
    isolation: "filesystem/linux,volume/secret,docker/runtime",
    image_providers: "docker",
    docker_registry: registry,
    docker_store_dir: tempDir("h12-secret-image-store-"),
    runtime_dir: runtimeDir,
  }));
});

after(stopAll);

const base64 = (text: string) => Buffer.from(text).toString("base64");
const secretVolume = (containerPath: string, text: string, mode = "RW") => ({
  container_path: containerPath,
  mode,
  source: { type: "SECRET", secret: { type: "VALUE", value: { data: base64(text) } } },
});
/** Reads both secrets inside the image and fails if the RO one can be written. */
const readSecrets =
  'test "$(cat /etc/app/token)" = "abs s3cr3t" && ' +
  'test "$(cat $MESOS_SANDBOX/creds/key)" = "rel s3cr3t" && ' +
  "test -f /etc/hostname && ! echo x > /etc/app/token";
const volumes = [
  secretVolume("/etc/app/token", "abs s3cr3t", "RO"),
  secretVolume("creds/key", "rel s3cr3t"),
];

async function secretsCleanedUp(): Promise<void> {
  await waitFor("the host's secret directories to go", () =>
    readdirSync(join(runtimeDir, ".secret")).length === 0 ? true : undefined,
  );
}

test("volume/secret: a command task in an image sees its secrets at absolute paths in the image and relative ones in its sandbox", {
  skip,
}, async () => {
  const run = await executeTask(master, {
    name: "h12-secret-image",
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: readSecrets,
    container: { ...imageContainer("secretive"), volumes },
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  await secretsCleanedUp();
});

test("volume/secret: a task of a group with its own image sees its secrets the same way", {
  skip,
}, async () => {
  const task = {
    name: "h12-secret-image-group",
    task_id: { value: "h12-secret-image-group" },
    agent_id: { value: "" },
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: { value: readSecrets },
    container: { ...imageContainer("secretive"), volumes },
  };
  const run = await runBinary(
    "mesos-execute",
    [`--master=${master.address}`, `--task_group=${JSON.stringify({ tasks: [task] })}`],
    { timeoutMs: 90_000 },
  );
  const states = [...run.stdout.matchAll(/^Received status update (\S+) for task/gm)].map(
    (m) => m[1],
  );
  assert.equal(states.at(-1), "TASK_FINISHED", run.stdout + run.stderr);
  await secretsCleanedUp();
});

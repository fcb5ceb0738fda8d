/**
 * SANDBOX_PATH volumes of type PARENT for a nested container with an image
 * (`--isolation=filesystem/linux,docker/runtime`, a local registry): an
 * absolute `container_path` is inside the image's root filesystem, a
 * relative one under its sandbox mount (`/mnt/mesos/sandbox`), both bound to
 * the parent's sandbox; `RO` refuses writes. Needs root and a static busybox.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  type DaemonHandle,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitForAgents,
} from "../harness/processes.js";
import { buildLegacyImage, busyboxFiles, imageContainer, imageSkip } from "./images-helpers.js";

const skip = imageSkip;
let agent: DaemonHandle;

before(async () => {
  if (skip !== undefined) return;
  const registry = tempDir("mesos-sp-images-registry-");
  buildLegacyImage(registry, "tiny.tar", {
    repository: "tiny",
    layers: [{ id: "sp-base", files: busyboxFiles() }],
    config: { Env: ["PATH=/bin"] },
  });
  const master = await startMaster();
  agent = await startAgent({
    master: master.address,
    flags: {
      isolation: "filesystem/linux,docker/runtime",
      image_providers: "docker",
      docker_registry: registry,
      docker_store_dir: tempDir("mesos-sp-images-store-"),
    },
  });
  await waitForAgents(master, 1);
});

after(stopAll);

async function call(c: Record<string, unknown>): Promise<{ status: number; text: string }> {
  const res = await fetch(`${agent.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(c),
  });
  return { status: res.status, text: await res.text() };
}

const parentVolume = (path: string, containerPath: string, mode: "RW" | "RO") => ({
  container_path: containerPath,
  mode,
  source: { type: "SANDBOX_PATH", sandbox_path: { type: "PARENT", path } },
});

test("a nested container in an image sees its parent's sandbox at an absolute path in the image (RO) and under its sandbox (RW)", {
  skip,
}, async () => {
  const parent = "sp-image-parent";
  const started = await call({
    type: "LAUNCH_CONTAINER",
    launch_container: {
      container_id: { value: parent },
      command: { value: "sleep 1000" },
      resources: [
        { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
        { name: "mem", type: "SCALAR", scalar: { value: 64 } },
      ],
    },
  });
  assert.equal(started.status, 200, started.text);
  try {
    const parentSandbox = join(agent.workDir, "containers", parent);
    mkdirSync(join(parentSandbox, "shared"), { recursive: true });
    writeFileSync(join(parentSandbox, "shared", "hello"), "hello\n");
    const id = { value: "in-image", parent: { value: parent } };
    const launched = await call({
      type: "LAUNCH_CONTAINER",
      launch_container: {
        container_id: id,
        command: {
          value:
            'cat /data/hello > "$MESOS_SANDBOX/abs" && ! touch /data/x 2>/dev/null && echo w > "$MESOS_SANDBOX/rel/written"',
        },
        container: {
          ...imageContainer("tiny"),
          volumes: [parentVolume("shared", "/data", "RO"), parentVolume("shared", "rel", "RW")],
        },
      },
    });
    assert.equal(launched.status, 200, launched.text);
    const waited = await call({ type: "WAIT_CONTAINER", wait_container: { container_id: id } });
    assert.equal(waited.status, 200, waited.text);
    assert.equal(
      (JSON.parse(waited.text) as { wait_container?: { exit_status?: number } }).wait_container
        ?.exit_status,
      0,
      readFileSync(join(parentSandbox, "containers", "in-image", "stderr"), "utf8"),
    );
    assert.equal(
      readFileSync(join(parentSandbox, "containers", "in-image", "abs"), "utf8"),
      "hello\n",
    );
    assert.equal(readFileSync(join(parentSandbox, "shared", "written"), "utf8"), "w\n");
    assert.equal(existsSync(join(parentSandbox, "shared", "x")), false);
  } finally {
    await call({ type: "KILL_CONTAINER", kill_container: { container_id: { value: parent } } });
    await call({ type: "WAIT_CONTAINER", wait_container: { container_id: { value: parent } } });
  }
});

/**
 * `namespaces/ipc`, `linux/capabilities` and `linux/nnp` for containers with
 * an image (a one-layer busybox image in a local registry directory): the
 * /dev/shm the container sees inside its root filesystem, no_new_privs
 * inside it, and capabilities inside it (applied with capsh; refused with
 * a message that says so where capsh is missing). Needs root and a static
 * busybox (Debian's busybox-static); skips otherwise.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  CAPSH,
  capabilityMask,
} from "../../src/agent/containerizer/isolators/linux-capabilities.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, mountsUnder, stopAll, tempDir, waitFor } from "../harness/processes.js";
import { executeTask, sandboxOf, scalar } from "./containerizer-helpers.js";
import { buildManifestImage, imageSkip, type LayerFiles } from "./images-helpers.js";

const skip =
  imageSkip ?? (existsSync("/proc/self/ns/ipc") ? undefined : "the kernel has no IPC namespaces");

let master: DaemonHandle;
let agent: DaemonHandle;
let runtimeDir: string;

/** Writes `<registry>/ipcimage:latest.tar`: busybox with the tools the tasks use. */
function buildImage(registry: string): void {
  const files: LayerFiles = { "bin/busybox": "" };
  for (const dir of ["dev", "proc", "tmp"]) files[dir] = { dir: true };
  for (const tool of ["sh", "cat", "echo", "df", "awk", "grep", "tr", "readlink", "test", "ls"]) {
    files[`bin/${tool}`] = { link: "busybox" };
  }
  buildManifestImage(registry, "ipcimage:latest.tar", {
    repository: "ipcimage",
    layers: [{ files }],
    config: { Env: ["PATH=/bin"] },
  });
}

before(async () => {
  if (skip !== undefined) return;
  const registry = tempDir("mesos-registry-");
  buildImage(registry);
  runtimeDir = tempDir("mesos-runtime-");
  ({ master, agent } = await startOneAgentCluster({
    isolation: "filesystem/linux,namespaces/ipc,linux/capabilities,linux/nnp,docker/runtime",
    image_providers: "docker",
    docker_registry: registry,
    docker_store_dir: tempDir("mesos-docker-store-"),
    runtime_dir: runtimeDir,
  }));
});

after(stopAll);

const small = [scalar("cpus", 0.1), scalar("mem", 64)];

function container(linuxInfo?: object): object {
  return {
    type: "MESOS",
    mesos: { image: { type: "DOCKER", docker: { name: "ipcimage" } } },
    ...(linuxInfo === undefined ? {} : { linux_info: linuxInfo }),
  };
}

/** key=value lines of a file. */
function keyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^(\w+)=(.*)$/.exec(line);
    if (m !== null) out[m[1] as string] = m[2] as string;
  }
  return out;
}

const REPORT = [
  "echo ipc=$(readlink /proc/self/ns/ipc)",
  "echo shm_kb=$(df -k /dev/shm | awk 'NR==2 {print $2}')",
  "echo shm_files=$(ls -A /dev/shm | tr '\\n' ' ')",
  "grep NoNewPrivs: /proc/self/status | tr -d ' \\t' | tr : =",
].join("; ");

test("namespaces/ipc: a command task in an image without ipc_mode gets its own IPC namespace and an empty /dev/shm", {
  skip,
}, async () => {
  const marker = `host-shm-${process.pid}`;
  writeFileSync(`/dev/shm/${marker}`, "on the host\n");
  try {
    const run = await executeTask(master, {
      name: "image-ipc-unset",
      resources: small,
      command: REPORT,
      container: container(),
    });
    assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
    const r = keyValues(
      readFileSync(join(await sandboxOf(agent, "image-ipc-unset"), "stdout"), "utf8"),
    );
    assert.match(r.ipc ?? "", /^ipc:\[\d+\]$/);
    assert.notEqual(r.ipc, readlinkSync("/proc/self/ns/ipc"));
    assert.doesNotMatch(r.shm_files ?? "", new RegExp(marker), "the agent's /dev/shm is visible");
    assert.equal(r.NoNewPrivs, "1");
  } finally {
    execFileSync("rm", ["-f", `/dev/shm/${marker}`]);
  }
});

test("namespaces/ipc: PRIVATE with shm_size sizes the /dev/shm inside the image", {
  skip,
}, async () => {
  const run = await executeTask(master, {
    name: "image-ipc-private",
    resources: small,
    command: REPORT,
    container: container({ ipc_mode: "PRIVATE", shm_size: 8 }),
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  const r = keyValues(
    readFileSync(join(await sandboxOf(agent, "image-ipc-private"), "stdout"), "utf8"),
  );
  assert.equal(r.shm_kb, String(8 * 1024));
  // The unmount comes first, then its directories go.
  await waitFor(
    "the task's /dev/shm to be unmounted and removed",
    () =>
      mountsUnder(runtimeDir).length === 0 &&
      readdirSync(join(runtimeDir, "containers")).length === 0,
  );
});

test("linux/nnp: an executor that runs inside its image has no_new_privs", { skip }, async () => {
  const run = await executeTask(master, {
    name: "image-nnp",
    resources: small,
    command: "true",
    executor: {
      executor_id: { value: "image-nnp" },
      command: { value: REPORT },
      container: container(),
      resources: small,
    },
  });
  // The executor is a shell script that never subscribes: the task fails when it exits.
  assert.equal(run.finalState, "TASK_FAILED", run.stdout);
  const sandbox = await sandboxOf(agent, "image-nnp");
  const stdout = await waitFor("the executor's output", () => {
    const text = readFileSync(join(sandbox, "stdout"), "utf8");
    return text.includes("NoNewPrivs=") ? text : undefined;
  });
  assert.equal(keyValues(stdout).NoNewPrivs, "1");
});

test("linux/capabilities: a command task in an image runs with its capabilities (or is refused without capsh)", {
  skip,
}, async () => {
  const run = await executeTask(master, {
    name: "image-caps",
    resources: small,
    command: "grep -E '^(CapEff|CapBnd):' /proc/self/status | tr -d ' \\t' | tr : =",
    container: container({ effective_capabilities: { capabilities: ["NET_RAW"] } }),
  });
  const help = CAPSH === undefined ? "" : spawnSync(CAPSH, ["--help"], { encoding: "utf8" }).stdout;
  if (!["--shell", "--addamb", "--no-new-privs"].every((o) => help.includes(o))) {
    assert.equal(run.finalState, "TASK_FAILED", run.stdout);
    assert.match(run.message ?? "", /need (a newer )?capsh \(libcap2-bin\)/, run.stdout);
    return;
  }
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  const r = keyValues(readFileSync(join(await sandboxOf(agent, "image-caps"), "stdout"), "utf8"));
  assert.equal(r.CapEff, capabilityMask(["NET_RAW"]));
  assert.equal(r.CapBnd, capabilityMask(["NET_RAW"]));
});

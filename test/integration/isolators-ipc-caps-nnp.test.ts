/**
 * The `namespaces/ipc`, `linux/capabilities` and `linux/nnp` isolators with
 * a real master and agent: tasks started with mesos-execute report from
 * inside what they run with (their IPC namespace, /dev/shm size, capability
 * sets, no_new_privs), and requests the agent does not allow end in
 * TASK_FAILED with Mesos' message.
 *
 * Two agents (each with its own master): one with defaults, one with
 * `--disallow_sharing_agent_ipc_namespace` and capability flags. Needs
 * root on Linux; skips otherwise, and when the kernel or setpriv cannot set
 * the capabilities used here.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  CAPABILITY_NAMES,
  capabilityMask,
} from "../../src/agent/containerizer/isolators/linux-capabilities.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import {
  type DaemonHandle,
  mountsUnder,
  runBinary,
  stopAll,
  tempDir,
  waitFor,
} from "../harness/processes.js";
import { executeTask, sandboxOf, scalar } from "./containerizer-helpers.js";

/** Why these tests cannot run here, or undefined. */
function skipReason(): string | undefined {
  if (process.platform !== "linux") return "needs Linux";
  if (process.getuid?.() !== 0) return "needs root (namespaces, mounts, capabilities)";
  if (!existsSync("/proc/self/ns/ipc")) return "the kernel has no IPC namespaces";
  const probe = spawnSync("setpriv", [
    "--no-new-privs",
    "--inh-caps=-all,+net_raw,+chown,+net_bind_service",
    "--ambient-caps=-all,+net_raw",
    "--bounding-set=-all,+net_raw,+chown,+net_bind_service",
    "--",
    "true",
  ]);
  if (probe.error !== undefined) return "util-linux setpriv is not installed";
  if (probe.status !== 0) {
    return `setpriv cannot set capabilities here: ${probe.stderr.toString().trim()}`;
  }
  const unshare = spawnSync("unshare", ["--ipc", "--mount", "--", "true"]);
  if (unshare.status !== 0) return `cannot create IPC namespaces: ${unshare.stderr.toString()}`;
  return undefined;
}

const skip = skipReason();
const ISOLATION = "filesystem/linux,namespaces/ipc,linux/capabilities,linux/nnp";
const DEFAULT_SHM_MB = 24;

interface Cluster {
  master: DaemonHandle;
  agent: DaemonHandle;
  runtimeDir: string;
}
let open: Cluster;
let strict: Cluster;

async function cluster(flags: Record<string, string | boolean>): Promise<Cluster> {
  const runtimeDir = tempDir("mesos-runtime-");
  const { master, agent } = await startOneAgentCluster({
    isolation: ISOLATION,
    runtime_dir: runtimeDir,
    ...flags,
  });
  return { master, agent, runtimeDir };
}

before(async () => {
  if (skip !== undefined) return;
  open = await cluster({ default_container_shm_size: `${DEFAULT_SHM_MB}MB` });
  strict = await cluster({
    disallow_sharing_agent_ipc_namespace: true,
    effective_capabilities: JSON.stringify({ capabilities: ["NET_RAW"] }),
    bounding_capabilities: JSON.stringify({
      capabilities: ["NET_RAW", "CHOWN", "NET_BIND_SERVICE"],
    }),
  });
});

after(stopAll);

const small = [scalar("cpus", 0.1), scalar("mem", 64)];

/** Prints what the task runs with, one `key=value` a line. */
const REPORT = [
  "echo ipc=$(readlink /proc/self/ns/ipc)",
  "echo shm_kb=$(df -k -P /dev/shm | awk 'NR==2 {print $2}')",
  "grep -E '^(CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status | tr -d ' \\t' | tr : =",
].join("; ");

/** Runs a task printing REPORT (plus `extra`) and returns its key=value lines. */
async function report(
  c: Cluster,
  name: string,
  linuxInfo: object | undefined,
  extra = "",
): Promise<Record<string, string>> {
  const run = await executeTask(c.master, {
    name,
    resources: small,
    command: `${REPORT}${extra}`,
    ...(linuxInfo === undefined ? {} : { container: { type: "MESOS", linux_info: linuxInfo } }),
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  const sandbox = await sandboxOf(c.agent, name);
  const out: Record<string, string> = {};
  for (const line of readFileSync(join(sandbox, "stdout"), "utf8").split("\n")) {
    const m = /^(\w+)=(.*)$/.exec(line);
    if (m !== null) out[m[1] as string] = m[2] as string;
  }
  return out;
}

/** The agent's IPC namespace (the test runs in the same one). */
const agentIpc = () => readlinkSync("/proc/self/ns/ipc");

/** Size of the agent's /dev/shm in KiB. */
function agentShmKb(): string {
  const df = spawnSync("df", ["-k", "-P", "/dev/shm"]).stdout.toString();
  return df.split("\n")[1]?.split(/\s+/)[1] ?? "";
}

test("namespaces/ipc: without ipc_mode a top-level task gets its own IPC namespace and keeps the agent's /dev/shm", {
  skip,
}, async () => {
  const r = await report(open, "ipc-default", undefined);
  assert.match(r.ipc ?? "", /^ipc:\[\d+\]$/);
  assert.notEqual(r.ipc, agentIpc());
  assert.equal(r.shm_kb, agentShmKb());
});

test("namespaces/ipc: PRIVATE with shm_size gives the task its own /dev/shm of that size, gone afterwards", {
  skip,
}, async () => {
  const marker = `ipc-private-${process.pid}`;
  const r = await report(
    open,
    "ipc-private",
    { ipc_mode: "PRIVATE", shm_size: 16 },
    `; echo hidden > /dev/shm/${marker}`,
  );
  assert.notEqual(r.ipc, agentIpc());
  assert.equal(r.shm_kb, String(16 * 1024));
  assert.equal(existsSync(`/dev/shm/${marker}`), false, "the task's /dev/shm is the agent's");
  await waitFor(
    "the task's /dev/shm to be unmounted",
    async () => mountsUnder(open.runtimeDir).length === 0,
  );
});

test("namespaces/ipc: PRIVATE without shm_size takes --default_container_shm_size", {
  skip,
}, async () => {
  const r = await report(open, "ipc-private-default", { ipc_mode: "PRIVATE" });
  assert.notEqual(r.ipc, agentIpc());
  assert.equal(r.shm_kb, String(DEFAULT_SHM_MB * 1024));
});

test("namespaces/ipc: SHARE_PARENT keeps a top-level task in the agent's IPC namespace", {
  skip,
}, async () => {
  const r = await report(open, "ipc-share", { ipc_mode: "SHARE_PARENT" });
  assert.equal(r.ipc, agentIpc());
  assert.equal(r.shm_kb, agentShmKb());
});

test("namespaces/ipc: shm_size without PRIVATE is refused", { skip }, async () => {
  const run = await executeTask(open.master, {
    name: "ipc-size-shared",
    resources: small,
    command: "true",
    container: { type: "MESOS", linux_info: { ipc_mode: "SHARE_PARENT", shm_size: 16 } },
  });
  assert.equal(run.finalState, "TASK_FAILED", run.stdout);
  assert.match(
    run.message ?? "",
    /Only support specifying the size of \/dev\/shm when the IPC mode is `PRIVATE`/,
    run.stdout,
  );
});

test("namespaces/ipc: --disallow_sharing_agent_ipc_namespace refuses SHARE_PARENT", {
  skip,
}, async () => {
  const run = await executeTask(strict.master, {
    name: "ipc-share-refused",
    resources: small,
    command: "true",
    container: { type: "MESOS", linux_info: { ipc_mode: "SHARE_PARENT" } },
  });
  assert.equal(run.finalState, "TASK_FAILED", run.stdout);
  assert.match(
    run.message ?? "",
    /Sharing agent IPC namespace with top-level container is not allowed/,
    run.stdout,
  );
});

test("linux/nnp: the task runs with no_new_privs", { skip }, async () => {
  const r = await report(open, "nnp", undefined);
  assert.equal(r.NoNewPrivs, "1");
});

test("linux/capabilities: requested effective capabilities become the task's effective and bounding sets", {
  skip,
}, async () => {
  const wanted = ["NET_RAW", "CHOWN"];
  const r = await report(open, "caps-effective", {
    effective_capabilities: { capabilities: wanted },
  });
  assert.equal(r.CapEff, capabilityMask(["CHOWN", "NET_RAW"]));
  assert.equal(r.CapBnd, capabilityMask(["CHOWN", "NET_RAW"]));
  assert.equal(r.CapAmb, capabilityMask(["CHOWN", "NET_RAW"]));
});

test("linux/capabilities: without a request the agent's --bounding_capabilities and --effective_capabilities apply", {
  skip,
}, async () => {
  const r = await report(strict, "caps-agent-default", undefined);
  assert.equal(r.CapBnd, capabilityMask(["CHOWN", "NET_BIND_SERVICE", "NET_RAW"]));
  assert.equal(r.CapAmb, capabilityMask(["NET_RAW"]));
  // Root gets its bounding set back on exec, as with Mesos' launcher.
  assert.equal(r.CapEff, capabilityMask(["CHOWN", "NET_BIND_SERVICE", "NET_RAW"]));
});

test("linux/capabilities: a task running as another user keeps exactly its effective capabilities", {
  skip,
}, async () => {
  const run = await executeTask(strict.master, {
    name: "caps-nobody",
    resources: small,
    command: {
      value: "grep -E '^(CapEff|CapBnd):' /proc/self/status | tr -d ' \\t' | tr : =",
      user: "nobody",
    },
    container: {
      type: "MESOS",
      linux_info: {
        effective_capabilities: { capabilities: ["NET_BIND_SERVICE"] },
        bounding_capabilities: { capabilities: ["NET_BIND_SERVICE", "NET_RAW"] },
      },
    },
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  const stdout = readFileSync(join(await sandboxOf(strict.agent, "caps-nobody"), "stdout"), "utf8");
  assert.match(stdout, new RegExp(`^CapEff=${capabilityMask(["NET_BIND_SERVICE"])}$`, "m"));
  assert.match(
    stdout,
    new RegExp(`^CapBnd=${capabilityMask(["NET_BIND_SERVICE", "NET_RAW"])}$`, "m"),
  );
});

test("linux/capabilities: a bounding set beyond --bounding_capabilities fails the task with Mesos' message", {
  skip,
}, async () => {
  const run = await executeTask(strict.master, {
    name: "caps-bounding-refused",
    resources: small,
    command: "true",
    container: {
      type: "MESOS",
      linux_info: { bounding_capabilities: { capabilities: ["SYS_ADMIN", "NET_RAW"] } },
    },
  });
  assert.equal(run.finalState, "TASK_FAILED", run.stdout);
  assert.match(
    run.message ?? "",
    /Bounding capabilities '\{ NET_RAW, SYS_ADMIN \}', but only '\{ CHOWN, NET_BIND_SERVICE, NET_RAW \}' are allowed/,
    run.stdout,
  );
});

test("linux/capabilities: effective capabilities beyond the bounding set fail the task with Mesos' message", {
  skip,
}, async () => {
  const run = await executeTask(strict.master, {
    name: "caps-effective-refused",
    resources: small,
    command: "true",
    container: {
      type: "MESOS",
      linux_info: { effective_capabilities: { capabilities: ["SYS_ADMIN"] } },
    },
  });
  assert.equal(run.finalState, "TASK_FAILED", run.stdout);
  assert.match(
    run.message ?? "",
    /Requested capabilities '\{ SYS_ADMIN \}', but only '\{ CHOWN, NET_BIND_SERVICE, NET_RAW \}' are allowed/,
    run.stdout,
  );
});

test("namespaces/ipc: nested containers join their parent's IPC namespace unless PRIVATE", {
  skip,
}, async () => {
  const out = tempDir("mesos-ipc-nested-");
  const task = (id: string, linuxInfo?: object) => ({
    name: id,
    task_id: { value: id },
    agent_id: { value: "" },
    resources: small,
    command: { value: `(${REPORT}) > ${out}/${id}.out` },
    ...(linuxInfo === undefined ? {} : { container: { type: "MESOS", linux_info: linuxInfo } }),
  });
  const run = await runBinary(
    "mesos-execute",
    [
      `--master=${open.master.address}`,
      `--task_group=${JSON.stringify({
        tasks: [
          task("nested-unset"),
          task("nested-share", { ipc_mode: "SHARE_PARENT" }),
          task("nested-private", { ipc_mode: "PRIVATE", shm_size: 8 }),
        ],
      })}`,
    ],
    { timeoutMs: 45_000 },
  );
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const read = (id: string) => {
    const r: Record<string, string> = {};
    for (const line of readFileSync(join(out, `${id}.out`), "utf8").split("\n")) {
      const m = /^(\w+)=(.*)$/.exec(line);
      if (m !== null) r[m[1] as string] = m[2] as string;
    }
    return r;
  };
  const unset = read("nested-unset");
  const share = read("nested-share");
  const priv = read("nested-private");
  // The executor's container has an IPC namespace of its own; both join it.
  assert.notEqual(unset.ipc, agentIpc());
  assert.equal(share.ipc, unset.ipc);
  // ... and the executor's /dev/shm is the agent's.
  assert.equal(unset.shm_kb, agentShmKb());
  assert.equal(share.shm_kb, agentShmKb());
  assert.notEqual(priv.ipc, unset.ipc);
  assert.notEqual(priv.ipc, agentIpc());
  assert.equal(priv.shm_kb, String(8 * 1024));
  await waitFor(
    "the nested /dev/shm to be unmounted",
    async () => mountsUnder(open.runtimeDir).length === 0,
  );
});

test("linux/capabilities: a bounding set naming every capability gives the task what the agent holds", {
  skip,
}, async () => {
  const r = await report(open, "caps-all-bounding", {
    effective_capabilities: { capabilities: ["NET_RAW"] },
    bounding_capabilities: { capabilities: [...CAPABILITY_NAMES] },
  });
  const own = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
  assert.equal(r.CapBnd, own);
  assert.equal(r.CapAmb, capabilityMask(["NET_RAW"]));
});

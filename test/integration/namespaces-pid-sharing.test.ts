/**
 * The `namespaces/pid` isolator as Mesos' docs/isolators/namespaces-pid.md
 * describes it, with a real master and agents: a container gets a pid
 * namespace of its own unless `LinuxInfo.share_pid_namespace` is true (a
 * top-level container then stays in the agent's, a task of a task group in
 * its executor's), `--disallow_sharing_agent_pid_namespace` refuses the
 * former, and the agent does not start without `filesystem/linux` or with
 * the posix launcher. Needs root on Linux; skips otherwise.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, runBinary, stopAll, tempDir } from "../harness/processes.js";
import { executeTask, sandboxOf, scalar } from "./containerizer-helpers.js";

function skipReason(): string | undefined {
  if (process.platform !== "linux") return "needs Linux";
  if (process.getuid?.() !== 0) return "needs root (pid and mount namespaces)";
  if (!existsSync("/proc/self/ns/pid_for_children")) return "the kernel lacks pid_for_children";
  return undefined;
}

const skip = skipReason();
const ISOLATION = "filesystem/linux,namespaces/pid";

interface Cluster {
  master: DaemonHandle;
  agent: DaemonHandle;
}
let open: Cluster;
let strict: Cluster;

async function cluster(flags: Record<string, string | boolean>): Promise<Cluster> {
  const { master, agent } = await startOneAgentCluster({
    isolation: ISOLATION,
    runtime_dir: tempDir("mesos-runtime-"),
    ...flags,
  });
  return { master, agent };
}

before(async () => {
  if (skip !== undefined) return;
  open = await cluster({});
  strict = await cluster({ disallow_sharing_agent_pid_namespace: true });
});

after(stopAll);

const small = [scalar("cpus", 0.1), scalar("mem", 64)];

/** Prints the task's pid namespace, its own pid there and pid 1's program. */
const REPORT = [
  "echo pidns=$(readlink /proc/self/ns/pid)",
  "echo me=$$",
  "echo init=$(tr '\\0' ' ' < /proc/1/cmdline)",
].join("; ");

function parse(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^(\w+)=(.*)$/.exec(line);
    if (m !== null) out[m[1] as string] = m[2] as string;
  }
  return out;
}

async function report(c: Cluster, name: string, linuxInfo?: object) {
  const run = await executeTask(c.master, {
    name,
    resources: small,
    command: REPORT,
    ...(linuxInfo === undefined ? {} : { container: { type: "MESOS", linux_info: linuxInfo } }),
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  return parse(readFileSync(join(await sandboxOf(c.agent, name), "stdout"), "utf8"));
}

/** The agent's pid namespace (the test runs in the same one). */
const agentPidNamespace = () => readlinkSync("/proc/self/ns/pid");

test("namespaces/pid: a top-level container gets a pid namespace of its own by default", {
  skip,
}, async () => {
  for (const [name, info] of [
    ["pid-default", undefined],
    ["pid-own", { share_pid_namespace: false }],
  ] as const) {
    const r = await report(open, name, info);
    assert.match(r.pidns ?? "", /^pid:\[\d+\]$/);
    assert.notEqual(r.pidns, agentPidNamespace(), name);
    // The executor is pid 1 of the namespace; the task's shell is its child.
    assert.match(r.init ?? "", /executor/, name);
  }
});

test("namespaces/pid: share_pid_namespace keeps a top-level container in the agent's pid namespace", {
  skip,
}, async () => {
  const r = await report(open, "pid-share", { share_pid_namespace: true });
  assert.equal(r.pidns, agentPidNamespace());
  assert.notEqual(r.me, "1");
  assert.doesNotMatch(r.init ?? "", /executor/);
});

test("namespaces/pid: --disallow_sharing_agent_pid_namespace refuses share_pid_namespace at the top level", {
  skip,
}, async () => {
  const refused = await executeTask(strict.master, {
    name: "pid-refused",
    resources: small,
    command: "true",
    container: { type: "MESOS", linux_info: { share_pid_namespace: true } },
  });
  assert.equal(refused.finalState, "TASK_FAILED", refused.stdout);
  assert.match(
    refused.message ?? "",
    /Sharing agent pid namespace with top-level container is not allowed/,
  );
  // Not sharing is fine there.
  const r = await report(strict, "pid-not-shared", { share_pid_namespace: false });
  assert.notEqual(r.pidns, agentPidNamespace());
});

test("namespaces/pid: a task of a task group shares its executor's pid namespace only when it asks", {
  skip,
}, async () => {
  const out = tempDir("mesos-pid-nested-");
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
        tasks: [task("nested-own"), task("nested-share", { share_pid_namespace: true })],
      })}`,
    ],
    { timeoutMs: 45_000 },
  );
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const own = parse(readFileSync(join(out, "nested-own.out"), "utf8"));
  const share = parse(readFileSync(join(out, "nested-share.out"), "utf8"));
  // Sharing: the executor's namespace (its pid 1 is the default executor), not the agent's.
  assert.notEqual(share.pidns, agentPidNamespace());
  assert.match(share.init ?? "", /default-executor/);
  assert.notEqual(share.me, "1");
  // Its own: another namespace, in which the executor is not seen.
  assert.notEqual(own.pidns, share.pidns);
  assert.notEqual(own.pidns, agentPidNamespace());
  assert.doesNotMatch(own.init ?? "", /default-executor/);
});

test("namespaces/pid: the agent does not start without filesystem/linux or with the posix launcher", {
  skip,
}, async () => {
  for (const [flags, message] of [
    [["--isolation=namespaces/pid"], /'filesystem\/linux' must be used to enable pid namespace/],
    [
      [`--isolation=${ISOLATION}`, "--launcher=posix"],
      /'linux' launcher must be used to enable pid namespace/,
    ],
  ] as const) {
    const run = await runBinary(
      "mesos-agent",
      ["--master=127.0.0.1:1", `--work_dir=${tempDir("mesos-pid-agent-")}`, ...flags],
      { timeoutMs: 30_000 },
    );
    assert.notEqual(run.code, 0);
    assert.match(run.stdout + run.stderr, message);
  }
});

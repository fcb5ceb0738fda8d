/**
 * The launch shim's root steps never see the container's environment
 * (shim-environment.ts): with a real master and a root agent with
 * isolation, a task (and a nested container launched through the agent
 * API) whose environment puts fake `unshare`, `setpriv`, `prlimit`, ...
 * first in PATH, or names an LD_PRELOAD library, gets no code run as root;
 * its own processes still see its PATH and variables byte for byte. Needs
 * root on Linux (and a C compiler for the LD_PRELOAD case); skips otherwise.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { ContainerID } from "../../src/common/protocol/generated/mesos-v1.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { binPath, type DaemonHandle, stopAll, tempDir, waitLong } from "../harness/processes.js";
import { executeTask, sandboxOf, scalar } from "./containerizer-helpers.js";

function skipReason(): string | undefined {
  if (process.platform !== "linux") return "needs Linux";
  if (process.getuid?.() !== 0) return "needs root (the shim's steps run as root)";
  if (!existsSync("/proc/self/ns/pid_for_children")) return "the kernel lacks pid_for_children";
  return undefined;
}

const skip = skipReason();
const compiler = ["cc", "gcc"].find((c) => spawnSync(c, ["--version"]).status === 0);
const preloadSkip = skip ?? (compiler === undefined ? "needs a C compiler" : undefined);

/** Programs the shim runs as root (a fake of each is put first in the task's PATH). */
const ROOT_PROGRAMS = ["unshare", "nsenter", "setpriv", "prlimit", "mount", "chroot", "capsh"];

/** A value the task must see exactly: a newline, quotes, `$`, backquotes, unicode, `=`. */
const TRICKY = "line one\nline 'two' \"three\" $HOME `id` \\n é ☃ a=b=c ";

let master: DaemonHandle;
let agent: DaemonHandle;
/** Where the fakes and the preloaded library append "<uid> <program>" lines. */
let markers: string;
let evilBin: string;
const sleepers: ChildProcess[] = [];

before(async () => {
  if (skip !== undefined) return;
  const shared = tempDir("mesos-shim-env-");
  chmodSync(shared, 0o755);
  markers = join(shared, "markers");
  writeFileSync(markers, "");
  // The task's user (nobody) appends too: the test tells the two apart by uid.
  chmodSync(markers, 0o666);
  evilBin = join(shared, "evilbin");
  execFileSync("mkdir", ["-m", "0755", evilBin]);
  for (const name of ROOT_PROGRAMS) {
    const real = spawnSync("/bin/sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
    const fake = join(evilBin, name);
    const then = real.status === 0 ? `exec ${real.stdout.trim()} "$@"` : "exit 1";
    writeFileSync(
      fake,
      `#!/bin/sh\necho "$(/usr/bin/id -u) fake-${name}" >> ${markers}\n${then}\n`,
    );
    chmodSync(fake, 0o755);
  }
  ({ master, agent } = await startOneAgentCluster({
    isolation: "filesystem/linux,namespaces/pid,posix/rlimits",
    runtime_dir: tempDir("mesos-runtime-"),
    registration_backoff_factor: "100ms",
  }));
});

after(async () => {
  for (const sleeper of sleepers) {
    if (sleeper.exitCode !== null || sleeper.signalCode !== null) continue;
    const exited = new Promise((resolve) => sleeper.once("exit", resolve));
    sleeper.kill("SIGINT");
    await exited;
  }
  await stopAll();
});

const small = [scalar("cpus", 0.1), scalar("mem", 64)];

function variables(env: Record<string, string>) {
  return { variables: Object.entries(env).map(([name, value]) => ({ name, value })) };
}

/** The marker lines written since line `from` (0: all of them). */
function markerLines(from = 0): string[] {
  return readFileSync(markers, "utf8").split("\n").slice(from, -1);
}

/** Those written by root. */
function rootMarkers(from = 0): string[] {
  return markerLines(from).filter((line) => line.startsWith("0 "));
}

/** Runs `env` as nobody in a command task with rlimits, with `env` in its CommandInfo; its stdout. */
async function commandTaskEnv(name: string, env: Record<string, string>): Promise<string> {
  const run = await executeTask(master, {
    name,
    resources: small,
    command: { value: "env", user: "nobody", environment: variables(env) },
    container: {
      type: "MESOS",
      rlimit_info: { rlimits: [{ type: "RLMT_NOFILE", soft: 1000, hard: 1000 }] },
    },
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  return readFileSync(join(await sandboxOf(agent, name), "stdout"), "utf8");
}

function call(body: unknown): Promise<Response> {
  return fetch(`${agent.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
}

/** A task sleeping in its executor's container; that container's id. */
async function sleeperContainer(): Promise<ContainerID> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("MESOS_") && !k.startsWith("LIBPROCESS_")) env[k] = v;
  }
  const name = `shim-env-sleeper-${randomUUID()}`;
  const sleeper = spawn(
    process.execPath,
    [
      binPath("mesos-execute"),
      `--master=${master.address}`,
      `--name=${name}`,
      "--command=touch started; sleep 120",
    ],
    { env: { ...env, HOME: tempDir("shim-env-home-") }, stdio: "ignore" },
  );
  sleepers.push(sleeper);
  const sandbox = await sandboxOf(agent, name);
  await waitLong("the sleeper's task running", () => existsSync(join(sandbox, "started")));
  const r = await call({ type: "GET_CONTAINERS", get_containers: {} });
  const body = (await r.json()) as {
    get_containers?: {
      containers?: { container_id: ContainerID; executor_id?: { value: string } }[];
    };
  };
  const found = (body.get_containers?.containers ?? []).find((c) => c.executor_id?.value === name);
  assert.ok(found !== undefined, "the sleeper's container");
  return found.container_id;
}

/** Runs `env` as nobody in a nested container (LAUNCH_NESTED_CONTAINER) with `env`; its stdout. */
async function nestedEnv(parent: ContainerID, env: Record<string, string>): Promise<string> {
  const id: ContainerID = { value: randomUUID(), parent };
  const launched = await call({
    type: "LAUNCH_NESTED_CONTAINER",
    launch_nested_container: {
      container_id: id,
      command: { value: "env", shell: true, user: "nobody", environment: variables(env) },
    },
  });
  assert.equal(launched.status, 200, await launched.text());
  const waited = await call({
    type: "WAIT_NESTED_CONTAINER",
    wait_nested_container: { container_id: id },
  });
  assert.equal(waited.status, 200, await waited.clone().text());
  const body = (await waited.json()) as { wait_nested_container?: { exit_status?: number } };
  const stdout = readdirSync(agent.workDir, { recursive: true, encoding: "utf8" }).find((f) =>
    f.endsWith(`/containers/${id.value}/stdout`),
  );
  assert.ok(stdout !== undefined, "the nested container's stdout file");
  const text = readFileSync(join(agent.workDir, stdout), "utf8");
  assert.equal(body.wait_nested_container?.exit_status, 0, text);
  return text;
}

function assertSeen(stdout: string, env: Record<string, string>): void {
  for (const [name, value] of Object.entries(env)) {
    assert.ok(
      stdout.includes(`\n${name}=${value}\n`) || stdout.startsWith(`${name}=${value}\n`),
      `${name} in:\n${stdout}`,
    );
  }
}

test("launch shim: a PATH the task chooses picks none of the programs root runs; the task still sees it", {
  skip,
}, async () => {
  const env = { PATH: `${evilBin}:/usr/local/bin:/usr/bin:/bin`, TRICKY_VALUE: TRICKY };
  const stdout = await commandTaskEnv("shim-env-path", env);
  assertSeen(stdout, env);
  assert.deepEqual(rootMarkers(), []);
  const parent = await sleeperContainer();
  const nested = await nestedEnv(parent, env);
  assertSeen(nested, env);
  assert.deepEqual(rootMarkers(), []);
});

test("launch shim: an LD_PRELOAD the task chooses is loaded by none of the programs root runs; the task's own are", {
  skip: preloadSkip,
}, async () => {
  const dir = tempDir("mesos-shim-preload-");
  chmodSync(dir, 0o755);
  const source = join(dir, "mark.c");
  const library = join(dir, "mark.so");
  writeFileSync(
    source,
    [
      "#include <stdio.h>",
      "#include <unistd.h>",
      "__attribute__((constructor)) static void mark(void) {",
      "  char comm[64] = {0};",
      '  FILE *c = fopen("/proc/self/comm", "r");',
      "  if (c != NULL) { if (fgets(comm, sizeof comm, c) == NULL) comm[0] = 0; fclose(c); }",
      `  FILE *f = fopen(${JSON.stringify(markers)}, "a");`,
      '  if (f != NULL) { fprintf(f, "%d preload %s", (int)getuid(), comm); fclose(f); }',
      "}",
      "",
    ].join("\n"),
  );
  execFileSync(compiler as string, ["-shared", "-fPIC", "-o", library, source]);
  chmodSync(library, 0o755);
  const env = { LD_PRELOAD: library, TRICKY_VALUE: TRICKY };
  const from = markerLines().length;
  const stdout = await commandTaskEnv("shim-env-preload", env);
  assertSeen(stdout, env);
  const parent = await sleeperContainer();
  const nested = await nestedEnv(parent, env);
  assertSeen(nested, env);
  assert.deepEqual(rootMarkers(from), []);
  // The library did reach the task's processes (run as nobody).
  const added = markerLines(from);
  assert.ok(
    added.some((line) => /^\d+ preload env/.test(line) && !line.startsWith("0 ")),
    added.join("\n"),
  );
});

/**
 * Standalone and nested containers launched through the agent's v1 API
 * (LAUNCH_CONTAINER), as Mesos' containerizer treats them:
 * - their `command.uris` are fetched into their sandbox before they start
 *   (executable files, extracted archives, the fetcher cache), a fetch that
 *   fails fails the launch (`400` with the fetcher's reason), and a KILL
 *   during the fetch stops the launch;
 * - an agent killed while a container was launching (no process recorded
 *   yet) destroys it when it restarts: what it had started is killed and
 *   WAIT answers without an exit status;
 * - `--recover=cleanup` kills the old executors with their nested
 *   containers, leaves standalone containers running (Mesos kills only the
 *   old executors) and the agent exits.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { executorsCheckpointed } from "../harness/checkpoints.js";
import { restartableAgent } from "../harness/cluster.js";
import { closeServer, listenOnLoopback } from "../harness/loopback-server.js";
import { expectCall, operatorCall, waitContainer } from "../harness/operator.js";
import { alive } from "../harness/proc-scan.js";
import {
  binPath,
  type DaemonHandle,
  freePort,
  killProcessGroups,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitLong,
} from "../harness/processes.js";

let master: DaemonHandle;
let agent: DaemonHandle;
let base = "";
const files = new Map<string, Buffer>();
/** GET requests per path (the cache's HEAD size probes are not downloads). */
const downloads = new Map<string, number>();
/** Requests held open without an answer (a fetch that never ends). */
const held: ServerResponse[] = [];
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  const path = req.url ?? "/";
  if (req.method === "GET") downloads.set(path, (downloads.get(path) ?? 0) + 1);
  if (path.startsWith("/hang")) {
    res.writeHead(200, { "content-length": "1000" });
    res.write("x");
    held.push(res);
    return;
  }
  const body = files.get(path);
  if (body === undefined) {
    res.writeHead(404).end("not found");
    return;
  }
  res.writeHead(200, { "content-length": body.length });
  res.end(req.method === "HEAD" ? undefined : body);
});
const src = tempDir("container-fetch-src-");
/** Processes a test started: killed at the end whatever happened. */
const strays = new Set<number>();
const children: ChildProcess[] = [];

before(async () => {
  base = await listenOnLoopback(server);
  files.set("/tool.sh", Buffer.from("#!/bin/sh\necho tool ran\n"));
  files.set("/cached.txt", Buffer.from("from the cache\n"));
  mkdirSync(join(src, "pkg"));
  writeFileSync(join(src, "pkg", "hello.txt"), "extracted\n");
  execFileSync("tar", ["-czf", join(src, "pkg.tar.gz"), "-C", src, "pkg"]);
  files.set("/pkg.tar.gz", readFileSync(join(src, "pkg.tar.gz")));
  writeFileSync(join(src, "local.txt"), "local file\n");
  master = await startMaster();
  agent = await startAgent({
    master: master.address,
    flags: {
      fetcher_cache_size: "1MB",
      // Not the shared default: another agent starting empties that.
      fetcher_cache_dir: join(tempDir("container-fetch-cache-"), "fetch"),
    },
  });
});

after(async () => {
  for (const res of held) res.destroy();
  killProcessGroups(strays);
  for (const c of children) c.kill("SIGKILL");
  await stopAll();
  await closeServer(server);
});

const RESOURCES = [
  { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
  { name: "mem", type: "SCALAR", scalar: { value: 32 } },
];

function containerId(id: string, parent?: string): Record<string, unknown> {
  return parent === undefined ? { value: id } : { value: id, parent: { value: parent } };
}

function launch(
  id: string,
  command: string,
  uris: Record<string, unknown>[] = [],
  parent?: string,
): Record<string, unknown> {
  return {
    type: "LAUNCH_CONTAINER",
    launch_container: {
      container_id: containerId(id, parent),
      command: { value: command, uris },
      ...(parent === undefined ? { resources: RESOURCES } : {}),
    },
  };
}

/** The pid GET_CONTAINERS reports for the running standalone container `id`. */
async function pidOf(on: DaemonHandle, id: string): Promise<number> {
  return waitLong(`standalone container '${id}' to be listed with its pid`, async () => {
    const r = await expectCall(
      on,
      { type: "GET_CONTAINERS", get_containers: { show_standalone: true } },
      200,
    );
    const body = JSON.parse(r.text) as {
      get_containers?: {
        containers?: {
          container_id: { value: string; parent?: unknown };
          container_status?: { executor_pid?: number };
        }[];
      };
    };
    const c = body.get_containers?.containers?.find(
      (e) => e.container_id.value === id && e.container_id.parent === undefined,
    );
    const pid = c?.container_status?.executor_pid;
    if (pid !== undefined) strays.add(pid);
    return pid;
  });
}

describe("fetching the URIs of standalone and nested containers", () => {
  test("a standalone container starts with its URIs in its sandbox: an executable script, an extracted archive, a local file, a cached file fetched once for two containers", async () => {
    const workDir = agent.workDir;
    await expectCall(
      agent,
      launch("fetching", "./tool.sh > out && cat pkg/hello.txt local.txt cached.txt >> out", [
        { value: `${base}/tool.sh`, executable: true },
        { value: `${base}/pkg.tar.gz` },
        { value: `file://${join(src, "local.txt")}` },
        { value: `${base}/cached.txt`, cache: true },
      ]),
      200,
      "",
    );
    assert.equal((await waitContainer(agent, "fetching")).wait_container?.exit_status, 0);
    const sandbox = join(workDir, "containers", "fetching");
    assert.equal(
      readFileSync(join(sandbox, "out"), "utf8"),
      "tool ran\nextracted\nlocal file\nfrom the cache\n",
    );
    assert.ok((statSync(join(sandbox, "tool.sh")).mode & 0o111) !== 0, "tool.sh is executable");
    // The fetcher's progress is in the sandbox's stderr, as for an executor.
    assert.match(readFileSync(join(sandbox, "stderr"), "utf8"), /Successfully fetched all URIs/);

    await expectCall(
      agent,
      launch("fetching-again", "cat cached.txt", [{ value: `${base}/cached.txt`, cache: true }]),
      200,
      "",
    );
    assert.equal((await waitContainer(agent, "fetching-again")).wait_container?.exit_status, 0);
    assert.equal(
      readFileSync(join(workDir, "containers", "fetching-again", "stdout"), "utf8"),
      "from the cache\n",
    );
    assert.equal(downloads.get("/cached.txt"), 1, "the second container got it from the cache");
  });

  test("a URI that cannot be fetched fails the launch with 400 and the fetcher's reason; the container is not kept", async () => {
    const r = await expectCall(
      agent,
      launch("unfetched", "true", [{ value: `${base}/missing` }]),
      400,
    );
    assert.equal(
      r.text,
      `Failed to fetch '${base}/missing': Error downloading resource, received HTTP return code 404`,
    );
    await expectCall(
      agent,
      { type: "WAIT_CONTAINER", wait_container: { container_id: { value: "unfetched" } } },
      404,
    );
  });

  test("a nested container's URIs are fetched into its own sandbox", async () => {
    await expectCall(agent, launch("fetch-parent", "exec sleep 300"), 200, "");
    await pidOf(agent, "fetch-parent");
    await expectCall(
      agent,
      launch("child", "cat pkg/hello.txt", [{ value: `${base}/pkg.tar.gz` }], "fetch-parent"),
      200,
      "",
    );
    assert.equal(
      (await waitContainer(agent, "child", "fetch-parent")).wait_container?.exit_status,
      0,
    );
    const sandbox = join(agent.workDir, "containers", "fetch-parent", "containers", "child");
    assert.equal(readFileSync(join(sandbox, "stdout"), "utf8"), "extracted\n");
    assert.equal(existsSync(join(agent.workDir, "containers", "fetch-parent", "pkg")), false);
    await expectCall(
      agent,
      { type: "KILL_CONTAINER", kill_container: { container_id: { value: "fetch-parent" } } },
      200,
    );
    await waitContainer(agent, "fetch-parent");
  });

  test("KILL of a container still fetching stops the launch (400) and its WAIT answers", async () => {
    const before = downloads.get("/hang-kill") ?? 0;
    const launched = operatorCall(
      agent,
      launch("kill-fetching", "true", [{ value: `${base}/hang-kill` }]),
    );
    await waitLong("the fetch to start", () => (downloads.get("/hang-kill") ?? 0) > before);
    const waited = waitContainer(agent, "kill-fetching");
    await expectCall(
      agent,
      { type: "KILL_CONTAINER", kill_container: { container_id: { value: "kill-fetching" } } },
      200,
    );
    const r = await launched;
    assert.equal(r.status, 400, r.text);
    assert.equal(r.text, "Container 'kill-fetching' was destroyed during fetching");
    assert.equal((await waited).wait_container?.exit_status, undefined);
  });
});

describe("fetching as the container's user", {
  skip: process.getuid?.() === 0 ? false : "needs root (--switch_user)",
}, () => {
  test("a standalone container with command.user reads local URIs as that user: a root-only file fails the launch, a readable one is fetched and belongs to the user", async () => {
    const files = tempDir("container-fetch-user-");
    chmodSync(files, 0o755);
    writeFileSync(join(files, "public.txt"), "for everyone\n", { mode: 0o644 });
    writeFileSync(join(files, "secret.txt"), "root only\n", { mode: 0o600 });
    const asNobody = (id: string, file: string) => {
      const c = launch(id, "cat *.txt", [{ value: join(files, file) }]) as {
        launch_container: { command: Record<string, unknown> };
      };
      c.launch_container.command.user = "nobody";
      return c;
    };
    const refused = await expectCall(agent, asNobody("user-secret", "secret.txt"), 400);
    assert.match(refused.text, /^Failed to fetch '.*secret\.txt': /);
    await expectCall(agent, asNobody("user-public", "public.txt"), 200, "");
    assert.equal((await waitContainer(agent, "user-public")).wait_container?.exit_status, 0);
    const fetched = join(agent.workDir, "containers", "user-public", "public.txt");
    assert.equal(statSync(fetched).uid, Number(execFileSync("id", ["-u", "nobody"]).toString()));
    assert.equal(
      readFileSync(join(agent.workDir, "containers", "user-public", "stdout"), "utf8"),
      "for everyone\n",
    );
  });

  test("a nested container whose sandbox path the parent's user made a symbolic link is refused (400): the agent neither chowns nor fetches through it", async () => {
    const nobody = Number(execFileSync("id", ["-u", "nobody"]).toString());
    const asNobody = (id: string) => {
      const c = launch(id, "exec sleep 300") as {
        launch_container: { command: Record<string, unknown> };
      };
      c.launch_container.command.user = "nobody";
      return c;
    };
    // The two places a link can go: the sandbox itself, and `containers` above it.
    for (const [parent, linked] of [
      ["link-parent-leaf", "containers/evil"],
      ["link-parent-dir", "containers"],
    ] as const) {
      await expectCall(agent, asNobody(parent), 200, "");
      await pidOf(agent, parent);
      const sandbox = join(agent.workDir, "containers", parent);
      assert.equal(statSync(sandbox).uid, nobody);
      // Root-owned, as /etc would be.
      const victim = tempDir("container-link-victim-");
      const link = join(sandbox, linked);
      mkdirSync(dirname(link), { recursive: true });
      symlinkSync(victim, link);
      const refused = await expectCall(
        agent,
        launch("evil", "true", [{ value: `${base}/tool.sh` }], parent),
        400,
      );
      assert.match(refused.text, /is a symbolic link/, refused.text);
      assert.equal(statSync(victim).uid, 0, `${linked}: the link's target was not chowned`);
      assert.deepEqual(readdirSync(victim), [], `${linked}: nothing was written through the link`);
      await expectCall(
        agent,
        { type: "KILL_CONTAINER", kill_container: { container_id: { value: parent } } },
        200,
      );
      await waitContainer(agent, parent);
    }
  });
});

describe("containers whose launch an agent crash cut short", () => {
  test("after SIGKILL during the fetch of a standalone and a nested container: both end on restart without an exit status, what was started in the sandbox is killed, the running parent is kept", async () => {
    const { workDir, start } = await restartableAgent(master, "agent-launching-");
    let restartable = await start();
    await expectCall(restartable, launch("holder", "exec sleep 300"), 200, "");
    const holder = await pidOf(restartable, "holder");
    const before = downloads.get("/hang-crash") ?? 0;
    // Never answered: the agent dies first.
    const unanswered = [
      operatorCall(restartable, launch("stuck", "true", [{ value: `${base}/hang-crash` }])),
      operatorCall(
        restartable,
        launch("stuck-child", "true", [{ value: `${base}/hang-crash` }], "holder"),
      ),
    ].map((p) => p.catch(() => undefined));
    await waitLong(
      "both fetches to start",
      () => (downloads.get("/hang-crash") ?? 0) >= before + 2,
    );
    const record = join(workDir, "meta", "standalone-containers", "stuck.json");
    const launching = JSON.parse(readFileSync(record, "utf8")) as {
      launching?: boolean;
      token?: string;
    };
    assert.equal(launching.launching, true);
    assert.equal(typeof launching.token, "string", "its launch's token is noted before it starts");
    restartable.kill("SIGKILL");
    await restartable.exited;
    await Promise.all(unanswered);
    // Stands in for a process the launch had started before the crash: its
    // own session, working in the container's sandbox, with the variables
    // the agent gives every process of the container.
    const leftover = spawn("sleep", ["300"], {
      cwd: join(workDir, "containers", "stuck"),
      detached: true,
      stdio: "ignore",
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        MESOS_TS_CONTAINER_ID: "stuck",
        MESOS_TS_CONTAINER_TOKEN: launching.token ?? "",
      },
    });
    children.push(leftover);
    const leftoverPid = leftover.pid as number;
    strays.add(leftoverPid);

    restartable = await start();
    assert.equal(
      (await waitContainer(restartable, "stuck")).wait_container?.exit_status,
      undefined,
    );
    assert.equal(
      (await waitContainer(restartable, "stuck-child", "holder")).wait_container?.exit_status,
      undefined,
    );
    await waitLong("the leftover process to be killed", () => !alive(leftoverPid));
    assert.equal(await pidOf(restartable, "holder"), holder);
    assert.ok(alive(holder), "the parent that was running is recovered, not killed");
    const ended = JSON.parse(readFileSync(record, "utf8")) as { termination?: unknown };
    assert.deepEqual(ended.termination, {}, "its end is checkpointed");
    await expectCall(
      restartable,
      { type: "REMOVE_CONTAINER", remove_container: { container_id: { value: "stuck" } } },
      200,
    );
    assert.equal(existsSync(join(workDir, "containers", "stuck")), false);
    await expectCall(
      restartable,
      { type: "KILL_CONTAINER", kill_container: { container_id: { value: "holder" } } },
      200,
    );
    await waitContainer(restartable, "holder");
  });
});

describe("--recover=cleanup", () => {
  test("a standalone container keeps running (Mesos kills only the old executors) and the agent exits", async () => {
    const port = await freePort();
    const workDir = tempDir("agent-cleanup-");
    const first = await startAgent({
      master: master.address,
      port,
      flags: { work_dir: workDir, registration_backoff_factor: "10ms" },
    });
    await expectCall(first, launch("kept", "exec sleep 300"), 200, "");
    const pid = await pidOf(first, "kept");
    first.kill("SIGKILL");
    await first.exited;
    const cleanup = await startAgent({
      master: master.address,
      port,
      flags: { work_dir: workDir, recover: "cleanup" },
      waitReady: false,
    });
    assert.equal(await cleanup.exited, 0, "the cleanup agent exits when done");
    assert.ok(alive(pid), "the standalone container survives --recover=cleanup");
    const again = await startAgent({
      master: master.address,
      port,
      flags: { work_dir: workDir, registration_backoff_factor: "10ms" },
    });
    assert.equal(await pidOf(again, "kept"), pid);
    await expectCall(
      again,
      { type: "KILL_CONTAINER", kill_container: { container_id: { value: "kept" } } },
      200,
    );
    await waitContainer(again, "kept");
  });
});

describe("--recover=cleanup with a task group", () => {
  test("the old executor and the nested containers of its tasks are killed before the agent exits", async () => {
    const port = await freePort();
    const workDir = tempDir("agent-cleanup-group-");
    const flags = { work_dir: workDir, registration_backoff_factor: "10ms" };
    // Its own master: the group must land on this agent.
    const own = await startMaster();
    const first = await startAgent({ master: own.address, port, flags });
    const task = (id: string) => ({
      name: id,
      task_id: { value: id },
      agent_id: { value: "" },
      resources: [
        { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
        { name: "mem", type: "SCALAR", scalar: { value: 32 } },
      ],
      command: { value: "exec sleep 300" },
    });
    const scheduler = spawn(
      process.execPath,
      [
        binPath("mesos-execute"),
        `--master=${own.address}`,
        `--task_group=${JSON.stringify({ tasks: [task("one"), task("two")] })}`,
        "--checkpoint",
      ],
      { stdio: "ignore" },
    );
    children.push(scheduler);
    const pids = await waitLong("two nested containers with their pids", async () => {
      const r = await operatorCall(first, {
        type: "GET_CONTAINERS",
        get_containers: { show_nested: true },
      });
      const body = JSON.parse(r.text) as {
        get_containers?: {
          containers?: {
            container_id: { parent?: unknown };
            container_status?: { executor_pid?: number };
          }[];
        };
      };
      const found = (body.get_containers?.containers ?? [])
        .filter((c) => c.container_id.parent !== undefined)
        .map((c) => c.container_status?.executor_pid)
        .filter((p): p is number => p !== undefined);
      return found.length === 2 ? found : undefined;
    });
    for (const pid of pids) strays.add(pid);
    await executorsCheckpointed(workDir);
    first.kill("SIGKILL");
    await first.exited;
    scheduler.kill("SIGKILL");
    for (const pid of pids) assert.ok(alive(pid), "the task survives the agent's SIGKILL");
    const cleanup = await startAgent({
      master: own.address,
      port,
      flags: { ...flags, recover: "cleanup" },
      waitReady: false,
    });
    assert.equal(await cleanup.exited, 0, "the cleanup agent exits when done");
    for (const pid of pids) {
      await waitLong(`task process ${pid} to be gone`, () => !alive(pid));
    }
    // Ended and forgotten (isolators cleaned up) before the agent exited.
    const records = join(workDir, "meta", "nested-containers");
    const left = existsSync(records)
      ? readdirSync(records, { recursive: true }).filter((f) => String(f).endsWith(".json"))
      : [];
    assert.deepEqual(
      left,
      [],
      `no nested container record is left:\n${cleanup
        .logs()
        .split("\n")
        .filter((l) => /ested|ecover|xecutor/.test(l))
        .join("\n")}`,
    );
  });
});

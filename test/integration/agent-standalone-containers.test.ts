/**
 * Standalone containers on the agent's v1 operator API (LAUNCH_CONTAINER
 * with a `container_id` without a parent, as Mesos 1.5+): launched in
 * `<work_dir>/containers/<id>`, waited for with the raw wait status,
 * signalled, listed by GET_CONTAINERS with `show_standalone`, removed with
 * their sandbox once ended, parents of nested containers, guarded by the
 * `*_standalone_containers` ACLs, and recovered after the agent is killed
 * with SIGKILL and restarted.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CgroupsHierarchy } from "../../src/agent/containerizer/cgroups/hierarchy.js";
import { restartableAgent } from "../harness/cluster.js";
import { expectCall, waitContainer } from "../harness/operator.js";
import { alive } from "../harness/proc-scan.js";
import {
  type DaemonHandle,
  killProcessGroups,
  startAgent,
  startMaster,
  stopAll,
  waitLong,
} from "../harness/processes.js";
import { isolationSkipReason, removeRootCgroups } from "./containerizer-helpers.js";

const VALIDATION = "Failed to validate agent::Call: ";

let master: DaemonHandle;
let agent: DaemonHandle;
/** Container processes a test started: killed at the end whatever happened. */
const containerPids = new Set<number>();

before(async () => {
  master = await startMaster();
  agent = await startAgent({ master: master.address });
});

after(async () => {
  killProcessGroups(containerPids);
  await stopAll();
});

const RESOURCES = [
  { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
  { name: "mem", type: "SCALAR", scalar: { value: 64 } },
];

function launch(id: string, command: string, parent?: string): Record<string, unknown> {
  return {
    type: "LAUNCH_CONTAINER",
    launch_container: {
      container_id: parent === undefined ? { value: id } : { value: id, parent: { value: parent } },
      command: { value: command },
      ...(parent === undefined ? { resources: RESOURCES } : {}),
    },
  };
}

interface ListedContainer {
  container_id: { value: string; parent?: { value: string } };
  framework_id?: unknown;
  container_status?: { executor_pid?: number };
}

async function listed(
  on: DaemonHandle,
  show: { show_nested?: boolean; show_standalone?: boolean },
): Promise<ListedContainer[]> {
  const r = await expectCall(on, { type: "GET_CONTAINERS", get_containers: show }, 200);
  const body = JSON.parse(r.text) as { get_containers?: { containers?: ListedContainer[] } };
  return body.get_containers?.containers ?? [];
}

/** The pid GET_CONTAINERS reports for the running standalone container `id`. */
async function pidOf(on: DaemonHandle, id: string): Promise<number> {
  return waitLong(`standalone container '${id}' to be listed with its pid`, async () => {
    const c = (await listed(on, { show_standalone: true })).find(
      (e) => e.container_id.value === id && e.container_id.parent === undefined,
    );
    const pid = c?.container_status?.executor_pid;
    if (pid !== undefined) containerPids.add(pid);
    return pid;
  });
}

describe("standalone containers", () => {
  test("a command that writes a file in its sandbox and exits 3: WAIT gives wait status 3 << 8, the file is in <work_dir>/containers/<id>; REMOVE takes the sandbox", async () => {
    await expectCall(agent, launch("writer", "echo standalone > out.txt; exit 3"), 200, "");
    const waited = await waitContainer(agent, "writer");
    assert.equal(waited.type, "WAIT_CONTAINER");
    // The raw wait status, as Mesos answers it (WEXITSTATUS is 3).
    assert.equal(waited.wait_container?.exit_status, 3 << 8);
    const sandbox = join(agent.workDir, "containers", "writer");
    assert.equal(readFileSync(join(sandbox, "out.txt"), "utf8"), "standalone\n");
    // Ended: WAIT still answers until it is removed, KILL has nothing to kill.
    assert.equal((await waitContainer(agent, "writer")).wait_container?.exit_status, 3 << 8);
    await expectCall(
      agent,
      { type: "KILL_CONTAINER", kill_container: { container_id: { value: "writer" } } },
      404,
      "Container 'writer' cannot be found (or is already killed)",
    );
    await expectCall(
      agent,
      { type: "REMOVE_CONTAINER", remove_container: { container_id: { value: "writer" } } },
      200,
      "",
    );
    assert.equal(existsSync(sandbox), false, "the sandbox is removed");
    await expectCall(
      agent,
      { type: "WAIT_CONTAINER", wait_container: { container_id: { value: "writer" } } },
      404,
      "Container writer cannot be found",
    );
    await expectCall(
      agent,
      { type: "REMOVE_CONTAINER", remove_container: { container_id: { value: "writer" } } },
      500,
      "Unknown root container",
    );
  });

  test("a sleeping container: LAUNCH again is 202, GET_CONTAINERS lists it only with show_standalone, REMOVE while it runs is 500, KILL with SIGTERM ends it (wait status 15)", async () => {
    await expectCall(agent, launch("sleeper", "exec sleep 300"), 200, "");
    await expectCall(agent, launch("sleeper", "exec sleep 300"), 202, "");
    const pid = await pidOf(agent, "sleeper");
    assert.ok(alive(pid));
    const hidden = await listed(agent, {});
    assert.equal(
      hidden.some((c) => c.container_id.value === "sleeper"),
      false,
      "without show_standalone it is not listed",
    );
    const entry = (await listed(agent, { show_standalone: true })).find(
      (c) => c.container_id.value === "sleeper",
    );
    assert.ok(entry !== undefined, "show_standalone lists it");
    assert.equal(entry.framework_id, undefined, "a standalone container has no framework");
    assert.deepEqual(entry.container_id, { value: "sleeper" });
    const containers = await fetch(`${agent.url}/containers`);
    assert.equal(containers.status, 200);
    assert.doesNotMatch(await containers.text(), /sleeper/, "/containers leaves it out, as Mesos");
    await expectCall(
      agent,
      { type: "REMOVE_CONTAINER", remove_container: { container_id: { value: "sleeper" } } },
      500,
      "Standalone container has not terminated yet",
    );
    const ended = waitContainer(agent, "sleeper");
    await expectCall(
      agent,
      {
        type: "KILL_CONTAINER",
        kill_container: { container_id: { value: "sleeper" }, signal: 15 },
      },
      200,
      "",
    );
    assert.equal((await ended).wait_container?.exit_status, 15);
    assert.equal(alive(pid), false);
    await expectCall(
      agent,
      { type: "REMOVE_CONTAINER", remove_container: { container_id: { value: "sleeper" } } },
      200,
    );
  });

  test("a nested container under a standalone container runs in <sandbox>/containers/<child>; killing the standalone container takes it along", async () => {
    await expectCall(agent, launch("root", "exec sleep 300"), 200, "");
    await pidOf(agent, "root");
    await expectCall(agent, launch("child", "echo nested > n.txt", "root"), 200, "");
    assert.equal((await waitContainer(agent, "child", "root")).wait_container?.exit_status, 0);
    const sandbox = join(agent.workDir, "containers", "root");
    assert.equal(readFileSync(join(sandbox, "containers", "child", "n.txt"), "utf8"), "nested\n");
    await expectCall(agent, launch("long", "exec sleep 300", "root"), 200, "");
    const nested = await waitLong("the nested container to be listed", async () =>
      (await listed(agent, { show_nested: true })).find(
        (c) => c.container_id.value === "long" && c.container_id.parent?.value === "root",
      ),
    );
    const nestedPid = nested.container_status?.executor_pid;
    assert.ok(nestedPid !== undefined);
    containerPids.add(nestedPid);
    await expectCall(
      agent,
      { type: "KILL_CONTAINER", kill_container: { container_id: { value: "root" } } },
      200,
    );
    // SIGKILL: the raw wait status is the signal number.
    assert.equal((await waitContainer(agent, "root")).wait_container?.exit_status, 9);
    await waitLong("the nested container to be gone", () => !alive(nestedPid));
    await expectCall(
      agent,
      { type: "REMOVE_CONTAINER", remove_container: { container_id: { value: "root" } } },
      200,
    );
    assert.equal(existsSync(sandbox), false);
  });

  test("malformed or unsupported launches get Mesos' status and words", async () => {
    await expectCall(
      agent,
      {
        type: "LAUNCH_CONTAINER",
        launch_container: {
          container_id: { value: "r" },
          command: { value: "true" },
          resources: [
            {
              name: "cpus",
              type: "SCALAR",
              scalar: { value: 1 },
              reservations: [{ type: "STATIC", role: "r" }],
            },
          ],
        },
      },
      400,
      `${VALIDATION}'launch_container.resources' must be unreserved`,
    );
    await expectCall(
      agent,
      launch("a.b", "true"),
      400,
      `${VALIDATION}'launch_container.container_id' is invalid: 'ContainerID.value' 'a.b' contains invalid characters`,
    );
    await expectCall(
      agent,
      {
        type: "LAUNCH_CONTAINER",
        launch_container: {
          container_id: { value: "d" },
          command: { value: "true" },
          container: { type: "DOCKER", docker: { image: "busybox" } },
        },
      },
      400,
      "The provided ContainerInfo is not supported",
    );
    await expectCall(
      agent,
      { type: "LAUNCH_CONTAINER", launch_container: { container_id: { value: "nocmd" } } },
      400,
      "Container 'nocmd' has no command",
    );
    await expectCall(
      agent,
      { type: "KILL_CONTAINER", kill_container: { container_id: { value: "nothing" } } },
      404,
      "Container 'nothing' cannot be found (or is already killed)",
    );
  });

  test("with --acls: LAUNCH needs launch_standalone_containers, GET_CONTAINERS lists them only with view_standalone_containers, REMOVE needs remove_standalone_containers", async () => {
    const acls = {
      permissive: true,
      view_standalone_containers: [{ principals: { type: "ANY" }, users: { type: "NONE" } }],
      remove_standalone_containers: [{ principals: { type: "ANY" }, users: { type: "NONE" } }],
    };
    const guarded = await startAgent({
      master: master.address,
      flags: { acls: JSON.stringify(acls) },
    });
    await expectCall(guarded, launch("g", "exit 0"), 200, "");
    assert.equal((await waitContainer(guarded, "g")).wait_container?.exit_status, 0);
    await expectCall(guarded, launch("g2", "exec sleep 300"), 200, "");
    assert.equal(
      (await listed(guarded, { show_standalone: true })).length,
      0,
      "view_standalone_containers refuses",
    );
    await expectCall(
      guarded,
      { type: "REMOVE_CONTAINER", remove_container: { container_id: { value: "g" } } },
      403,
      "Anonymous is not authorized to remove standalone container 'g'",
    );
    const ended = waitContainer(guarded, "g2");
    await expectCall(
      guarded,
      { type: "KILL_CONTAINER", kill_container: { container_id: { value: "g2" } } },
      200,
    );
    await ended;
    const closed = await startAgent({
      master: master.address,
      flags: {
        acls: JSON.stringify({
          permissive: true,
          launch_standalone_containers: [{ principals: { type: "ANY" }, users: { type: "NONE" } }],
        }),
      },
    });
    await expectCall(
      closed,
      launch("x", "true"),
      403,
      "Anonymous is not authorized to launch standalone container 'x'",
    );
  });
});

describe("standalone containers across an agent restart", () => {
  test("after SIGKILL and restart: a running container is recovered (listed, KILL and WAIT work), one that ended keeps its wait status, one that died while the agent was down ends without one", async () => {
    const { workDir, start } = await restartableAgent(master, "agent-standalone-");
    let restartable = await start();
    await expectCall(restartable, launch("done", "exit 7"), 200, "");
    assert.equal((await waitContainer(restartable, "done")).wait_container?.exit_status, 7 << 8);
    await expectCall(restartable, launch("survivor", "exec sleep 300"), 200, "");
    await expectCall(restartable, launch("victim", "exec sleep 300"), 200, "");
    const survivor = await pidOf(restartable, "survivor");
    const victim = await pidOf(restartable, "victim");

    restartable.kill("SIGKILL");
    await restartable.exited;
    assert.ok(alive(survivor), "the container survives the agent's SIGKILL");
    process.kill(victim, "SIGKILL");
    await waitLong("the victim to be gone", () => !alive(victim));

    restartable = await start();
    assert.equal((await waitContainer(restartable, "done")).wait_container?.exit_status, 7 << 8);
    // Its process was gone when the agent came back: no exit status is known.
    const died = await waitContainer(restartable, "victim");
    assert.equal(died.wait_container?.exit_status, undefined, JSON.stringify(died));
    assert.equal(await pidOf(restartable, "survivor"), survivor);
    assert.ok(alive(survivor));
    const ended = waitContainer(restartable, "survivor");
    await expectCall(
      restartable,
      { type: "KILL_CONTAINER", kill_container: { container_id: { value: "survivor" } } },
      200,
    );
    await ended;
    await waitLong("the recovered container to be killed", () => !alive(survivor));
    for (const id of ["done", "victim", "survivor"]) {
      await expectCall(
        restartable,
        { type: "REMOVE_CONTAINER", remove_container: { container_id: { value: id } } },
        200,
      );
      assert.equal(existsSync(join(workDir, "containers", id)), false);
    }
  });
});

const cgroupsSkip = isolationSkipReason(["cpu", "memory", "freezer"]);

describe("standalone containers with cgroups", { skip: cgroupsSkip }, () => {
  const root = `mesos-standalone-${process.pid}`;
  let isolated: DaemonHandle;
  let cgroups: CgroupsHierarchy;

  before(async () => {
    cgroups = CgroupsHierarchy.detect("/sys/fs/cgroup", root) as CgroupsHierarchy;
    isolated = await startAgent({
      master: master.address,
      flags: { isolation: "cgroups/cpu,cgroups/mem", launcher: "linux", cgroups_root: root },
    });
  });

  after(async () => {
    await isolated?.stop();
    if (cgroups !== undefined) removeRootCgroups(cgroups);
  });

  test("a top-level cgroup of its own, limited by `limits` (mem) where given; going over it ends the container with REASON_CONTAINER_LIMITATION_MEMORY", async () => {
    await expectCall(
      isolated,
      {
        type: "LAUNCH_CONTAINER",
        launch_container: {
          container_id: { value: "limited" },
          command: { value: "exec sleep 300" },
          resources: RESOURCES,
          limits: { mem: { value: 96 } },
        },
      },
      200,
      "",
    );
    await pidOf(isolated, "limited");
    assert.ok(existsSync(cgroups.path("memory", "limited")), "its own memory cgroup");
    const stats = await waitLong("its memory limit in GET_CONTAINERS", async () => {
      const c = (await listed(isolated, { show_standalone: true })).find(
        (e) => e.container_id.value === "limited",
      ) as { resource_statistics?: { mem_limit_bytes?: number } } | undefined;
      return c?.resource_statistics?.mem_limit_bytes;
    });
    assert.equal(stats, 96 * 1024 * 1024);
    const killed = waitContainer(isolated, "limited");
    await expectCall(
      isolated,
      { type: "KILL_CONTAINER", kill_container: { container_id: { value: "limited" } } },
      200,
    );
    await killed;
    await waitLong(
      "its cgroup to be removed",
      () => !existsSync(cgroups.path("memory", "limited")),
    );

    await expectCall(
      isolated,
      launch(
        "hog",
        `${process.execPath} -e "Buffer.alloc(200 * 1024 * 1024, 1); setTimeout(() => {}, 60000)"`,
      ),
      200,
      "",
    );
    const r = await expectCall(
      isolated,
      { type: "WAIT_CONTAINER", wait_container: { container_id: { value: "hog" } } },
      200,
    );
    const ended = JSON.parse(r.text) as {
      wait_container?: { state?: string; reason?: string; limitation?: unknown };
    };
    assert.equal(ended.wait_container?.state, "TASK_FAILED", r.text);
    assert.equal(ended.wait_container?.reason, "REASON_CONTAINER_LIMITATION_MEMORY", r.text);
  });
});

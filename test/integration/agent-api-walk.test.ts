/**
 * A walk of the agent's v1 operator API as a Mesos tool calls it (JSON over
 * HTTP on loopback), checked against what a Mesos 1.12 agent answers
 * (src/slave/validation.cpp, src/slave/http.cpp and its Mesos containerizer,
 * read for facts): container id rules, command and resource validation,
 * the statuses and words of the container calls for unknown, running and
 * ended containers, and the resource provider config calls of an agent
 * without resource providers.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { expectCall, operatorCall } from "../harness/operator.js";
import { type DaemonHandle, startAgent, stopAll, tempDir } from "../harness/processes.js";
import { taskGroupExecutor } from "../harness/task-groups.js";

const VALIDATION = "Failed to validate agent::Call: ";
const isRoot = process.getuid?.() === 0;

let master: DaemonHandle;
let agent: DaemonHandle;
const schedulers: ChildProcess[] = [];

/** Starts a task group (a sleeping task) on `on`'s master; resolves with its executor's container id. */
async function taskGroupParent(masterHandle: DaemonHandle, on: DaemonHandle): Promise<string> {
  const group = {
    tasks: [
      {
        name: "walk-sleeper",
        task_id: { value: "walk-sleeper" },
        agent_id: { value: "" },
        resources: [
          { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
          { name: "mem", type: "SCALAR", scalar: { value: 32 } },
        ],
        command: { value: "sleep 300" },
      },
    ],
  };
  return taskGroupExecutor(masterHandle, on, group.tasks, schedulers);
}

before(async () => {
  ({ master, agent } = await startOneAgentCluster());
});

after(async () => {
  for (const s of schedulers) s.kill("SIGKILL");
  await stopAll();
});

describe("agent API walk: call validation", () => {
  test("container ids: a '.' or space, more than 242 characters, empty, or a bad parent is 400 naming the field", async () => {
    const long = "x".repeat(243);
    const cases: [Record<string, unknown>, string][] = [
      [
        {
          type: "LAUNCH_NESTED_CONTAINER",
          launch_nested_container: { container_id: { value: "a.b", parent: { value: "p" } } },
        },
        "'launch_nested_container.container_id' is invalid: 'ContainerID.value' 'a.b' contains invalid characters",
      ],
      [
        {
          type: "KILL_NESTED_CONTAINER",
          kill_nested_container: { container_id: { value: "a b", parent: { value: "p" } } },
        },
        "'kill_nested_container.container_id' is invalid: 'ContainerID.value' 'a b' contains invalid characters",
      ],
      [
        { type: "WAIT_CONTAINER", wait_container: { container_id: { value: long } } },
        `'wait_container.container_id' is invalid: 'ContainerID.value' '${long}' exceeds the maximum length (242)`,
      ],
      [
        { type: "REMOVE_CONTAINER", remove_container: { container_id: { value: "" } } },
        "'remove_container.container_id' is invalid: ID must not be empty",
      ],
      [
        {
          type: "WAIT_NESTED_CONTAINER",
          wait_nested_container: { container_id: { value: "c", parent: { value: "p/q" } } },
        },
        "'wait_nested_container.container_id' is invalid: 'ContainerID.parent' is invalid: 'p/q' contains invalid characters",
      ],
      [
        {
          type: "ATTACH_CONTAINER_OUTPUT",
          attach_container_output: { container_id: { value: ".." } },
        },
        "'attach_container_output.container_id' is invalid: '..' is disallowed",
      ],
    ];
    for (const [c, reason] of cases) await expectCall(agent, c, 400, `${VALIDATION}${reason}`);
  });

  test("a command whose environment is invalid is 400 before anything is launched (standalone and nested)", async () => {
    const command = { value: "true", environment: { variables: [{ name: "A" }] } };
    await expectCall(
      agent,
      { type: "LAUNCH_CONTAINER", launch_container: { container_id: { value: "s1" }, command } },
      400,
      `${VALIDATION}'launch_container.command' is invalid: Environment variable 'A' of type 'VALUE' must have a value set`,
    );
    await expectCall(
      agent,
      {
        type: "LAUNCH_NESTED_CONTAINER",
        launch_nested_container: {
          container_id: { value: "c", parent: { value: "p" } },
          command: { value: "true", environment: { variables: [{ name: "S", type: "SECRET" }] } },
        },
      },
      400,
      `${VALIDATION}'launch_nested_container.command' is invalid: Environment variable 'S' of type 'SECRET' must have a secret set`,
    );
  });

  test("LAUNCH_CONTAINER: a standalone container's resources must be valid, unreserved and non-revocable; deeper nesting may not ask for resources", async () => {
    const launch = (resources: unknown[], id: unknown = { value: "s1" }) => ({
      type: "LAUNCH_CONTAINER",
      launch_container: { container_id: id, command: { value: "true" }, resources },
    });
    await expectCall(
      agent,
      launch([{ name: "cpus", type: "SCALAR", scalar: { value: -1 } }]),
      400,
      `${VALIDATION}Invalid resources: Resource 'cpus:-1' is invalid: Invalid scalar resource: value <= 0`,
    );
    await expectCall(
      agent,
      launch([
        {
          name: "cpus",
          type: "SCALAR",
          scalar: { value: 1 },
          reservations: [{ type: "STATIC", role: "r" }],
        },
      ]),
      400,
      `${VALIDATION}'launch_container.resources' must be unreserved`,
    );
    await expectCall(
      agent,
      launch([{ name: "cpus", type: "SCALAR", scalar: { value: 1 }, revocable: {} }]),
      400,
      `${VALIDATION}'launch_container.resources' must be non-revocable`,
    );
    await expectCall(
      agent,
      launch([{ name: "gpus", type: "SCALAR", scalar: { value: 0.5 } }]),
      400,
      `${VALIDATION}Invalid GPU resources: The 'gpus' resource must be an unsigned integer`,
    );
    await expectCall(
      agent,
      launch([{ name: "cpus", type: "SCALAR", scalar: { value: 1 } }], {
        value: "c",
        parent: { value: "b", parent: { value: "a" } },
      }),
      400,
      `${VALIDATION}'launch_container' is invalid: containers nested at the second level or greater cannot specify resources`,
    );
    await expectCall(
      agent,
      {
        type: "LAUNCH_CONTAINER",
        launch_container: {
          container_id: { value: "s1" },
          command: { value: "true" },
          container: { type: "MESOS", linux_info: { share_cgroups: true } },
        },
      },
      400,
      `${VALIDATION}'launch_container' is invalid: containers without a parent cannot set 'share_cgroups' to 'true'`,
    );
  });

  test("resource provider configs: an id is refused, an unknown type is 400, and without --resource_provider_config_dir the calls fail (500)", async () => {
    await expectCall(
      agent,
      {
        type: "ADD_RESOURCE_PROVIDER_CONFIG",
        add_resource_provider_config: { info: { id: { value: "i" }, type: "t", name: "n" } },
      },
      400,
      `${VALIDATION}Expecting 'add_resource_provider_config.info.id' to be unset`,
    );
    await expectCall(
      agent,
      {
        type: "UPDATE_RESOURCE_PROVIDER_CONFIG",
        update_resource_provider_config: { info: { type: "t", name: "n" } },
      },
      400,
      "Failed to validate resource provider config with type 't' and name 'n': Unknown local resource provider type 't'",
    );
    await expectCall(
      agent,
      {
        type: "ADD_RESOURCE_PROVIDER_CONFIG",
        add_resource_provider_config: {
          info: { type: "org.apache.mesos.rp.local.storage", name: "n" },
        },
      },
      500,
      "Missing required flag --resource_provider_config_dir",
    );
    await expectCall(
      agent,
      {
        type: "REMOVE_RESOURCE_PROVIDER_CONFIG",
        remove_resource_provider_config: { type: "t", name: "n" },
      },
      500,
      "Missing required flag --resource_provider_config_dir",
    );
  });

  test("resource provider configs: with --resource_provider_config_dir, removing an unknown config is 200", async () => {
    const withDir = await startAgent({
      master: master.address,
      flags: { resource_provider_config_dir: tempDir("agent-api-walk-rp-") },
    });
    await expectCall(
      withDir,
      {
        type: "REMOVE_RESOURCE_PROVIDER_CONFIG",
        remove_resource_provider_config: { type: "t", name: "n" },
      },
      200,
      "",
    );
    await withDir.stop();
  });
});

describe("agent API walk: containers the agent does not have", () => {
  test("WAIT and KILL of unknown containers are 404 in Mesos' words, standalone ids too; REMOVE under an unknown root is 500", async () => {
    const nestedId = { value: "c", parent: { value: "p" } };
    await expectCall(
      agent,
      { type: "WAIT_NESTED_CONTAINER", wait_nested_container: { container_id: nestedId } },
      404,
      "Container p.c cannot be found",
    );
    await expectCall(
      agent,
      { type: "KILL_NESTED_CONTAINER", kill_nested_container: { container_id: nestedId } },
      404,
      "Container 'p.c' cannot be found (or is already killed)",
    );
    await expectCall(
      agent,
      { type: "WAIT_CONTAINER", wait_container: { container_id: { value: "s" } } },
      404,
      "Container s cannot be found",
    );
    await expectCall(
      agent,
      { type: "KILL_CONTAINER", kill_container: { container_id: { value: "s" } } },
      404,
      "Container 's' cannot be found (or is already killed)",
    );
    await expectCall(
      agent,
      { type: "REMOVE_NESTED_CONTAINER", remove_nested_container: { container_id: nestedId } },
      500,
      "Unknown root container",
    );
  });

  test("LAUNCH_NESTED_CONTAINER under a parent that does not exist is 400", async () => {
    await expectCall(
      agent,
      {
        type: "LAUNCH_NESTED_CONTAINER",
        launch_nested_container: {
          container_id: { value: "c", parent: { value: "no-such-parent" } },
          command: { value: "true" },
        },
      },
      400,
      "Parent container no-such-parent does not exist",
    );
  });
});

describe("agent API walk: authorization comes first", () => {
  test("with --acls, WAIT/KILL of a standalone container need the *_standalone_containers actions (403 before the 404)", async () => {
    const acls = {
      permissive: true,
      wait_standalone_containers: [{ principals: { type: "ANY" }, users: { type: "NONE" } }],
      kill_nested_containers: [{ principals: { type: "ANY" }, users: { type: "NONE" } }],
    };
    const guarded = await startAgent({
      master: master.address,
      flags: { acls: JSON.stringify(acls) },
    });
    await expectCall(
      guarded,
      { type: "WAIT_CONTAINER", wait_container: { container_id: { value: "s" } } },
      403,
      "Anonymous is not authorized to wait for standalone container 's'",
    );
    // The other standalone actions are allowed: the container is not there.
    await expectCall(
      guarded,
      { type: "KILL_CONTAINER", kill_container: { container_id: { value: "s" } } },
      404,
      "Container 's' cannot be found (or is already killed)",
    );
    // Two levels deep: the nested action decides first.
    await expectCall(
      guarded,
      {
        type: "KILL_CONTAINER",
        kill_container: {
          container_id: { value: "c", parent: { value: "b", parent: { value: "a" } } },
        },
      },
      403,
      "Anonymous is not authorized to kill container 'a.b.c'",
    );
    await guarded.stop();
  });
});

/** A nested container's life through the API, as Mesos answers each step. */
async function nestedLifecycle(on: DaemonHandle, parent: string): Promise<void> {
  const id = { value: "walk-child", parent: { value: parent } };
  const name = `${parent}.walk-child`;
  const launch = {
    type: "LAUNCH_NESTED_CONTAINER",
    launch_nested_container: { container_id: id, command: { value: "sleep 300" } },
  };
  await expectCall(on, launch, 200, "");
  // Launching a running container again is accepted and changes nothing.
  await expectCall(on, launch, 202, "");
  await expectCall(
    on,
    { type: "REMOVE_NESTED_CONTAINER", remove_nested_container: { container_id: id } },
    500,
    "Nested container has not terminated yet",
  );
  await expectCall(
    on,
    { type: "KILL_NESTED_CONTAINER", kill_nested_container: { container_id: id } },
    200,
    "",
  );
  const waited = await operatorCall(on, {
    type: "WAIT_NESTED_CONTAINER",
    wait_nested_container: { container_id: id },
  });
  assert.equal(waited.status, 200, waited.text);
  assert.deepEqual(JSON.parse(waited.text), {
    type: "WAIT_NESTED_CONTAINER",
    wait_nested_container: { exit_status: 9 },
  });
  await expectCall(
    on,
    { type: "KILL_NESTED_CONTAINER", kill_nested_container: { container_id: id } },
    404,
    `Container '${name}' cannot be found (or is already killed)`,
  );
  // Nested two levels deep under a container that has ended: its parent does not exist.
  await expectCall(
    on,
    {
      type: "LAUNCH_CONTAINER",
      launch_container: {
        container_id: { value: "grandchild", parent: id },
        command: { value: "true" },
      },
    },
    400,
    `Parent container ${name} does not exist`,
  );
  // An ended container (not removed yet) is launched anew under the same id.
  await expectCall(on, launch, 200, "");
  await expectCall(
    on,
    { type: "KILL_NESTED_CONTAINER", kill_nested_container: { container_id: id } },
    200,
    "",
  );
  const again = await operatorCall(on, {
    type: "WAIT_NESTED_CONTAINER",
    wait_nested_container: { container_id: id },
  });
  assert.deepEqual(JSON.parse(again.text), {
    type: "WAIT_NESTED_CONTAINER",
    wait_nested_container: { exit_status: 9 },
  });
  await expectCall(
    on,
    { type: "REMOVE_NESTED_CONTAINER", remove_nested_container: { container_id: id } },
    200,
    "",
  );
  await expectCall(
    on,
    {
      type: "LAUNCH_NESTED_CONTAINER",
      launch_nested_container: {
        container_id: { value: "walk-docker", parent: { value: parent } },
        command: { value: "true" },
        container: { type: "DOCKER", docker: { image: "alpine" } },
      },
    },
    400,
    "The provided ContainerInfo is not supported",
  );
  const asNobodyKnown = await operatorCall(on, {
    type: "LAUNCH_NESTED_CONTAINER",
    launch_nested_container: {
      container_id: { value: "walk-user", parent: { value: parent } },
      command: { value: "true", user: "no-such-user-walk" },
    },
  });
  // A launch that fails is the caller's doing: 400 with the reason, as Mesos.
  assert.equal(asNobodyKnown.status, 400, asNobodyKnown.text);
  assert.match(asNobodyKnown.text, /no-such-user-walk/);
}

describe("agent API walk: a nested container's life", () => {
  test("launch, launch again (202), remove while running (500), kill, wait, kill again (404), launch anew, remove", async () => {
    const parent = await taskGroupParent(master, agent);
    await nestedLifecycle(agent, parent);
  });

  test("the same under --launcher=linux with filesystem/linux,namespaces/pid", {
    skip: isRoot ? false : "needs root: the linux launcher and pid namespaces",
  }, async () => {
    const { master: ownMaster, agent: linux } = await startOneAgentCluster({
      isolation: "filesystem/linux,namespaces/pid",
      launcher: "linux",
    });
    const parent = await taskGroupParent(ownMaster, linux);
    await nestedLifecycle(linux, parent);
  });
});

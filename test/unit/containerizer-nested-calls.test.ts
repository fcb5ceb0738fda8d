/**
 * The agent's nested container calls without processes: validation of the
 * container id, unknown parents and containers, the ACL actions, and the
 * resources a nested container's isolators limit it to.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { LauncherClient } from "../../src/agent/containerizer/launcher.js";
import {
  type NestedContainers,
  nestedEnvironment,
  nestedResources,
} from "../../src/agent/containerizer/nested-containers.js";
import { nestedContainerCall } from "../../src/agent/http/nested-container-calls.js";
import { LocalAuthorizer, parseAcls } from "../../src/common/auth/acls.js";
import { setRequestAuthorizer } from "../../src/common/auth/request-auth.js";
import { HttpRequest } from "../../src/common/http/request.js";
import type { HttpResponse } from "../../src/common/http/response.js";
import type { Call } from "../../src/common/protocol/generated/mesos-v1-agent.js";
import { nestedContainersFixture } from "../harness/nested-containers-fixture.js";

function request(): HttpRequest {
  return new HttpRequest({
    method: "POST",
    path: "/api/v1",
    rawQuery: "",
    headers: {},
    body: new Uint8Array(),
    remoteAddress: "127.0.0.1",
    remotePort: 1,
  });
}

const launcher = {
  spawn: () => Promise.reject(new Error("no processes in this test")),
  user: () => Promise.reject(new Error("no users")),
} as unknown as LauncherClient;

function nested(): NestedContainers {
  return nestedContainersFixture(launcher, "/nonexistent/sandbox", { parentId: "exec-1" });
}

const text = (r: HttpResponse) =>
  r.kind === "body" ? (typeof r.body === "string" ? r.body : Buffer.from(r.body).toString()) : "";

async function call(c: Call, n: NestedContainers | undefined = nested(), req = request()) {
  return nestedContainerCall(
    n,
    c,
    req,
    () => ({ kind: "body", status: 200, headers: {}, body: "" }) as HttpResponse,
  );
}

test("nested calls: no nested containers on the agent is 501; a missing id 400; a standalone launch without a command 400; waiting for an unknown standalone or two-level id 404", async () => {
  const wait = { type: "WAIT_NESTED_CONTAINER" as const };
  // (An undefined argument takes the default: the agent has nested containers.)
  const standaloneWait = await call({
    type: "WAIT_CONTAINER",
    wait_container: { container_id: { value: "c" } },
  });
  assert.equal(standaloneWait.status, 404);
  assert.equal(text(standaloneWait), "Container c cannot be found");
  const none = await nestedContainerCall(
    undefined,
    { ...wait, wait_nested_container: { container_id: { value: "c", parent: { value: "p" } } } },
    request(),
    () => ({ kind: "body", status: 200, headers: {}, body: "" }) as HttpResponse,
  );
  assert.equal(none.status, 501);
  assert.equal((await call({ type: "KILL_NESTED_CONTAINER" })).status, 400);
  const standalone = await call({
    type: "LAUNCH_CONTAINER",
    launch_container: { container_id: { value: "x" } },
  });
  assert.equal(standalone.status, 400);
  assert.equal(text(standalone), "Container 'x' has no command");
  const deep = await call({
    ...wait,
    wait_nested_container: {
      container_id: { value: "c", parent: { value: "b", parent: { value: "a" } } },
    },
  });
  assert.equal(deep.status, 404);
  assert.equal(text(deep), "Container a.b.c cannot be found");
});

test("nested calls: WAIT and KILL of an unknown container are 404; LAUNCH under an unknown parent is 400, a bad id 400", async () => {
  const id = { value: "c1", parent: { value: "exec-1" } };
  assert.equal(
    (await call({ type: "WAIT_NESTED_CONTAINER", wait_nested_container: { container_id: id } }))
      .status,
    404,
  );
  assert.equal(
    (await call({ type: "KILL_CONTAINER", kill_container: { container_id: id } })).status,
    404,
  );
  const orphan = await call({
    type: "LAUNCH_NESTED_CONTAINER",
    launch_nested_container: {
      container_id: { value: "c1", parent: { value: "gone" } },
      command: { value: "true" },
    },
  });
  assert.equal(orphan.status, 400);
  assert.equal(text(orphan), "Parent container gone does not exist");
  const bad = await call({
    type: "LAUNCH_NESTED_CONTAINER",
    launch_nested_container: { container_id: { value: "a.b", parent: { value: "exec-1" } } },
  });
  assert.equal(bad.status, 400);
  const noCommand = await call({
    type: "LAUNCH_CONTAINER",
    launch_container: { container_id: id },
  });
  assert.equal(noCommand.status, 400);
  assert.match(text(noCommand), /has no command/);
});

test("nested calls: the ACL actions refuse with 403", async () => {
  const acls = parseAcls({
    permissive: true,
    kill_nested_containers: [{ principals: { type: "ANY" }, users: { type: "NONE" } }],
    launch_nested_containers_as_user: [
      { principals: { type: "ANY" }, users: { values: ["root"] } },
      { principals: { type: "ANY" }, users: { type: "NONE" } },
    ],
  });
  assert.ok(acls.ok, JSON.stringify(acls));
  const req = () => {
    const r = request();
    setRequestAuthorizer(r, new LocalAuthorizer(acls.value));
    return r;
  };
  const id = { value: "c1", parent: { value: "exec-1" } };
  const kill = await call(
    { type: "KILL_NESTED_CONTAINER", kill_nested_container: { container_id: id } },
    nested(),
    req(),
  );
  assert.equal(kill.status, 403);
  assert.match(text(kill), /Anonymous is not authorized to kill container 'exec-1.c1'/);
  const asAlice = await call(
    {
      type: "LAUNCH_CONTAINER",
      launch_container: { container_id: id, command: { value: "true", user: "alice" } },
    },
    nested(),
    req(),
  );
  assert.equal(asAlice.status, 403);
  assert.match(text(asAlice), /as user 'alice'/);
  // WAIT has no rule: allowed, and the container is unknown.
  const wait = await call(
    { type: "WAIT_NESTED_CONTAINER", wait_nested_container: { container_id: id } },
    nested(),
    req(),
  );
  assert.equal(wait.status, 404);
});

test("nested containers: limits go with the requested cpus and mem; the environment is PATH, the command's values and MESOS_SANDBOX", () => {
  const resources = [
    { name: "cpus", type: "SCALAR" as const, scalar: { value: 0.5 } },
    { name: "mem", type: "SCALAR" as const, scalar: { value: 64 } },
  ];
  assert.deepEqual(nestedResources(resources, undefined), {
    cpus: 0.5,
    memMb: 64,
    diskMb: undefined,
  });
  assert.deepEqual(nestedResources(resources, { mem: { value: 128 }, cpus: { value: Infinity } }), {
    cpus: 0.5,
    memMb: 64,
    diskMb: undefined,
    cpuLimit: Infinity,
    memLimitMb: 128,
  });
  const env = nestedEnvironment(
    {
      value: "x",
      environment: {
        variables: [
          { name: "A", value: "1" },
          { name: "MESOS_SANDBOX", value: "/elsewhere" },
          { name: "S", type: "SECRET" },
        ],
      },
    },
    "/sb/containers/c1",
  );
  assert.equal(env.A, "1");
  assert.equal(env.MESOS_SANDBOX, "/sb/containers/c1");
  assert.equal(env.S, undefined);
  assert.match(env.PATH ?? "", /\/usr\/bin/);
});

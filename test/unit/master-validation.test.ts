import assert from "node:assert/strict";
import { test } from "node:test";
import type { ExecutorInfo, TaskInfo } from "../../src/common/protocol/generated/mesos-v1.js";
import { type Resource as CoreResource, Resources } from "../../src/common/resources/index.js";
import { validateFrameworkInfo, validateId } from "../../src/master/validation/framework.js";
import { validateOfferIds } from "../../src/master/validation/offers.js";
import { validateSchedulerCall } from "../../src/master/validation/scheduler-call.js";
import { type LaunchContext, validateLaunchTask } from "../../src/master/validation/task.js";
import { validateTaskGroup } from "../../src/master/validation/task-group.js";
import { resources } from "./master-fixture.js";

function allocated(text: string, role = "*"): ReturnType<typeof resources> {
  return resources(text).map((r) => ({ ...r, allocation_info: { role } }));
}

function offered(text: string): Resources {
  return Resources.from(allocated(text) as CoreResource[]);
}

const ctx = (existing?: ExecutorInfo): LaunchContext => ({
  frameworkId: "fw",
  agentId: "ag",
  taskIdInUse: (id) => (id === "running" ? "active" : id === "away" ? "unreachable" : undefined),
  existingExecutor: (id) => (existing?.executor_id.value === id ? existing : undefined),
  agentSupportsLimits: true,
});

function task(extra: Partial<TaskInfo> = {}): TaskInfo {
  return {
    name: "t",
    task_id: { value: "t1" },
    agent_id: { value: "ag" },
    resources: allocated("cpus:1;mem:64"),
    command: { value: "true" },
    ...extra,
  };
}

test("master validation: ids must be non-empty path components", () => {
  assert.equal(validateId(""), "ID must not be empty");
  assert.equal(validateId(".."), "'..' is disallowed");
  assert.equal(validateId("a/b"), "'a/b' contains invalid characters");
  assert.equal(validateId("a\nb"), "'a\nb' contains invalid characters");
  assert.equal(validateId("x".repeat(256)), "ID must not be greater than 255 characters");
  assert.equal(validateId("task-1.ok"), undefined);
});

test("master validation: scheduler calls need a type, a framework id and their sub-message", () => {
  assert.equal(validateSchedulerCall({}), "Expecting 'type' to be present");
  assert.equal(validateSchedulerCall({ type: "ACCEPT" }), "Expecting 'framework_id' to be present");
  assert.equal(
    validateSchedulerCall({ type: "KILL", framework_id: { value: "f" } }),
    "Expecting 'kill' to be present",
  );
  assert.equal(validateSchedulerCall({ type: "REVIVE", framework_id: { value: "f" } }), undefined);
  assert.equal(validateSchedulerCall({ type: "UNKNOWN", framework_id: { value: "f" } }), undefined);
  assert.equal(
    validateSchedulerCall({
      type: "SUBSCRIBE",
      framework_id: { value: "a" },
      subscribe: { framework_info: { user: "u", name: "n", id: { value: "b" } } },
    }),
    "'framework_id' differs from 'subscribe.framework_info.id'",
  );
  assert.match(
    validateSchedulerCall({
      type: "ACKNOWLEDGE",
      framework_id: { value: "f" },
      acknowledge: { agent_id: { value: "a" }, task_id: { value: "t" }, uuid: new Uint8Array(3) },
    }) ?? "",
    /^Not a valid UUID$/,
  );
});

test("master validation: FrameworkInfo offer_filters use Mesos' quantity wording", () => {
  const opts = { rootSubmissions: true };
  const withMin = (quantities: Record<string, { value: number }>) => ({
    user: "u",
    name: "n",
    offer_filters: { "*": { min_allocatable_resources: { quantities: [{ quantities }] } } },
  });
  assert.equal(validateFrameworkInfo(withMin({ cpus: { value: 0 } }), opts), undefined);
  assert.equal(
    validateFrameworkInfo(withMin({ cpus: { value: -1 } }), opts),
    "Invalid resource quantity for 'cpus': Negative values not supported",
  );
  assert.equal(
    validateFrameworkInfo(withMin({ mem: { value: Number.POSITIVE_INFINITY } }), opts),
    "Invalid resource quantity for 'mem': Infinite values not supported",
  );
  assert.equal(
    validateFrameworkInfo(withMin({}), opts),
    "Resource quantities must contain at least one quantity",
  );
});

test("master validation: FrameworkInfo roles, failover timeout and root", () => {
  const base = { user: "u", name: "n" };
  const opts = { rootSubmissions: true };
  assert.equal(validateFrameworkInfo(base, opts), undefined);
  assert.match(
    validateFrameworkInfo({ ...base, roles: ["a"] }, opts) ?? "",
    /must not be set when the framework is not MULTI_ROLE/,
  );
  assert.match(
    validateFrameworkInfo(
      { ...base, roles: ["a", "a"], capabilities: [{ type: "MULTI_ROLE" }] },
      opts,
    ) ?? "",
    /duplicate items/,
  );
  assert.match(validateFrameworkInfo({ ...base, role: "a/../b" }, opts) ?? "", /not a valid role/);
  // Mesos accepts any failover_timeout that fits int64 nanoseconds, negative ones too.
  assert.equal(validateFrameworkInfo({ ...base, failover_timeout: -1 }, opts), undefined);
  assert.equal(validateFrameworkInfo({ ...base, failover_timeout: 9.2e9 }, opts), undefined);
  assert.match(
    validateFrameworkInfo({ ...base, failover_timeout: 1e10 }, opts) ?? "",
    /^The framework failover_timeout \(1e\+10\) is invalid$/,
  );
  assert.match(
    validateFrameworkInfo({ ...base, failover_timeout: -1.5e10 }, opts) ?? "",
    /failover_timeout \(-1\.5e\+10\) is invalid/,
  );
  assert.match(
    validateFrameworkInfo({ ...base, user: "root" }, { rootSubmissions: false }) ?? "",
    /User 'root' is not allowed/,
  );
});

test("master validation: offers must exist, be ours, unique, of one agent and one role", () => {
  const offers = new Map([
    ["o1", { frameworkId: "fw", agentId: "a1", role: "*" }],
    ["o2", { frameworkId: "fw", agentId: "a2", role: "*" }],
    ["o3", { frameworkId: "other", agentId: "a1", role: "*" }],
    ["o4", { frameworkId: "fw", agentId: "a1", role: "web" }],
  ]);
  const check = (ids: string[]) => validateOfferIds(ids, "fw", (id) => offers.get(id));
  assert.equal(check(["o1"]), undefined);
  assert.equal(check([]), "No offers specified");
  assert.equal(check(["o1", "o1"]), "Duplicate offer o1 in offer list");
  assert.equal(check(["zz"]), "Offer zz is no longer valid");
  assert.match(check(["o3"]) ?? "", /^Offer o3 has invalid framework other while framework fw/);
  assert.match(check(["o1", "o2"]) ?? "", /must belong to one single agent/);
  assert.match(check(["o1", "o4"]) ?? "", /must be allocated to the same role/);
});

test("master validation: task ids, agent, resources and executor rules", () => {
  const offer = offered("cpus:2;mem:256");
  assert.equal(validateLaunchTask(task(), ctx(), offer), undefined);
  assert.equal(
    validateLaunchTask(task({ task_id: { value: "running" } }), ctx(), offer),
    "Task has duplicate ID: running",
  );
  assert.equal(
    validateLaunchTask(task({ task_id: { value: "away" } }), ctx(), offer),
    "Task reuses the ID of an unreachable task: away",
  );
  assert.equal(
    validateLaunchTask(task({ agent_id: { value: "zz" } }), ctx(), offer),
    "Task uses invalid agent zz while agent ag is expected",
  );
  assert.equal(validateLaunchTask(task({ resources: [] }), ctx(), offer), "Task uses no resources");
  assert.match(
    validateLaunchTask(task({ resources: allocated("cpus:4") }), ctx(), offer) ?? "",
    /^Total resources cpus\(allocated: \*\):4 required by task and its executor is more than available/,
  );
  const executor: ExecutorInfo = {
    executor_id: { value: "e" },
    framework_id: { value: "fw" },
    command: { value: "exec" },
    resources: allocated("cpus:1.5"),
  };
  const withExecutor = task({ executor });
  delete withExecutor.command;
  assert.match(
    validateLaunchTask(withExecutor, ctx(), offer) ?? "",
    /more than available/,
    "a new executor's resources count",
  );
  assert.equal(
    validateLaunchTask(withExecutor, ctx(executor), offer),
    undefined,
    "a running executor's resources do not",
  );
  assert.equal(
    validateLaunchTask(withExecutor, ctx({ ...executor, command: { value: "other" } }), offer),
    "ExecutorInfo is not compatible with existing ExecutorInfo with same ExecutorID",
  );
  assert.match(
    validateLaunchTask(
      { ...withExecutor, executor: { ...executor, framework_id: { value: "x" } } },
      ctx(),
      offer,
    ) ?? "",
    /ExecutorInfo has an invalid FrameworkID/,
  );
  assert.match(
    validateLaunchTask(task({ limits: { cpus: { value: 0.5 } } }), ctx(), offer) ?? "",
    /cpu limit must be greater than or equal to the cpu request/,
  );
});

test("master validation: task resources need whole GPUs, usable disk infos, no revocable reservations", () => {
  const offer = offered("cpus:4;mem:256;disk:100;gpus:2");
  const withResources = (extra: NonNullable<TaskInfo["resources"]>) =>
    task({ resources: [...allocated("cpus:1"), ...extra] });
  assert.equal(
    validateLaunchTask(withResources(allocated("gpus:0.5")), ctx(), offer),
    "Task uses invalid resources: Invalid 'gpus' resource: The 'gpus' resource must be an unsigned integer",
  );
  const disk = (extra: object) =>
    ({ ...allocated("disk:10")[0], ...extra }) as NonNullable<TaskInfo["resources"]>[number];
  assert.equal(
    validateLaunchTask(withResources([disk({ disk: {} })]), ctx(), offer),
    "Task uses invalid resources: Invalid DiskInfo: DiskInfo is set but empty",
  );
  assert.equal(
    validateLaunchTask(
      withResources([disk({ disk: { volume: { mode: "RW", container_path: "d" } } })]),
      ctx(),
      offer,
    ),
    "Task uses invalid resources: Invalid DiskInfo: Non-persistent volume not supported",
  );
  assert.equal(
    validateLaunchTask(
      withResources([
        disk({ disk: { persistence: { id: "v" }, volume: { mode: "RW", container_path: "d" } } }),
      ]),
      ctx(),
      offer,
    ),
    "Task uses invalid resources: Invalid DiskInfo: Persistent volumes cannot be created from unreserved resources",
  );
  assert.equal(
    validateLaunchTask(
      withResources([
        disk({
          reservations: [{ type: "DYNAMIC", role: "r" }],
          disk: {
            persistence: { id: "v" },
            volume: { mode: "RW", container_path: "d", host_path: "/x" },
          },
        }),
      ]),
      ctx(),
      offer,
    ),
    "Task uses invalid resources: Invalid DiskInfo: Expecting 'host_path' to be unset for persistent volume",
  );
  assert.match(
    validateLaunchTask(
      withResources([
        {
          ...allocated("mem:10")[0],
          reservations: [{ type: "DYNAMIC", role: "r" }],
          revocable: {},
        } as NonNullable<TaskInfo["resources"]>[number],
      ]),
      ctx(),
      offer,
    ) ?? "",
    /^Task uses invalid resources: Invalid ReservationInfo: Dynamically reserved resource mem\(allocated: \*\)\(reservations: \[\(DYNAMIC,r\)\]\)\{REV\}:10 cannot be created from revocable resources$/,
  );
});

test("master validation: ContainerInfo volumes and Docker parameters, share_cgroups outside groups", () => {
  const offer = offered("cpus:4;mem:256;disk:100");
  const withContainer = (container: TaskInfo["container"]) => task({ container });
  assert.equal(
    validateLaunchTask(
      withContainer({
        type: "MESOS",
        volumes: [
          { mode: "RW", container_path: "/a", host_path: "/b", source: { type: "SANDBOX_PATH" } },
        ],
      }),
      ctx(),
      offer,
    ),
    "Task's `ContainerInfo` is invalid: Invalid volume: Only one of them should be set: " +
      "'host_path', 'image' and 'source'",
  );
  assert.equal(
    validateLaunchTask(
      withContainer({
        type: "MESOS",
        volumes: [{ mode: "RW", container_path: "/a", source: { type: "SECRET" } }],
      }),
      ctx(),
      offer,
    ),
    "Task's `ContainerInfo` is invalid: Invalid volume: 'source.secret' is not set for SECRET volume",
  );
  assert.equal(
    validateLaunchTask(withContainer({ type: "DOCKER" }), ctx(), offer),
    "Task's `ContainerInfo` is invalid: DockerInfo 'docker' is not set for DOCKER typed ContainerInfo",
  );
  assert.equal(
    validateLaunchTask(
      withContainer({
        type: "DOCKER",
        docker: { image: "x", parameters: [{ key: "name", value: "n" }] },
      }),
      ctx(),
      offer,
    ),
    "Task's `ContainerInfo` is invalid: Parameter in DockerInfo must not be 'name'",
  );
  assert.equal(
    validateLaunchTask(
      withContainer({
        type: "MESOS",
        volumes: [
          {
            mode: "RO",
            container_path: "/a",
            source: { type: "SANDBOX_PATH", sandbox_path: { path: "x" } },
          },
        ],
      }),
      ctx(),
      offer,
    ),
    undefined,
  );
  assert.equal(
    validateLaunchTask(
      withContainer({ type: "MESOS", linux_info: { share_cgroups: false } }),
      ctx(),
      offer,
    ),
    "Only tasks in a task group may have 'share_cgroups' set to 'false'",
  );
  const executor: ExecutorInfo = {
    executor_id: { value: "e" },
    framework_id: { value: "fw" },
    command: { value: "exec" },
    container: { type: "DOCKER" },
    resources: allocated("cpus:0.1"),
  };
  const withExecutor = task({ executor });
  delete withExecutor.command;
  assert.equal(
    validateLaunchTask(withExecutor, ctx(), offer),
    "Executor's `ContainerInfo` is invalid: DockerInfo 'docker' is not set for DOCKER typed ContainerInfo",
  );
  const sharing = task({
    executor: {
      ...executor,
      container: { type: "MESOS", linux_info: { share_cgroups: true } },
    },
  });
  delete sharing.command;
  assert.equal(
    validateLaunchTask(sharing, ctx(), offer),
    "The 'share_cgroups' field cannot be set to 'true' on executor containers",
  );
  const volume = {
    name: "disk",
    type: "SCALAR" as const,
    scalar: { value: 10 },
    reservations: [{ type: "DYNAMIC" as const, role: "r" }],
    allocation_info: { role: "*" },
    disk: { persistence: { id: "v" }, volume: { container_path: "d", mode: "RW" as const } },
    shared: {},
  };
  const shared = task({
    executor: { ...executor, container: undefined, resources: [...allocated("cpus:0.1"), volume] },
  });
  delete shared.command;
  assert.equal(
    validateLaunchTask(shared, ctx(), offer),
    "Executor resources cpus(allocated: *):0.1; disk(allocated: *)(reservations: [(DYNAMIC,r)])" +
      "[v:d]<SHARED>:10<1> should not contain any shared resources",
  );
});

test("master validation: a task and its executor may not share ports, volume ids or revocability", () => {
  const offer = offered("cpus:4;mem:256;disk:100;ports:[31000-31010]");
  const executor: ExecutorInfo = {
    executor_id: { value: "e" },
    framework_id: { value: "fw" },
    command: { value: "exec" },
    resources: allocated("cpus:0.1;ports:[31000-31001]"),
  };
  const withExecutor = (resources: string, e: ExecutorInfo = executor): TaskInfo => {
    const t = task({ executor: e, resources: allocated(resources) });
    delete t.command;
    return t;
  };
  assert.equal(
    validateLaunchTask(withExecutor("cpus:1;ports:[31001-31002]"), ctx(), offer),
    "There are overlapping resources in the task resources " +
      "[ cpus(allocated: *):1, ports(allocated: *):[31001-31002] ] and executor resources " +
      "[ cpus(allocated: *):0.1, ports(allocated: *):[31000-31001] ]",
  );
  assert.equal(
    validateLaunchTask(withExecutor("cpus:1;ports:[31002-31003]"), ctx(), offer),
    undefined,
  );
  const volume = (role: string, shared: boolean) => ({
    name: "disk",
    type: "SCALAR" as const,
    scalar: { value: 10 },
    reservations: [{ type: "DYNAMIC" as const, role }],
    allocation_info: { role: "*" },
    disk: { persistence: { id: "v" }, volume: { container_path: "data", mode: "RW" as const } },
    ...(shared ? { shared: {} } : {}),
  });
  const volumes = (taskVolume: ReturnType<typeof volume>, executorVolume: typeof taskVolume) => {
    const t = task({
      executor: { ...executor, resources: [...allocated("cpus:0.1"), executorVolume] },
      resources: [...allocated("cpus:1"), taskVolume],
    });
    delete t.command;
    return t;
  };
  const volumeOffer = offered("cpus:4;mem:256").plus(
    Resources.from([volume("q", false), volume("r", false)] as CoreResource[]),
  );
  assert.equal(
    validateLaunchTask(volumes(volume("r", false), volume("r", false)), ctx(), volumeOffer),
    "Task and its executor use duplicate persistence ID: Persistence ID 'v' is not unique",
  );
  assert.equal(
    validateLaunchTask(volumes(volume("r", false), volume("q", false)), ctx(), volumeOffer),
    undefined,
    "ids are unique per reservation role",
  );
  const revocable = {
    ...executor,
    resources: allocated("cpus:0.1").map((r) => ({ ...r, revocable: {} })),
  };
  assert.equal(
    validateLaunchTask(withExecutor("cpus:1", revocable), ctx(), offer),
    "Task and its executor mix revocable and non-revocable resources: " +
      "Cannot use both revocable and non-revocable 'cpus' at the same time",
  );
});

test("master validation: tasks of a group may not share ports with each other or the executor", () => {
  const executor: ExecutorInfo = {
    type: "DEFAULT",
    executor_id: { value: "e" },
    framework_id: { value: "fw" },
    resources: allocated("cpus:0.1;mem:32;disk:10"),
  };
  const member = (id: string, resources: string): TaskInfo => {
    const t = task({ task_id: { value: id }, executor, resources: allocated(resources) });
    delete t.command;
    return t;
  };
  const offer = offered("cpus:4;mem:256;disk:100;ports:[31000-31010]");
  assert.equal(
    validateTaskGroup(
      {
        tasks: [
          member("a", "cpus:1;ports:[31000-31000]"),
          member("b", "cpus:1;ports:[31000-31000]"),
        ],
      },
      executor,
      ctx(),
      offer,
    ),
    "There are overlapping resources in the task group's task resources " +
      "[ cpus(allocated: *):1; ports(allocated: *):[31000-31000], " +
      "cpus(allocated: *):1; ports(allocated: *):[31000-31000] ] and/or executor resources " +
      "[ cpus(allocated: *):0.1, mem(allocated: *):32, disk(allocated: *):10 ]",
  );
  const shared = {
    name: "disk",
    type: "SCALAR" as const,
    scalar: { value: 10 },
    reservations: [{ type: "DYNAMIC" as const, role: "r" }],
    allocation_info: { role: "*" },
    disk: { persistence: { id: "v" }, volume: { container_path: "data", mode: "RW" as const } },
    shared: {},
  };
  const withShared = (id: string): TaskInfo => {
    const t = member(id, "cpus:1");
    t.resources = [...(t.resources ?? []), shared];
    return t;
  };
  assert.equal(
    validateTaskGroup(
      { tasks: [withShared("a"), withShared("b")] },
      executor,
      ctx(),
      offer.plus(Resources.from([shared, shared] as CoreResource[])),
    ),
    undefined,
    "two tasks of a group may use the same shared volume (no duplicate persistence ID)",
  );
  assert.equal(
    validateTaskGroup(
      {
        tasks: [
          member("a", "cpus:1;ports:[31000-31000]"),
          member("b", "cpus:1;ports:[31001-31001]"),
        ],
      },
      executor,
      ctx(),
      offer,
    ),
    undefined,
  );
});

test("master validation: task groups follow Mesos' share_cgroups, limits and health check rules", () => {
  const executor: ExecutorInfo = {
    type: "DEFAULT",
    executor_id: { value: "e" },
    framework_id: { value: "fw" },
    resources: allocated("cpus:0.1;mem:32;disk:10"),
  };
  const member = (id: string, extra: Partial<TaskInfo> = {}): TaskInfo => {
    const t = task({ task_id: { value: id }, executor, ...extra });
    delete t.command;
    return t;
  };
  const offer = offered("cpus:4;mem:256;disk:100");
  const own = { type: "MESOS" as const, linux_info: { share_cgroups: false } };
  const group = (...tasks: TaskInfo[]) => ({ tasks });
  const sharing: ExecutorInfo = {
    ...executor,
    container: { type: "MESOS", linux_info: { share_cgroups: true } },
  };
  assert.equal(
    validateTaskGroup(group(member("a", { executor: sharing })), sharing, ctx(), offer),
    "The 'share_cgroups' field cannot be set to 'true' on executor containers",
  );
  const mismatch =
    "If set, the value of 'share_cgroups' must be the same for all tasks in each task group " +
    "and under a single executor";
  assert.equal(
    validateTaskGroup(group(member("a"), member("b", { container: own })), executor, ctx(), offer),
    mismatch,
  );
  assert.equal(
    validateTaskGroup(
      group(member("a", { container: own }), member("b", { container: own })),
      executor,
      ctx(),
      offer,
    ),
    undefined,
  );
  const running: LaunchContext = { ...ctx(executor), executorTaskContainers: () => [undefined] };
  assert.equal(
    validateTaskGroup(group(member("c", { container: own })), executor, running, offer),
    mismatch,
    "tasks already under the executor share cgroups (unset)",
  );
  assert.equal(
    validateTaskGroup(
      group(member("a", { limits: { mem: { value: 64 } } })),
      executor,
      ctx(),
      offer,
    ),
    "Task 'a' is invalid: Resource limits may only be set for tasks within a task group when the " +
      "'share_cgroups' field is set to 'false'.",
  );
  assert.equal(
    validateTaskGroup(
      group(
        member("a", {
          container: { type: "MESOS", network_infos: [{}] },
          health_check: { type: "TCP", tcp: { port: 80 } },
        }),
      ),
      executor,
      ctx(),
      offer,
    ),
    "Task 'a' is invalid: HTTP and TCP health checks are not supported for nested containers " +
      "not joining parent's network",
  );
});

test("master validation: task group executors need minimum cpus, mem and disk", () => {
  const executor: ExecutorInfo = {
    type: "DEFAULT",
    executor_id: { value: "e" },
    framework_id: { value: "fw" },
    resources: allocated("cpus:0.1;mem:16;disk:10"),
  };
  const member = (e: ExecutorInfo, extra: Partial<TaskInfo> = {}): TaskInfo => {
    const t = task({ executor: e, ...extra });
    delete t.command;
    return t;
  };
  const offer = offered("cpus:2;mem:256;disk:100");
  assert.match(
    validateTaskGroup({ tasks: [member(executor)] }, executor, ctx(), offer) ?? "",
    /uses less memory \(16MB\) than the minimum required \(32MB\)/,
  );
  const fine = { ...executor, resources: allocated("cpus:0.1;mem:32;disk:10") };
  assert.equal(validateTaskGroup({ tasks: [member(fine)] }, fine, ctx(), offer), undefined);
  assert.match(
    validateTaskGroup({ tasks: [member(executor)] }, fine, ctx(), offer) ?? "",
    /is different from executor 'e'/,
  );
  assert.match(
    validateTaskGroup(
      { tasks: [member(fine, { task_id: { value: "running" } })] },
      fine,
      ctx(),
      offer,
    ) ?? "",
    /^Task 'running' is invalid: Task has duplicate ID/,
  );
});

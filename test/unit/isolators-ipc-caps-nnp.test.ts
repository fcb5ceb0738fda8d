/**
 * The rules of `namespaces/ipc`, `linux/capabilities` and `linux/nnp`
 * without running anything: which sets a container gets, Mesos' refusals,
 * and the launch shim's commands for them.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ContainerConfig } from "../../src/agent/containerizer/isolators/isolator.js";
import {
  capabilitiesOfMask,
  capabilityMask,
  checkCapabilityFlags,
  containerCapabilities,
  LinuxCapabilitiesIsolator,
} from "../../src/agent/containerizer/isolators/linux-capabilities.js";
import {
  containerShmPath,
  NamespacesIpcIsolator,
  parentContainerId,
} from "../../src/agent/containerizer/isolators/namespaces-ipc.js";
import {
  mergePreparations,
  privilegeArguments,
  shimCommand,
} from "../../src/agent/containerizer/launch-shim.js";
import type { ExecutorInfo } from "../../src/common/protocol/generated/mesos-v1.js";

const executor = (linux?: object): Pick<ContainerConfig, "executor"> => ({
  executor: {
    executor_id: { value: "e" },
    ...(linux === undefined ? {} : { container: { type: "MESOS", linux_info: linux } }),
  } as ExecutorInfo,
});

test("linux/capabilities: the masks follow the kernel's numbering", () => {
  assert.equal(capabilityMask(["CHOWN"]), "0000000000000001");
  assert.equal(capabilityMask(["NET_RAW", "CHOWN"]), "0000000000002001");
  assert.equal(capabilityMask([]), "0000000000000000");
});

test("linux/capabilities: sets come from the task, else the flags, and the bounding set defaults to the effective one", () => {
  assert.equal(containerCapabilities(executor(), {}), undefined);
  assert.deepEqual(containerCapabilities(executor(), { effective: ["NET_RAW"] }), {
    bounding: ["NET_RAW"],
    effective: ["NET_RAW"],
  });
  assert.deepEqual(
    containerCapabilities(executor({ effective_capabilities: { capabilities: ["CHOWN"] } }), {
      effective: ["NET_RAW"],
      bounding: ["CHOWN", "NET_RAW"],
    }),
    { bounding: ["CHOWN", "NET_RAW"], effective: ["CHOWN"] },
  );
  assert.deepEqual(
    containerCapabilities(executor({ capability_info: { capabilities: ["KILL"] } }), {}),
    { bounding: ["KILL"], effective: ["KILL"] },
  );
  assert.deepEqual(containerCapabilities(executor(), { bounding: ["KILL"] }), {
    bounding: ["KILL"],
    effective: undefined,
  });
});

test("linux/capabilities: requests beyond what the agent allows are refused with Mesos' messages", () => {
  const flags = { bounding: ["CHOWN", "NET_RAW"] };
  assert.throws(
    () =>
      containerCapabilities(
        executor({ bounding_capabilities: { capabilities: ["SYS_ADMIN", "CHOWN"] } }),
        flags,
      ),
    {
      message:
        "Bounding capabilities '{ CHOWN, SYS_ADMIN }', but only '{ CHOWN, NET_RAW }' are allowed",
    },
  );
  assert.throws(
    () =>
      containerCapabilities(
        executor({ effective_capabilities: { capabilities: ["KILL"] } }),
        flags,
      ),
    { message: "Requested capabilities '{ KILL }', but only '{ CHOWN, NET_RAW }' are allowed" },
  );
  assert.throws(
    () =>
      containerCapabilities(
        executor({
          capability_info: { capabilities: ["KILL"] },
          effective_capabilities: { capabilities: ["KILL"] },
        }),
        {},
      ),
    { message: "Only one of 'capability_info' or 'effective_capabilities' is allowed" },
  );
  const bad = checkCapabilityFlags({ capabilities: ["SYS_ADMIN"] }, { capabilities: ["KILL"] });
  assert.deepEqual(bad, {
    ok: false,
    error: "Allowed capabilities are not a subset of the bounding capabilites",
  });
  const unknown = checkCapabilityFlags({ capabilities: ["FLY"] }, undefined);
  assert.equal(unknown.ok, false);
});

test("launch shim: setpriv gets no_new_privs and the capability sets, in one call with the user switch", () => {
  const p = mergePreparations([
    { noNewPrivs: true },
    { capabilities: { bounding: ["CHOWN", "NET_RAW"], effective: ["NET_RAW"] } },
  ]);
  assert.deepEqual(privilegeArguments(p), [
    "--no-new-privs",
    "--inh-caps=-all,+chown,+net_raw",
    "--ambient-caps=-all,+net_raw",
    "--bounding-set=-all,+chown,+net_raw",
  ]);
  const cmd = shimCommand({ file: "/bin/exec", args: ["/bin/exec", "x"] }, p, {
    uid: 65534,
    gid: 65534,
  });
  const setpriv = cmd.args.indexOf("setpriv");
  assert.ok(setpriv > 0, cmd.args.join(" "));
  assert.equal(cmd.args.lastIndexOf("setpriv"), setpriv, "a single setpriv");
  assert.deepEqual(cmd.args.slice(setpriv, setpriv + 5), [
    "setpriv",
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
    "--no-new-privs",
  ]);
  assert.deepEqual(cmd.args.slice(-2), ["/bin/exec", "x"]);
});

test("launch shim: a new IPC namespace is unshared with the mount namespace; a parent's is entered first", () => {
  const own = shimCommand(
    { file: "/bin/exec", args: ["/bin/exec"] },
    mergePreparations([{ ipcNamespace: "new", shm: { bind: "/run/x/shm" } }]),
    undefined,
  );
  assert.ok(own.args.includes("--ipc"), own.args.join(" "));
  assert.ok(own.args.includes("--mount"));
  assert.ok(own.args.some((a) => a.includes("mount --bind '/run/x/shm' '/dev/shm'")));
  const joined = shimCommand(
    { file: "/bin/exec", args: ["/bin/exec"] },
    mergePreparations([{ ipcNamespace: { enter: "/proc/42/ns/ipc" } }]),
    undefined,
  );
  const at = joined.args.indexOf("nsenter");
  assert.deepEqual(joined.args.slice(at, at + 3), ["nsenter", "--ipc=/proc/42/ns/ipc", "--"]);
  assert.equal(joined.args.includes("unshare"), false);
});

test("namespaces/ipc: nested ids, shm paths and the refusals that need no mount", async () => {
  assert.equal(parentContainerId("a"), undefined);
  assert.equal(parentContainerId("a/mesos/b"), "a");
  assert.equal(parentContainerId("a/mesos/b/mesos/c"), "a/mesos/b");
  assert.equal(containerShmPath("/run/m", "a/mesos/b"), "/run/m/containers/a/containers/b/shm");
  const calls: string[][] = [];
  const isolator = new NamespacesIpcIsolator({
    runtimeDir: "/nonexistent-runtime-dir",
    disallowSharingAgentIpcNamespace: true,
    run: async (file, args) => {
      calls.push([file, ...args]);
      return { code: 0, output: "" };
    },
  });
  const config = (id: string, linux?: object): ContainerConfig => ({
    containerId: id,
    directory: "/tmp",
    commandExecutor: true,
    resources: {},
    ...executor(linux),
  });
  assert.deepEqual(await isolator.prepare(config("top")), { ipcNamespace: "new" });
  await assert.rejects(isolator.prepare(config("t2", { ipc_mode: "SHARE_PARENT" })), {
    message: "Sharing agent IPC namespace with top-level container is not allowed",
  });
  await assert.rejects(isolator.prepare(config("t3", { shm_size: 10 })), {
    message: "Only support specifying the size of /dev/shm when the IPC mode is `PRIVATE`",
  });
  await isolator.isolate("top", 4242);
  assert.deepEqual(await isolator.prepare(config("top/mesos/child")), {
    ipcNamespace: { enter: "/proc/4242/ns/ipc" },
  });
  assert.deepEqual(calls, [], "nothing was mounted");
});

test("linux/capabilities: what the agent does not hold is refused as effective and left out of the bounding set", async () => {
  const isolator = new LinuxCapabilitiesIsolator({}, ["CHOWN", "NET_RAW"]);
  const config = (linux: object): ContainerConfig => ({
    containerId: "c",
    directory: "/tmp",
    commandExecutor: true,
    resources: {},
    ...executor(linux),
  });
  await assert.rejects(
    isolator.prepare(config({ effective_capabilities: { capabilities: ["SYS_RESOURCE"] } })),
    { message: "The agent does not hold the capabilities '{ SYS_RESOURCE }' it is asked to grant" },
  );
  assert.deepEqual(
    await isolator.prepare(
      config({
        effective_capabilities: { capabilities: ["NET_RAW"] },
        bounding_capabilities: { capabilities: ["NET_RAW", "SYS_RESOURCE", "CHOWN"] },
      }),
    ),
    { capabilities: { bounding: ["CHOWN", "NET_RAW"], effective: ["NET_RAW"] } },
  );
  assert.deepEqual(capabilitiesOfMask("0000000000002001"), ["CHOWN", "NET_RAW"]);
});

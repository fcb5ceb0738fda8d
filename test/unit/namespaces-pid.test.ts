/**
 * `namespaces/pid` on its own: which pid namespace a nested container that
 * shares its parent's is put in. The parent's namespace is found through
 * its first process' pid; a pid that now leads to the agent's namespace
 * (the process gone and the pid another's) must not put the container in
 * the agent's namespace.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ContainerConfig } from "../../src/agent/containerizer/isolators/isolator.js";
import { NamespacesPidIsolator } from "../../src/agent/containerizer/isolators/namespaces-pid.js";
import type { ExecutorInfo } from "../../src/common/protocol/generated/mesos-v1.js";

function config(containerId: string, share: boolean): ContainerConfig {
  return {
    containerId,
    directory: "/nonexistent",
    executor: {
      container: { type: "MESOS", linux_info: { share_pid_namespace: share } },
    } as ExecutorInfo,
    commandExecutor: false,
    resources: {} as ContainerConfig["resources"],
  };
}

test("a nested container sharing a parent whose pid leads to the agent's namespace is refused", async () => {
  const isolator = new NamespacesPidIsolator();
  assert.deepEqual(await isolator.prepare(config("top", false)), {
    pidNamespace: true,
    mountNamespace: true,
  });
  // The parent's first process is gone and its pid is a process of the agent's namespace.
  await isolator.isolate("top", process.pid);
  await assert.rejects(
    isolator.prepare(config("top/mesos/child", true)),
    /The pid namespace of parent container 'top' is gone/,
  );
});

test("a parent that shares the agent's namespace has nested containers share it too", async () => {
  const isolator = new NamespacesPidIsolator();
  assert.equal(await isolator.prepare(config("top", true)), undefined);
  await isolator.isolate("top", process.pid);
  const child = await isolator.prepare(config("top/mesos/child", true));
  assert.deepEqual(child, { mountNamespace: true, mountProc: true });
  await isolator.isolate("top/mesos/child", process.pid);
  // And their own nested containers.
  assert.deepEqual(await isolator.prepare(config("top/mesos/child/mesos/grandchild", true)), {
    mountNamespace: true,
    mountProc: true,
  });
});

test("a recovered parent in the agent's namespace shares it", async () => {
  const isolator = new NamespacesPidIsolator();
  await isolator.recover(new Map([["top", process.pid]]));
  assert.deepEqual(await isolator.prepare(config("top/mesos/child", true)), {
    mountNamespace: true,
    mountProc: true,
  });
});

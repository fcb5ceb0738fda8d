import assert from "node:assert/strict";
import { test } from "node:test";
import type {
  Containerizer,
  ContainerLaunch,
  ContainerTermination,
} from "../../src/agent/agent-ports.js";
import {
  buildDockerContainerizer,
  ComposingContainerizer,
} from "../../src/agent/containerizer/docker/composing.js";
import type { DockerContainerizer } from "../../src/agent/containerizer/docker/docker-containerizer.js";
import type { AgentFlags } from "../../src/agent/flags.js";
import { silentLogger } from "../../src/common/observability/logger.js";

function launchOf(id: string, type?: "DOCKER" | "MESOS"): ContainerLaunch {
  return {
    containerId: id,
    agentId: "a",
    frameworkId: "f",
    executorId: id,
    directory: `/tmp/${id}`,
    executor: {
      executor_id: { value: id },
      ...(type === undefined ? {} : { container: { type, docker: { image: "busybox" } } }),
    },
    commandExecutor: true,
    environment: {},
    user: undefined,
    checkpoint: false,
  };
}

class Recorder implements Containerizer {
  readonly launched: string[] = [];
  readonly destroyed: string[] = [];
  launch(l: ContainerLaunch): void {
    this.launched.push(l.containerId);
  }
  destroy(id: string): void {
    this.destroyed.push(id);
  }
}

function events() {
  const seen: { id: string; launched?: string; terminated?: ContainerTermination }[] = [];
  return {
    seen,
    containerLaunched(id: string, r: { pid: number } | { error: string }) {
      seen.push({ id, launched: "error" in r ? r.error : String(r.pid) });
    },
    containerTerminated(id: string, t: ContainerTermination) {
      seen.push({ id, terminated: t });
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

test("containerizers: DOCKER executors go to docker, the others to mesos; destroys follow", () => {
  const mesos = new Recorder();
  const docker = new Recorder();
  const dockerIds = new Set<string>();
  const stub = {
    attach: () => {},
    launch: (l: ContainerLaunch) => {
      dockerIds.add(l.containerId);
      docker.launch(l);
    },
    has: (id: string) => dockerIds.has(id),
    destroy: (id: string) => docker.destroy(id),
  } as unknown as DockerContainerizer;
  const c = new ComposingContainerizer(mesos, stub, "mesos,docker", silentLogger);
  c.launch(launchOf("d1", "DOCKER"));
  c.launch(launchOf("m1", "MESOS"));
  c.launch(launchOf("m2"));
  assert.deepEqual(docker.launched, ["d1"]);
  assert.deepEqual(mesos.launched, ["m1", "m2"]);
  c.destroy("d1");
  c.destroy("m1");
  assert.deepEqual(docker.destroyed, ["d1"]);
  assert.deepEqual(mesos.destroyed, ["m1"]);
});

test("containerizers: a launch no enabled containerizer takes fails with Mesos' message", async () => {
  const mesos = new Recorder();
  const onlyMesos = new ComposingContainerizer(mesos, undefined, "mesos", silentLogger);
  const e1 = events();
  onlyMesos.attach(e1);
  onlyMesos.launch(launchOf("d1", "DOCKER"));
  assert.deepEqual(e1.seen, [], "answered later, not inside launch()");
  await tick();
  assert.deepEqual(e1.seen, [
    {
      id: "d1",
      launched:
        "None of the enabled containerizers (mesos) could create a container for the provided TaskInfo/ExecutorInfo message",
    },
    { id: "d1", terminated: {} },
  ]);
  const onlyDocker = new ComposingContainerizer(mesos, undefined, "docker", silentLogger);
  const e2 = events();
  onlyDocker.attach(e2);
  onlyDocker.launch(launchOf("m1"));
  await tick();
  assert.match(e2.seen[0]?.launched ?? "", /None of the enabled containerizers \(docker\)/);
  assert.deepEqual(mesos.launched, []);
});

test("containerizers: unknown or repeated names stop the agent; without docker there is no Docker containerizer", async () => {
  const deps = { logger: silentLogger, bootId: "b" };
  const flags = (containerizers: string, more: Partial<AgentFlags> = {}) =>
    ({ containerizers, ...more }) as unknown as AgentFlags;
  await assert.rejects(buildDockerContainerizer(flags("mesos,rkt"), deps), {
    message: "Unknown or unsupported containerizer: rkt",
  });
  await assert.rejects(buildDockerContainerizer(flags("mesos,mesos"), deps), {
    message: "Duplicate entries found in --containerizers 'mesos,mesos'",
  });
  await assert.rejects(
    buildDockerContainerizer(flags("docker", { docker_mesos_image: "m" }), deps),
    {
      message: "--docker_mesos_image is not supported: run the agent on the host",
    },
  );
  assert.equal(await buildDockerContainerizer(flags("mesos"), deps), undefined);
});

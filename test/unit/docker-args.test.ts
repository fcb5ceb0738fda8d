import assert from "node:assert/strict";
import { test } from "node:test";
import {
  containerIdOfName,
  type DockerRunInput,
  dockerContainerName,
  dockerRunOptions,
  globalArgs,
  parseInspect,
  parsePs,
  rmArgs,
  runArgs,
  stopArgs,
} from "../../src/agent/containerizer/docker/docker-args.js";
import { parseDockerExecutorFlags } from "../../src/agent/containerizer/docker/docker-executor.js";
import type { Resource } from "../../src/common/protocol/generated/mesos-v1.js";

const ID = "0e1b8cf4-5ad4-4a0b-9a3c-6f1d2a7b9c01";

function resources(cpus: number, mem: number, ports?: [number, number]): Resource[] {
  const out: Resource[] = [
    { name: "cpus", type: "SCALAR", scalar: { value: cpus }, allocation_info: { role: "web" } },
    { name: "mem", type: "SCALAR", scalar: { value: mem } },
  ];
  if (ports !== undefined) {
    out.push({
      name: "ports",
      type: "RANGES",
      ranges: { range: [{ begin: ports[0], end: ports[1] }] },
    });
  }
  return out;
}

function input(over: Partial<DockerRunInput> = {}): DockerRunInput {
  return {
    container: { type: "DOCKER", docker: { image: "busybox" } },
    command: { value: "echo hi" },
    name: dockerContainerName(ID),
    sandboxDirectory: "/var/lib/mesos/slaves/s/frameworks/f/executors/e/runs/c",
    mappedDirectory: "/mnt/mesos/sandbox",
    resources: resources(0.5, 64),
    enableCfsQuota: false,
    ...over,
  };
}

function argv(over: Partial<DockerRunInput> = {}): string[] {
  const options = dockerRunOptions(input(over));
  assert.ok(options.ok, options.ok ? "" : options.error);
  return runArgs(options.value);
}

function errorOf(over: Partial<DockerRunInput>): string {
  const options = dockerRunOptions(input(over));
  assert.ok(!options.ok);
  return options.error;
}

test("docker run: a shell command in host networking, with limits, sandbox volume and env", () => {
  assert.deepEqual(argv(), [
    "run",
    "--cpu-shares",
    "512",
    "--memory",
    String(64 * 1024 * 1024),
    "-e",
    "MESOS_ALLOCATION_ROLE=web",
    "-e",
    `MESOS_CONTAINER_NAME=mesos-${ID}`,
    "-e",
    "MESOS_SANDBOX=/mnt/mesos/sandbox",
    "-v",
    "/var/lib/mesos/slaves/s/frameworks/f/executors/e/runs/c:/mnt/mesos/sandbox",
    "--net",
    "host",
    "--entrypoint",
    "/bin/sh",
    "--name",
    `mesos-${ID}`,
    "busybox",
    "-c",
    "echo hi",
  ]);
});

test("docker run: minimum cpu shares and memory, CFS quota when enabled", () => {
  const a = argv({ resources: resources(0.001, 4), enableCfsQuota: true });
  assert.deepEqual(a.slice(0, 7), [
    "run",
    "--cpu-shares",
    "2",
    "--cpu-quota",
    "1000",
    "--memory",
    String(32 * 1024 * 1024),
  ]);
  const limited = argv({ limits: { cpus: { value: 2 }, mem: { value: 256 } } });
  assert.deepEqual(limited.slice(0, 9), [
    "run",
    "--cpu-shares",
    "512",
    "--cpu-quota",
    "200000",
    "--memory-reservation",
    String(64 * 1024 * 1024),
    "--memory",
    String(256 * 1024 * 1024),
  ]);
});

test("docker run: environment from the command, overridden by the given env, sorted", () => {
  const a = argv({
    command: {
      value: "env",
      environment: {
        variables: [
          { name: "B", value: "cmd" },
          { name: "A", value: "cmd" },
        ],
      },
    },
    env: { B: "task" },
  });
  const env = a.filter((_, i) => a[i - 1] === "-e");
  assert.deepEqual(env.slice(0, 2), ["A=cmd", "B=task"]);
});

test("docker run: bridge network with port mappings inside the port resources, privileged, parameters", () => {
  const a = argv({
    container: {
      type: "DOCKER",
      docker: {
        image: "nginx:1.25",
        network: "BRIDGE",
        privileged: true,
        port_mappings: [
          { host_port: 31000, container_port: 80 },
          { host_port: 31001, container_port: 53, protocol: "UDP" },
        ],
        parameters: [
          { key: "label", value: "a=b" },
          { key: "user", value: "nobody" },
        ],
      },
    },
    resources: resources(1, 128, [31000, 31010]),
  });
  assert.equal(a[1], "--privileged");
  const at = (flag: string) => a.filter((_, i) => a[i - 1] === flag);
  assert.deepEqual(at("--net"), ["bridge"]);
  assert.deepEqual(at("-p"), ["31000:80", "31001:53/udp"]);
  const image = a.indexOf("nginx:1.25");
  assert.deepEqual(a.slice(image - 4, image), [
    "--name",
    `mesos-${ID}`,
    "--label=a=b",
    "--user=nobody",
  ]);
});

test("docker run: network modes NONE and USER, hostname, and the checks on them", () => {
  const none = argv({ container: { type: "DOCKER", docker: { image: "x", network: "NONE" } } });
  assert.equal(none[none.indexOf("--net") + 1], "none");
  const user = argv({
    container: {
      type: "DOCKER",
      hostname: "web-1",
      docker: { image: "x", network: "USER" },
      network_infos: [{ name: "overlay-1" }],
    },
  });
  assert.equal(user[user.indexOf("--net") + 1], "overlay-1");
  assert.equal(user[user.indexOf("--hostname") + 1], "web-1");
  assert.match(
    errorOf({ container: { type: "DOCKER", docker: { image: "x", network: "USER" } } }),
    /No network info found/,
  );
  assert.match(
    errorOf({ container: { type: "DOCKER", hostname: "h", docker: { image: "x" } } }),
    /Unable to set hostname with host network mode/,
  );
  assert.match(
    errorOf({
      container: {
        type: "DOCKER",
        docker: { image: "x", port_mappings: [{ host_port: 1, container_port: 2 }] },
      },
    }),
    /only supported for bridge and user-defined networks/,
  );
  assert.match(
    errorOf({
      container: {
        type: "DOCKER",
        docker: {
          image: "x",
          network: "BRIDGE",
          port_mappings: [{ host_port: 40000, container_port: 2 }],
        },
      },
      resources: resources(1, 32, [31000, 31010]),
    }),
    /Port \[40000\] not included in resources/,
  );
  const net = argv({
    container: {
      type: "DOCKER",
      docker: { image: "x", parameters: [{ key: "net", value: "mynet" }] },
    },
  });
  assert.equal(net[net.indexOf("--net") + 1], "mynet");
});

test("docker run: volumes (absolute, sandbox-relative, read-only) before the sandbox mapping", () => {
  const a = argv({
    container: {
      type: "DOCKER",
      docker: { image: "x" },
      volumes: [
        { host_path: "/etc/ssl", container_path: "/etc/ssl", mode: "RO" },
        { host_path: "data", container_path: "/data", mode: "RW" },
        { host_path: "/srv", container_path: "srv", mode: "RW" },
      ],
    },
  });
  assert.deepEqual(
    a.filter((_, i) => a[i - 1] === "-v"),
    [
      "/etc/ssl:/etc/ssl:ro",
      "/var/lib/mesos/slaves/s/frameworks/f/executors/e/runs/c/data:/data:rw",
      "/srv:/mnt/mesos/sandbox/srv:rw",
      "/var/lib/mesos/slaves/s/frameworks/f/executors/e/runs/c:/mnt/mesos/sandbox",
    ],
  );
  assert.match(
    errorOf({
      container: {
        type: "DOCKER",
        docker: { image: "x" },
        volumes: [{ host_path: "a", container_path: "b", mode: "RW" }],
      },
    }),
    /are relative/,
  );
});

test("docker run: shell false keeps the image's entrypoint and passes value and arguments", () => {
  const a = argv({ command: { shell: false, value: "/app/server", arguments: ["--port", "80"] } });
  assert.ok(!a.includes("--entrypoint"));
  assert.deepEqual(a.slice(a.indexOf("busybox")), ["busybox", "/app/server", "--port", "80"]);
  const bare = argv({ command: { shell: false } });
  assert.equal(bare.at(-1), "busybox");
  assert.match(errorOf({ command: {} }), /Shell specified but no command value provided/);
});

test("docker names: mesos-<id>, parsed back from current and older forms", () => {
  assert.equal(dockerContainerName(ID), `mesos-${ID}`);
  assert.equal(containerIdOfName(`mesos-${ID}`), ID);
  assert.equal(containerIdOfName(`/mesos-${ID}`), ID);
  assert.equal(containerIdOfName(`mesos-agent1.${ID}`), ID);
  assert.equal(containerIdOfName(`mesos-agent1.${ID}.executor`), ID);
  assert.equal(containerIdOfName("mesos-not-a-uuid"), undefined);
  assert.equal(containerIdOfName(`web-${ID}`), undefined);
});

test("docker subcommands: global socket, stop in whole seconds, rm -f -v", () => {
  assert.deepEqual(globalArgs("/var/run/docker.sock"), ["-H", "unix:///var/run/docker.sock"]);
  assert.deepEqual(globalArgs("tcp://1.2.3.4:2375"), ["-H", "tcp://1.2.3.4:2375"]);
  assert.deepEqual(stopArgs("mesos-x", 2500), ["stop", "-t", "2", "mesos-x"]);
  assert.deepEqual(stopArgs("mesos-x", 0), ["stop", "-t", "0", "mesos-x"]);
  assert.deepEqual(rmArgs("mesos-x", true), ["rm", "-f", "-v", "mesos-x"]);
});

test("docker inspect and ps output are parsed; garbage is an error", () => {
  const running = parseInspect(
    JSON.stringify([
      {
        Id: "abc",
        Name: "/mesos-x",
        State: { Running: true, Pid: 42, ExitCode: 0 },
        NetworkSettings: { IPAddress: "172.17.0.2" },
      },
    ]),
  );
  assert.deepEqual(running, {
    ok: true,
    value: {
      id: "abc",
      name: "mesos-x",
      pid: 42,
      running: true,
      started: true,
      exitCode: 0,
      ipAddress: "172.17.0.2",
    },
  });
  const exited = parseInspect(
    JSON.stringify([{ Id: "abc", Name: "/m", State: { Running: false, Pid: 0, ExitCode: 3 } }]),
  );
  assert.ok(exited.ok && exited.value.pid === undefined && exited.value.exitCode === 3);
  assert.equal(parseInspect("nope").ok, false);
  assert.equal(parseInspect("[]").ok, false);
  assert.deepEqual(parsePs("abc mesos-1\n\ndef other\n"), [
    { id: "abc", name: "mesos-1" },
    { id: "def", name: "other" },
  ]);
});

test("docker executor flags: required ones, durations, task environment", () => {
  const ok = parseDockerExecutorFlags([
    "--container=mesos-x",
    "--docker=/usr/bin/docker",
    "--sandbox_directory=/s",
    "--mapped_directory=/mnt/mesos/sandbox",
    "--stop_timeout=3secs",
    "--cgroups_enable_cfs",
    '--task_environment={"A":"1"}',
  ]);
  assert.ok(!("error" in ok));
  assert.equal(ok.flags.stopTimeoutMs, 3000);
  assert.equal(ok.flags.cgroupsEnableCfs, true);
  assert.deepEqual(ok.flags.taskEnvironment, { A: "1" });
  assert.equal(ok.socket, "/var/run/docker.sock");
  const missing = parseDockerExecutorFlags(["--container=x"]);
  assert.deepEqual(missing, { error: "Missing required option --docker" });
  const bad = parseDockerExecutorFlags([
    "--container=x",
    "--docker=d",
    "--sandbox_directory=/s",
    "--mapped_directory=/m",
    '--task_environment={"A":1}',
  ]);
  assert.deepEqual(bad, { error: "Value of key 'A' in --task_environment is not a string" });
});

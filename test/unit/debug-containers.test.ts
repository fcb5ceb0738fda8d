/**
 * How the agent starts a DEBUG container (a check's session) in a task's
 * nested container: the parent's environment below the command's own
 * variables, its namespaces entered, its image chrooted into, its working
 * directory, as the given user.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  debugCommand,
  debugEnvironment,
  namespacesToEnter,
  parseParentLaunch,
} from "../../src/agent/containerizer/debug-containers.js";
import {
  ENVIRONMENT_FD,
  environmentScript,
  ROOT_STEP_ENVIRONMENT,
} from "../../src/agent/containerizer/shim-environment.js";
import { tempDir } from "../harness/processes.js";

const inImage = {
  env: { PATH: "/bin", FROM_IMAGE: "yes", MESOS_SANDBOX: "/mnt/mesos/sandbox", TASK_VAR: "task" },
  workDir: "/work",
  rootfs: "/var/lib/rootfs",
};

test("debug containers: the command's plain variables override the parent's; its secrets and MESOS_SANDBOX do not", () => {
  const env = debugEnvironment(inImage, {
    value: "true",
    environment: {
      variables: [
        { name: "TASK_VAR", value: "check" },
        { name: "MESOS_SANDBOX", value: "/elsewhere" },
        { name: "SECRET", type: "SECRET", secret: { type: "VALUE", value: { data: "x" } } },
      ],
    },
  } as never);
  assert.deepEqual(env, {
    PATH: "/bin",
    FROM_IMAGE: "yes",
    MESOS_SANDBOX: "/mnt/mesos/sandbox",
    TASK_VAR: "check",
  });
});

test("debug containers: in an image the command runs chrooted (as the user), from the parent's working directory (walked by the host's shell as root, then nsenter changes the root and the user), with the inherited PATH inside and the host's outside, after joining the cgroups, opening stdin and entering the namespaces", () => {
  const launch = debugCommand({
    command: { file: "/bin/sh", args: ["sh", "-c", "test -f /x"] },
    parent: inImage,
    env: { ...inImage.env },
    namespaces: ["--mount=/proc/7/ns/mnt", "--pid=/proc/7/ns/pid_for_children"],
    cgroupProcs: ["/sys/fs/cgroup/freezer/mesos/e/mesos/t/mesos/c/cgroup.procs"],
    user: { uid: 1000, gid: 1000 },
    stdin: "/sandbox/stdin.fifo",
  });
  assert.equal(launch.file, "/bin/sh");
  const [, , script, , ...tail] = launch.args;
  assert.match(
    script ?? "",
    /^.*echo \$\$ > '\/sys\/fs\/cgroup\/freezer\/mesos\/e\/mesos\/t\/mesos\/c\/cgroup.procs'/,
  );
  assert.match(script ?? "", /exec 0<'\/sandbox\/stdin.fifo'/);
  assert.deepEqual(tail.slice(0, 4), [
    "nsenter",
    "--mount=/proc/7/ns/mnt",
    "--pid=/proc/7/ns/pid_for_children",
    "--",
  ]);
  // Root's step is the host's shell, walking from the image's root on the host.
  assert.deepEqual(tail.slice(4, 6), ["/bin/sh", "-c"]);
  assert.match(tail[6] ?? "", /cd -P -- "\$d" \|\|/);
  assert.deepEqual(tail.slice(7, 15), [
    "mesos-debug-container",
    "/var/lib/rootfs",
    "/work",
    "nsenter",
    "--root=/var/lib/rootfs",
    "--setuid=1000",
    "--setgid=1000",
    "--",
  ]);
  // The image's shell, as the user: the rest of the way, then the environment
  // (read from its descriptor) and the inherited PATH.
  assert.deepEqual(tail.slice(15, 17), ["/bin/sh", "-c"]);
  assert.match(
    tail[17] ?? "",
    new RegExp(
      `cd -P -- "\\$r" \\|\\|.*<&${ENVIRONMENT_FD};.*; export PATH='/bin'; exec "\\$@"$`,
      "s",
    ),
  );
  assert.deepEqual(tail.slice(-3), ["/bin/sh", "-c", "test -f /x"]);
  // Handed over on the descriptor; the root steps are started with a fixed environment.
  assert.equal(launch.environmentFd, ENVIRONMENT_FD);
  assert.deepEqual(launch.env, inImage.env);
});

test("debug containers: without an image the command runs on the parent's filesystem, from its working directory (entered by root as far as only root can change the way, the rest by the user) through setpriv, nothing entered when the parent shares the agent's namespaces", async () => {
  const launch = debugCommand({
    command: { file: "/bin/true", args: ["true"] },
    parent: { env: { PATH: "/usr/bin:/bin" }, workDir: "/sandbox/containers/t" },
    env: { PATH: "/usr/bin:/bin" },
    namespaces: await namespacesToEnter(process.pid),
    cgroupProcs: [],
    user: { uid: 1000, gid: 1000 },
  });
  const tail = launch.args.slice(4);
  assert.equal(launch.args[2], 'exec "$@"');
  // The working directory first (still root, as Mesos' launcher), then the user.
  assert.deepEqual(tail.slice(0, 2), ["/bin/sh", "-c"]);
  assert.match(tail[2] ?? "", /cd -- "\$d" \|\|/);
  assert.deepEqual(tail.slice(3, 10), [
    "mesos-debug-container",
    "/sandbox/containers/t",
    "setpriv",
    "--reuid=1000",
    "--regid=1000",
    "--clear-groups",
    "--",
  ]);
  assert.deepEqual(tail.slice(10, 12), ["/bin/sh", "-c"]);
  assert.match(tail[12] ?? "", /cd -P -- "\$r" \|\|.*<&4.*exec "\$@"$/s);
  assert.equal(tail.at(-1), "/bin/true");
  assert.equal(launch.env.PATH, "/usr/bin:/bin");
  assert.equal(launch.environmentFd, ENVIRONMENT_FD);
});

test("a checkpointed parent launch is read back only when it has the shape written", () => {
  assert.deepEqual(parseParentLaunch(JSON.stringify(inImage)), inImage);
  assert.deepEqual(parseParentLaunch(JSON.stringify({ env: {}, workDir: "/s", user: "u" })), {
    env: {},
    workDir: "/s",
    user: "u",
  });
  for (const bad of [
    "",
    '{"env":{}',
    "null",
    "[]",
    JSON.stringify({ workDir: "/s" }),
    JSON.stringify({ env: { A: 1 }, workDir: "/s" }),
    JSON.stringify({ env: {}, workDir: "relative" }),
    JSON.stringify({ env: {}, workDir: "/s", rootfs: 5 }),
    JSON.stringify({ env: {}, workDir: "/s", user: ["root"] }),
  ]) {
    assert.equal(parseParentLaunch(bad), undefined, bad);
  }
});

test("debug containers: as a user on the host, root enters only what root alone can change; a link the user put in its sandbox is followed as the user", {
  skip: process.getuid?.() === 0 ? false : "needs root",
}, () => {
  const nobody = Number(execFileSync("id", ["-u", "nobody"], { encoding: "utf8" }).trim());
  // A private --work_dir (root's, 0700) holding the user's sandbox and a
  // directory the user may read but not reach.
  const workDir = tempDir("debug-workdir-");
  chmodSync(workDir, 0o700);
  const hidden = join(workDir, "hidden", "open");
  mkdirSync(hidden, { recursive: true });
  chmodSync(join(workDir, "hidden"), 0o700);
  chmodSync(hidden, 0o755);
  writeFileSync(join(hidden, "secret"), "root's\n", { mode: 0o644 });
  const sandbox = join(workDir, "sandbox");
  mkdirSync(join(sandbox, "task"), { recursive: true });
  writeFileSync(join(sandbox, "task", "secret"), "the task's\n", { mode: 0o644 });
  for (const dir of [sandbox, join(sandbox, "task")]) chownSync(dir, nobody, nobody);
  // What the task (the user) may do in its sandbox: a link to the hidden directory.
  symlinkSync(hidden, join(sandbox, "linked"));
  const run = (dir: string) => {
    const launch = debugCommand({
      command: { file: "/bin/sh", args: ["sh", "-c", "pwd -P; cat secret"] },
      parent: { env: {}, workDir: dir },
      env: { PATH: "/usr/bin:/bin" },
      namespaces: [],
      cgroupProcs: [],
      user: { uid: nobody, gid: nobody },
    });
    // As the launcher helper starts it: a fixed environment, the container's on its descriptor.
    const fd = launch.environmentFd;
    return spawnSync(
      "/bin/sh",
      ["-c", `exec "$@" ${fd}<&0`, "sh", launch.file, ...launch.args.slice(1)],
      {
        env: { ...ROOT_STEP_ENVIRONMENT },
        input: environmentScript(launch.env),
        encoding: "utf8",
      },
    );
  };
  // Its own working directory, below a --work_dir the user cannot traverse.
  const own = run(join(sandbox, "task"));
  assert.equal(own.status, 0, own.stderr);
  assert.equal(own.stdout, `${join(sandbox, "task")}\nthe task's\n`);
  // Through its link: entered as the user, who cannot reach the hidden directory.
  const linked = run(join(sandbox, "linked"));
  assert.notEqual(linked.status, 0);
  assert.doesNotMatch(linked.stdout, /root's/);
  assert.match(linked.stderr, /mesos-containerizer: cannot enter .*\/sandbox\/linked\n$/);
});

const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((p) => existsSync(p));

test("debug containers: in an image, root walks to the parent's working directory before the user switch (a directory only root can pass on the way), never through the image's links; the image's shell runs as the user with the container's environment", {
  skip:
    process.getuid?.() !== 0
      ? "needs root"
      : busybox === undefined
        ? "needs a static busybox"
        : false,
}, () => {
  const nobody = Number(execFileSync("id", ["-u", "nobody"], { encoding: "utf8" }).trim());
  const nogroup = Number(execFileSync("id", ["-g", "nobody"], { encoding: "utf8" }).trim());
  // An image's root filesystem: a shell, a directory only root may pass
  // (0700) holding the user's own one, and a link of the image's to it.
  const rootfs = tempDir("debug-rootfs-");
  chmodSync(rootfs, 0o755);
  mkdirSync(join(rootfs, "bin"));
  copyFileSync(busybox as string, join(rootfs, "bin", "busybox"));
  chmodSync(join(rootfs, "bin", "busybox"), 0o755);
  symlinkSync("busybox", join(rootfs, "bin", "sh"));
  const home = join(rootfs, "priv", "home");
  mkdirSync(home, { recursive: true });
  chmodSync(join(rootfs, "priv"), 0o700);
  chownSync(home, nobody, nogroup);
  writeFileSync(join(home, "mine"), "the user's\n", { mode: 0o644 });
  symlinkSync("/priv/home", join(rootfs, "linked"));
  const run = (workDir: string) => {
    const env = { PATH: "/bin", FROM_IMAGE: "yes" };
    const launch = debugCommand({
      command: {
        file: "/bin/sh",
        args: [
          "sh",
          "-c",
          'pwd; busybox cat mine; busybox id -u; busybox id -G; echo "$FROM_IMAGE $PATH"',
        ],
      },
      parent: { env, workDir, rootfs },
      env,
      namespaces: [],
      cgroupProcs: [],
      user: { uid: nobody, gid: nogroup },
    });
    const fd = launch.environmentFd;
    return spawnSync(
      "/bin/sh",
      ["-c", `exec "$@" ${fd}<&0`, "sh", launch.file, ...launch.args.slice(1)],
      {
        env: { ...ROOT_STEP_ENVIRONMENT },
        input: environmentScript(launch.env),
        encoding: "utf8",
      },
    );
  };
  // The user's own directory, which the user could not reach by its path.
  const own = run("/priv/home");
  assert.equal(own.status, 0, own.stderr);
  assert.equal(own.stdout, `/priv/home\nthe user's\n${nobody}\n${nogroup}\nyes /bin\n`);
  // The image's link on the way is not followed by root: the user, who
  // follows it, cannot pass /priv.
  const linked = run("/linked");
  assert.equal(linked.status, 125);
  assert.equal(linked.stdout, "");
  assert.match(linked.stderr, /mesos-containerizer: cannot enter \/linked\n$/);
});

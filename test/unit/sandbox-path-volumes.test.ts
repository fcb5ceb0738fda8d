/**
 * SANDBOX_PATH volumes: Mesos' checks and texts (sandboxPathOf), the
 * symlinks of `volume/sandbox_path` without filesystem/linux, the bind
 * mounts filesystem/linux prepares for PARENT volumes, which of the two
 * `--isolation` loads, and the PARENT volumes the default executor adds for
 * a task's persistent volumes.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chownSync,
  existsSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { imageVolumeMounts } from "../../src/agent/containerizer/images/image-launch.js";
import { FilesystemLinuxIsolator } from "../../src/agent/containerizer/isolators/filesystem-linux.js";
import { createIsolators } from "../../src/agent/containerizer/isolators/index.js";
import type {
  ContainerConfig,
  LaunchPreparation,
} from "../../src/agent/containerizer/isolators/isolator.js";
import {
  ensureSandboxPathSource,
  sandboxPathOf,
  VolumeSandboxPathIsolator,
} from "../../src/agent/containerizer/isolators/volume-sandbox-path.js";
import { mergePreparations, shimCommand } from "../../src/agent/containerizer/launch-shim.js";
import {
  ENVIRONMENT_FD,
  environmentScript,
} from "../../src/agent/containerizer/shim-environment.js";
import type { Logger } from "../../src/common/observability/logger.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import type { Volume } from "../../src/common/protocol/generated/mesos-v1.js";
import { taskContainer } from "../../src/executor/default-executor-containers.js";
import type { TaskInfo } from "../../src/executor/protocol.js";

const parent = (path: string, containerPath: string, mode: "RW" | "RO" = "RW"): Volume => ({
  container_path: containerPath,
  mode,
  source: { type: "SANDBOX_PATH", sandbox_path: { type: "PARENT", path } },
});

const errorOf = (r: ReturnType<typeof sandboxPathOf>): string | undefined =>
  r !== undefined && "error" in r ? r.error : undefined;

test("SANDBOX_PATH volumes: Mesos' checks, with its texts", () => {
  const sb = "/w/parent/containers/c";
  const up = "/w/parent";
  assert.deepEqual(sandboxPathOf(parent("data", "d"), sb, up, false), {
    type: "PARENT",
    root: up,
    source: "/w/parent/data",
  });
  assert.equal(
    errorOf(sandboxPathOf(parent("/etc", "d"), sb, up, true)),
    "Path '/etc' in SANDBOX_PATH volume is absolute",
  );
  assert.equal(
    errorOf(sandboxPathOf(parent("data", "d"), sb, undefined, true)),
    "SANDBOX_PATH volume PARENT type only works for nested container",
  );
  assert.equal(
    errorOf(sandboxPathOf(parent("data", "/abs"), sb, up, false)),
    "The 'linux' launcher and 'filesystem/linux' isolator must be enabled to support SANDBOX_PATH volume with absolute container path",
  );
  assert.deepEqual(sandboxPathOf(parent("data", "/abs"), sb, up, true), {
    type: "PARENT",
    root: up,
    source: "/w/parent/data",
  });
  const self = (containerPath: string): Volume => ({
    container_path: containerPath,
    mode: "RW",
    source: { type: "SANDBOX_PATH", sandbox_path: { type: "SELF", path: "tmp" } },
  });
  assert.equal(
    errorOf(sandboxPathOf(self("tmp"), sb, up, true)),
    "'container_path' is relative for SANDBOX_PATH volume SELF type",
  );
  assert.deepEqual(sandboxPathOf(self("/tmp"), sb, up, true), {
    type: "SELF",
    root: sb,
    source: `${sb}/tmp`,
  });
  // The legacy form of SELF: a relative host_path.
  assert.deepEqual(
    sandboxPathOf({ container_path: "/tmp", mode: "RW", host_path: "tmp" }, sb, up, true),
    { type: "SELF", root: sb, source: `${sb}/tmp` },
  );
  assert.equal(
    errorOf(
      sandboxPathOf(
        {
          container_path: "d",
          mode: "RW",
          source: { type: "SANDBOX_PATH", sandbox_path: { path: "x" } },
        },
        sb,
        up,
        true,
      ),
    ),
    "Unknown SANDBOX_PATH volume type",
  );
  assert.equal(
    errorOf(
      sandboxPathOf(
        { container_path: "d", mode: "RW", source: { type: "SANDBOX_PATH" } },
        sb,
        up,
        true,
      ),
    ),
    "Invalid volume: 'source.sandbox_path' is not set for SANDBOX_PATH volume",
  );
  assert.match(
    errorOf(sandboxPathOf(parent("../../etc", "d"), sb, up, true)) ?? "",
    /leaves the parent's sandbox/,
  );
  // Not a SANDBOX_PATH volume: someone else's.
  assert.equal(
    sandboxPathOf({ container_path: "d", mode: "RW", host_path: "/srv" }, sb, up, true),
    undefined,
  );
});

function config(directory: string, parentDirectory: string | undefined, volumes: Volume[]) {
  const c: ContainerConfig = {
    containerId: "p/mesos/c",
    directory,
    parentDirectory,
    executor: {
      executor_id: { value: "c" },
      command: { value: "true" },
      container: { type: "MESOS", volumes },
    },
    commandExecutor: false,
    resources: {},
  };
  return c;
}

function tempTree(): { root: string; up: string; sandbox: string } {
  const root = mkdtempSync(join(tmpdir(), "sandbox-path-"));
  const up = join(root, "parent");
  const sandbox = join(up, "containers", "c");
  mkdirSync(sandbox, { recursive: true });
  return { root, up, sandbox };
}

test("volume/sandbox_path without filesystem/linux: a PARENT volume is a symlink; a missing source is created; RO is only warned about", async () => {
  const { root, up, sandbox } = tempTree();
  try {
    mkdirSync(join(up, "shared"));
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (m: string) => warnings.push(m) } as Logger;
    const isolator = new VolumeSandboxPathIsolator({ logger });
    const c = config(sandbox, up, [
      parent("shared", "p"),
      parent("made/here", "deep/q", "RO"),
      { container_path: "/x", mode: "RW", host_path: "/srv" },
    ]);
    assert.equal(await isolator.prepare(c), undefined);
    assert.equal(readlinkSync(join(sandbox, "p")), join(up, "shared"));
    assert.equal(readlinkSync(join(sandbox, "deep", "q")), join(up, "made", "here"));
    assert.ok(statSync(join(up, "made", "here")).isDirectory());
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? "", /Allowing read-write access to read-only volume/);
    // A relaunch finds its links in place.
    await isolator.prepare(c);
    assert.ok(lstatSync(join(sandbox, "p")).isSymbolicLink());
    // Anything else already at the path is not replaced.
    writeFileSync(join(sandbox, "taken"), "");
    await assert.rejects(
      isolator.prepare(config(sandbox, up, [parent("shared", "taken")])),
      /^Error: Failed to symlink '.*shared' -> '.*taken': /,
    );
    await assert.rejects(
      isolator.prepare(config(sandbox, undefined, [parent("shared", "p")])),
      /^Error: SANDBOX_PATH volume PARENT type only works for nested container$/,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("filesystem/linux: a PARENT volume is bind-mounted from the parent's sandbox, read-only when RO, its mount point made", async () => {
  const { root, up, sandbox } = tempTree();
  try {
    mkdirSync(join(up, "shared"));
    writeFileSync(join(up, "file"), "x");
    const prepared = await new FilesystemLinuxIsolator("filesystem/linux").prepare(
      config(sandbox, up, [parent("shared", "p", "RO"), parent("file", "sub/f")]),
    );
    const sp = (path: string) => ({ type: "PARENT", root: up, source: join(up, path) });
    assert.deepEqual(prepared.mounts, [
      {
        source: join(up, "shared"),
        target: join(sandbox, "p"),
        readOnly: true,
        sandboxPath: sp("shared"),
        targetSandbox: sandbox,
      },
      {
        source: join(up, "file"),
        target: join(sandbox, "sub", "f"),
        readOnly: false,
        sandboxPath: sp("file"),
        targetSandbox: sandbox,
      },
    ]);
    assert.ok(statSync(join(sandbox, "p")).isDirectory());
    assert.ok(statSync(join(sandbox, "sub", "f")).isFile());
    await assert.rejects(
      new FilesystemLinuxIsolator("filesystem/linux").prepare(
        config(sandbox, up, [parent("shared", join(root, "missing"))]),
      ),
      /Mount point '.*missing' is an absolute path\. It must exist if the container shares the host filesystem/,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("volume/sandbox_path makes its link in the container's sandbox without following the task's links there: a container_path through a link out of it is refused and nothing is made beyond", async () => {
  const { root, up, sandbox } = tempTree();
  try {
    mkdirSync(join(up, "shared"));
    const elsewhere = join(root, "elsewhere"); // Stands for /etc/cron.d.
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(sandbox, "out"));
    writeFileSync(join(sandbox, "file"), "");
    const isolator = new VolumeSandboxPathIsolator({ logger: silentLogger });
    for (const [path, why] of [
      ["out/x", "a symbolic link"],
      ["out/made/x", "a symbolic link"],
      ["file/x", "not a directory"],
    ] as const) {
      await assert.rejects(
        isolator.prepare(config(sandbox, up, [parent("shared", path)])),
        new RegExp(
          `^Error: Failed to symlink '.*shared' -> '.*${path}': '${sandbox}/${path.split("/")[0]}' is ${why}$`,
        ),
        path,
      );
    }
    assert.deepEqual(readdirSync(elsewhere), []);
    // Directories on the way that are plain ones are made or used.
    await isolator.prepare(config(sandbox, up, [parent("shared", "in/deeper/x")]));
    assert.equal(readlinkSync(join(sandbox, "in", "deeper", "x")), join(up, "shared"));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("filesystem/linux makes a mount point in the sandbox without following the task's links there: one through a link is refused and nothing is made where it leads", async () => {
  const { root, up, sandbox } = tempTree();
  try {
    mkdirSync(join(up, "shared"));
    writeFileSync(join(up, "file"), "x");
    const elsewhere = join(root, "elsewhere"); // Stands for /etc.
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(sandbox, "out"));
    symlinkSync(join(elsewhere, "nologin"), join(sandbox, "f"));
    const isolator = new FilesystemLinuxIsolator("filesystem/linux");
    for (const [source, target] of [
      ["shared", "out/d"],
      ["file", "out/f"],
      ["file", "f"],
    ] as const) {
      await assert.rejects(
        isolator.prepare(config(sandbox, up, [parent(source, target)])),
        new RegExp(
          `^Error: The sandbox path '${sandbox}/${target.split("/")[0]}' is a symbolic link$`,
        ),
        target,
      );
    }
    assert.deepEqual(readdirSync(elsewhere), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("container images: a SANDBOX_PATH volume's mounts in the image are made from the source the launch opens, and into the image's sandbox mount without following links", async () => {
  const { root, up, sandbox } = tempTree();
  try {
    const rootfs = join(root, "rootfs");
    mkdirSync(rootfs);
    mkdirSync(join(up, "shared"));
    const mounts = await imageVolumeMounts(
      [parent("shared", "rel"), parent("shared", "/abs")],
      sandbox,
      rootfs,
      "/mnt/sandbox",
      up,
    );
    const sp = { type: "PARENT", root: up, source: join(up, "shared") };
    assert.deepEqual(mounts, [
      {
        source: join(up, "shared"),
        target: join(rootfs, "mnt", "sandbox", "rel"),
        readOnly: false,
        sandboxPath: sp,
        targetSandbox: join(rootfs, "mnt", "sandbox"),
      },
      { source: join(up, "shared"), target: join(rootfs, "abs"), readOnly: false, sandboxPath: sp },
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

const NOBODY = 65534;

/** Runs `script` as the launch would, with `prepared`'s mounts made first. */
function launch(prepared: LaunchPreparation, script: string) {
  const shim = shimCommand(
    { file: "/bin/sh", args: ["sh", "-c", script] },
    mergePreparations([prepared]),
    undefined,
  );
  // The launcher helper hands the shim its environment on a descriptor: stdin here, duplicated.
  return spawnSync(
    "/bin/sh",
    ["-c", `exec "$@" ${ENVIRONMENT_FD}<&0`, "sh", shim.file, ...shim.args.slice(1)],
    {
      input: environmentScript({ PATH: process.env.PATH ?? "/usr/bin:/bin" }),
      encoding: "utf8",
    },
  );
}

test("filesystem/linux: a SANDBOX_PATH volume is mounted from what was checked: a source or mount point the task swaps for a link after the isolator's checks is refused at the mount, not followed", {
  skip: process.getuid?.() === 0 ? false : "needs root (mounts)",
}, async () => {
  const { root, up, sandbox } = tempTree();
  try {
    mkdirSync(join(up, "shared"));
    writeFileSync(join(up, "shared", "marker"), "");
    const elsewhere = join(root, "elsewhere"); // Stands for /etc.
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, "secret"), "");
    const isolator = new FilesystemLinuxIsolator("filesystem/linux");
    const volumes = [parent("shared", "p", "RO")];
    const list = `ls ${join(sandbox, "p")}; touch ${join(sandbox, "p", "new")} 2>/dev/null && echo writable; true`;

    // Untouched: the source is mounted, read-only.
    const plain = launch(await isolator.prepare(config(sandbox, up, volumes)), list);
    assert.equal(plain.status, 0, plain.stderr);
    assert.equal(plain.stdout, "marker\n");

    // The source swapped for a link out of the sandbox after the checks.
    const checked = await isolator.prepare(config(sandbox, up, volumes));
    renameSync(join(up, "shared"), join(up, "was-shared"));
    symlinkSync(elsewhere, join(up, "shared"));
    lchownSync(join(up, "shared"), NOBODY, NOBODY); // The task's, not the agent's.
    const swapped = launch(checked, list);
    assert.notEqual(swapped.status, 0);
    assert.doesNotMatch(swapped.stdout, /secret/);
    assert.match(swapped.stderr, /leads out of the parent's sandbox through the symbolic link/);
    rmSync(join(up, "shared"));
    renameSync(join(up, "was-shared"), join(up, "shared"));

    // The mount point swapped for a link after the checks.
    const again = await isolator.prepare(config(sandbox, up, volumes));
    rmSync(join(sandbox, "p"), { recursive: true });
    symlinkSync(elsewhere, join(sandbox, "p"));
    lchownSync(join(sandbox, "p"), NOBODY, NOBODY);
    const moved = launch(again, `ls ${elsewhere}`);
    assert.notEqual(moved.status, 0);
    assert.doesNotMatch(moved.stdout, /marker/);
    assert.match(moved.stderr, /'p' in '.*' is a symbolic link/);
    rmSync(join(sandbox, "p"));

    // A host path's mount point in the sandbox, swapped the same way.
    const host = join(root, "host");
    mkdirSync(host);
    writeFileSync(join(host, "from-host"), "");
    const hostVolume: Volume = { container_path: "h", host_path: host, mode: "RW" };
    const hostPrepared = await isolator.prepare(config(sandbox, up, [hostVolume]));
    rmSync(join(sandbox, "h"), { recursive: true });
    symlinkSync(elsewhere, join(sandbox, "h"));
    lchownSync(join(sandbox, "h"), NOBODY, NOBODY);
    const hostMoved = launch(hostPrepared, `ls ${elsewhere}`);
    assert.notEqual(hostMoved.status, 0);
    assert.doesNotMatch(hostMoved.stdout, /from-host/);
    assert.match(hostMoved.stderr, /'h' in '.*' is a symbolic link/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a nobody task's links do not lead root out of its sandbox: a source through a link out of it is refused and nothing is made there; links inside it, the agent's persistent volume links and plain nested sources still work", {
  skip: process.getuid?.() === 0 ? false : "needs root",
}, async () => {
  const { root, up, sandbox } = tempTree();
  try {
    // The parent's sandbox is its nobody task's, as with --switch_user.
    chownSync(up, NOBODY, NOBODY);
    const victim = join(root, "root-home"); // Stands for /root.
    mkdirSync(victim, { mode: 0o700 });
    const secret = join(root, "shadow"); // Stands for /etc/shadow.
    writeFileSync(secret, "x", { mode: 0o600 });
    const taskLink = (target: string, name: string) => {
      symlinkSync(target, join(up, name));
      lchownSync(join(up, name), NOBODY, NOBODY);
    };
    taskLink(victim, "a");
    taskLink(secret, "s");
    taskLink("../..", "up2"); // Relative, out of the sandbox.
    const attacks = ["a/.ssh", "a", "s", "up2/root-home/.ssh"];
    for (const path of attacks) {
      await assert.rejects(
        new VolumeSandboxPathIsolator({ logger: silentLogger }).prepare(
          config(sandbox, up, [parent(path, `v-${path.replaceAll("/", "-")}`)]),
        ),
        /^Error: Path '.*' in SANDBOX_PATH volume leads out of the parent's sandbox through the symbolic link '.*\/(a|s|up2)'$/,
        path,
      );
      await assert.rejects(
        new FilesystemLinuxIsolator("filesystem/linux").prepare(
          config(sandbox, up, [parent(path, "/m")]),
        ),
        /leads out of the parent's sandbox through the symbolic link/,
        path,
      );
    }
    assert.equal(existsSync(join(victim, ".ssh")), false);
    assert.equal(statSync(victim).uid, 0);
    assert.equal(statSync(secret).uid, 0);
    // A SELF source too (the fetcher unpacks the task's archives, links included).
    await assert.rejects(
      ensureSandboxPathSource({ type: "SELF", root: up, source: join(up, "a", "x") }),
      /leads out of the sandbox through the symbolic link/,
    );

    // A plain nested source: made, the source given to the sandbox's owner.
    await ensureSandboxPathSource({ type: "PARENT", root: up, source: join(up, "n1", "n2") });
    assert.equal(statSync(join(up, "n1", "n2")).uid, NOBODY);
    // A link of the task's that stays in its sandbox is walked again from the sandbox.
    mkdirSync(join(up, "v2"));
    taskLink("v2", "current");
    await ensureSandboxPathSource({ type: "PARENT", root: up, source: join(up, "current", "new") });
    assert.equal(statSync(join(up, "v2", "new")).uid, NOBODY);

    // The agent's own link to a persistent volume: used when the source is there, nothing made through it.
    const volume = join(root, "volumes", "roles", "r", "id");
    mkdirSync(join(volume, "in"), { recursive: true });
    symlinkSync(volume, join(up, "data"));
    await ensureSandboxPathSource({ type: "PARENT", root: up, source: join(up, "data") });
    await ensureSandboxPathSource({ type: "PARENT", root: up, source: join(up, "data", "in") });
    await assert.rejects(
      ensureSandboxPathSource({ type: "PARENT", root: up, source: join(up, "data", "new") }),
      /does not exist beyond the link '.*data', and nothing is created through a link/,
    );
    assert.equal(existsSync(join(volume, "new")), false);
    // Inside the volume (the task's to change too) no link is followed either.
    symlinkSync(victim, join(volume, "in", "out"));
    lchownSync(join(volume, "in", "out"), NOBODY, NOBODY);
    await assert.rejects(
      ensureSandboxPathSource({ type: "PARENT", root: up, source: join(up, "data", "in", "out") }),
      /^Error: Path 'data\/in\/out' in SANDBOX_PATH volume meets '.*\/in\/out' beyond the link '.*data', a symbolic link$/,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("--isolation: volume/sandbox_path links without filesystem/linux; with it, filesystem/linux mounts", () => {
  const base = {
    root: true,
    enableCfs: false,
    limitSwap: false,
    diskWatchIntervalMs: 1000,
    enforceDiskQuota: false,
    du: async () => ({ code: 0, output: "" }),
    commandExecutorAllowanceMb: 0,
    cgroups: { error: "none" },
  };
  const context = { logger: silentLogger, limit: () => {} };
  const names = (isolation: string[]) => {
    const built = createIsolators({ ...base, names: isolation }, context);
    assert.ok(built.ok);
    return built.isolators.map((i) => i.name);
  };
  assert.deepEqual(names(["volume/sandbox_path"]), ["volume/sandbox_path"]);
  assert.deepEqual(names(["filesystem/linux", "volume/sandbox_path"]), ["filesystem/linux"]);
  assert.deepEqual(names(["posix/cpu"]), ["posix/cpu"]);
});

test("default executor: each persistent volume of a task becomes a PARENT sandbox-path volume at its container_path", () => {
  const volume = (id: string, path: string) => ({
    name: "disk",
    type: "SCALAR",
    scalar: { value: 8 },
    disk: { persistence: { id }, volume: { mode: "RW", container_path: path } },
  });
  const task = (resources: unknown[], container?: Record<string, unknown>): TaskInfo => ({
    name: "t",
    task_id: { value: "t" },
    agent_id: { value: "a" },
    resources: resources as TaskInfo["resources"],
    ...(container === undefined ? {} : { container }),
  });
  const cpus = { name: "cpus", type: "SCALAR", scalar: { value: 1 } };
  assert.equal(taskContainer(task([cpus])), undefined);
  const own = { type: "MESOS", mesos: { image: { type: "DOCKER", docker: { name: "busybox" } } } };
  assert.equal(taskContainer(task([cpus], own)), own);
  assert.deepEqual(taskContainer(task([cpus, volume("a", "data"), volume("b", "logs")])), {
    type: "MESOS",
    volumes: [
      {
        mode: "RW",
        container_path: "data",
        source: { type: "SANDBOX_PATH", sandbox_path: { type: "PARENT", path: "data" } },
      },
      {
        mode: "RW",
        container_path: "logs",
        source: { type: "SANDBOX_PATH", sandbox_path: { type: "PARENT", path: "logs" } },
      },
    ],
  });
  const mine = { container_path: "/tmp", mode: "RW", host_path: "tmp" };
  const merged = taskContainer(task([volume("a", "data")], { ...own, volumes: [mine] }));
  assert.equal(merged?.mesos, own.mesos);
  const volumes = (merged?.volumes ?? []) as unknown[];
  assert.deepEqual(volumes[0], mine);
  assert.equal(volumes.length, 2);
});

import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { CgroupsHierarchy } from "../../src/agent/containerizer/cgroups/hierarchy.js";
import {
  chrootTaskCommand,
  imageEnvironment,
  imageVariables,
  runtimeArgv,
} from "../../src/agent/containerizer/images/image-launch.js";
import {
  cfsQuotaUs,
  cpuShares,
  cpuWeight,
} from "../../src/agent/containerizer/isolators/cgroups-cpu.js";
import { memoryLimitBytes } from "../../src/agent/containerizer/isolators/cgroups-mem.js";
import {
  FilesystemLinuxIsolator,
  hostPathCreationAllowed,
  volumeSource,
  volumeTarget,
} from "../../src/agent/containerizer/isolators/filesystem-linux.js";
import { createIsolators } from "../../src/agent/containerizer/isolators/index.js";
import { parseDuOutput } from "../../src/agent/containerizer/isolators/posix-disk.js";
import { prlimitOptions } from "../../src/agent/containerizer/isolators/posix-rlimits.js";
import {
  mergePreparations,
  shellQuote,
  shimCommand,
} from "../../src/agent/containerizer/launch-shim.js";
import { silentLogger } from "../../src/common/observability/logger.js";

const V1_MOUNTS = [
  "tmpfs /sys/fs/cgroup tmpfs rw 0 0",
  "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,relatime,cpu,cpuacct 0 0",
  "cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0",
  "cgroup /sys/fs/cgroup/freezer cgroup rw,relatime,freezer 0 0",
  "cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0",
].join("\n");

test("cgroups: v1 mounts are found per subsystem, combined mounts shared, container paths under the root", () => {
  const h = CgroupsHierarchy.detect("/sys/fs/cgroup", "mesos", V1_MOUNTS);
  assert.ok(!("error" in h));
  assert.equal(h.version, 1);
  assert.equal(h.path("cpu", "c1"), "/sys/fs/cgroup/cpu,cpuacct/mesos/c1");
  assert.equal(h.path("cpuacct", "c1"), h.path("cpu", "c1"));
  assert.equal(h.path("memory", "c1"), "/sys/fs/cgroup/memory/mesos/c1");
  assert.equal(h.has("pids"), false);
});

test("cgroups: no cgroup mounts under the hierarchy is an error that says where it looked", () => {
  const h = CgroupsHierarchy.detect("/elsewhere", "mesos", V1_MOUNTS);
  assert.ok("error" in h);
  assert.match(h.error, /\/elsewhere/);
});

test("cgroups/cpu: shares are 1024 per cpu with a floor of 2; CFS quota is cpus x 100 ms with a 1 ms floor", () => {
  assert.equal(cpuShares(0.5), 512);
  assert.equal(cpuShares(0.001), 2);
  assert.equal(cfsQuotaUs(0.6), 60_000);
  assert.equal(cfsQuotaUs(0.001), 1_000);
  // v2: 100 per cpu with a floor of 1 (Mesos), capped at the kernel's 10000.
  assert.equal(cpuWeight(1), 100);
  assert.equal(cpuWeight(0.5), 50);
  assert.equal(cpuWeight(0.001), 1);
  assert.equal(cpuWeight(1000), 10_000);
});

test("cgroups/mem: the limit is mem plus the allowance, never below 32 MB", () => {
  assert.equal(memoryLimitBytes(64, 32), 96 * 1024 * 1024);
  assert.equal(memoryLimitBytes(1), 32 * 1024 * 1024);
});

test("posix/rlimits: types map to prlimit options; unset soft and hard is unlimited; soft above hard is refused", () => {
  const ok = prlimitOptions([{ type: "RLMT_NOFILE", soft: 10, hard: 20 }, { type: "RLMT_CORE" }]);
  assert.deepEqual(ok, { ok: true, options: ["--nofile=10:20", "--core=unlimited:unlimited"] });
  // Mesos' launcher messages.
  assert.deepEqual(prlimitOptions([{ type: "RLMT_CPU", soft: 5, hard: 1 }]), {
    ok: false,
    error: "Failed to set RLMT_CPU limit: Invalid argument",
  });
  assert.deepEqual(prlimitOptions([{ type: "RLMT_CPU", soft: 1 }]), {
    ok: false,
    error: "Failed to set RLMT_CPU limit: Invalid rlimit values",
  });
  assert.deepEqual(prlimitOptions([{ type: "UNKNOWN" }]), {
    ok: false,
    error: "Failed to set UNKNOWN limit: Could not convert rlimit: Unknown rlimit type",
  });
});

test("filesystem/linux: relative host paths are in the sandbox; paths escaping the sandbox are refused", () => {
  const sandbox = "/work/sb";
  assert.equal(
    volumeSource({ mode: "RW", container_path: "/tmp", host_path: "tmp" }, sandbox),
    "/work/sb/tmp",
  );
  assert.equal(
    volumeSource({ mode: "RO", container_path: "d", host_path: "/data" }, sandbox),
    "/data",
  );
  assert.ok(
    typeof volumeSource({ mode: "RW", container_path: "/x", host_path: "../../etc" }, sandbox) !==
      "string",
  );
  assert.equal(volumeTarget({ mode: "RW", container_path: "data" }, sandbox), "/work/sb/data");
  assert.ok(typeof volumeTarget({ mode: "RW", container_path: "../x" }, sandbox) !== "string");
  assert.equal(
    volumeSource(
      {
        mode: "RW",
        container_path: "/x",
        source: { type: "SANDBOX_PATH", sandbox_path: { type: "SELF", path: "a" } },
      },
      sandbox,
    ),
    "/work/sb/a",
  );
});

test("volume/host_path: --host_path_volume_force_creation allows a directory and what lies beneath it", () => {
  const allowed = ["/srv/data/", "/mnt"];
  assert.equal(hostPathCreationAllowed("/srv/data", allowed), true);
  assert.equal(hostPathCreationAllowed("/srv/data/a/b", allowed), true);
  assert.equal(hostPathCreationAllowed("/mnt/x", allowed), true);
  assert.equal(hostPathCreationAllowed("/srv/database", allowed), false);
  assert.equal(hostPathCreationAllowed("/srv", allowed), false);
  assert.equal(hostPathCreationAllowed("/etc/x", ["", "/srv"]), false);
});

test("volume/host_path: a missing host path is created only under --host_path_volume_force_creation", async () => {
  const root = mkdtempSync(join(tmpdir(), "host-path-"));
  try {
    const sandbox = join(root, "sandbox");
    mkdirSync(sandbox);
    const config = (hostPath: string) => ({
      containerId: "c1",
      directory: sandbox,
      executor: {
        executor_id: { value: "e" },
        command: { value: "true" },
        container: {
          type: "MESOS" as const,
          volumes: [{ mode: "RW" as const, container_path: "data", host_path: hostPath }],
        },
      },
      commandExecutor: true,
      resources: {},
    });
    const missing = join(root, "allowed", "new", "dir");
    await assert.rejects(
      new FilesystemLinuxIsolator("filesystem/linux").prepare(config(missing)),
      /Path '.*' in HOST_PATH volume does not exist$/,
    );
    const isolator = new FilesystemLinuxIsolator("filesystem/linux", [join(root, "allowed")]);
    await assert.rejects(
      isolator.prepare(config(join(root, "elsewhere"))),
      /not under a directory of --host_path_volume_force_creation/,
    );
    assert.equal(existsSync(join(root, "elsewhere")), false);
    const prepared = await isolator.prepare(config(missing));
    assert.equal(statSync(missing).isDirectory(), true);
    assert.deepEqual(prepared.mounts, [
      { source: missing, target: join(sandbox, "data"), readOnly: false, targetSandbox: sandbox },
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("posix/disk: du -k output is read as bytes", () => {
  assert.equal(parseDuOutput("12\t/some/dir\n"), 12 * 1024);
  assert.equal(parseDuOutput("du: cannot access\n"), undefined);
});

test("launch shim: without isolation needs the executor command is unchanged", () => {
  const command = { file: "/bin/sh", args: ["sh", "-c", "echo hi"] };
  assert.equal(shimCommand(command, mergePreparations([undefined, {}]), undefined), command);
});

test("launch shim: joins the cgroups before exec, then unshare, mounts, prlimit, setpriv and the executor", () => {
  const p = mergePreparations([
    { cgroupProcs: ["/cg/a/cgroup.procs"] },
    { cgroupProcs: ["/cg/a/cgroup.procs", "/cg/b/cgroup.procs"], pidNamespace: true },
    { mounts: [{ source: "/sb/tmp", target: "/tmp", readOnly: true }] },
    { rlimits: ["--nofile=1:2"] },
  ]);
  const shim = shimCommand({ file: "/usr/bin/node", args: ["node", "x.js"] }, p, {
    uid: 5,
    gid: 6,
  });
  assert.equal(shim.file, "/bin/sh");
  const script = shim.args[2] ?? "";
  assert.ok(script.indexOf("/cg/a/cgroup.procs") < script.indexOf('exec "$@"'));
  assert.equal(script.split("echo $$ >").length - 1, 2, "each cgroup once");
  const tail = shim.args.slice(4);
  const at = (word: string) => tail.indexOf(word);
  assert.ok(at("unshare") >= 0 && at("--pid") > at("unshare"));
  // The rlimits are set by a shell of their own (prlimit on itself, then exec).
  const rlimits = tail.findIndex((w) => w.includes("prlimit --pid $$ '--nofile=1:2'"));
  assert.ok(rlimits > at("unshare"));
  assert.ok(at("setpriv") > rlimits);
  assert.ok(tail.includes("--reuid=5") && tail.includes("--regid=6"));
  assert.deepEqual(tail.slice(-2), ["/usr/bin/node", "x.js"]);
  assert.ok(tail.some((w) => w.includes("remount,bind,ro")));
});

test("launch shim: shell quoting survives quotes in paths", () => {
  assert.equal(shellQuote("a'b"), `'a'\\''b'`);
});

test("isolators: unknown names and cgroup isolators without cgroups are one-line errors", () => {
  const base = {
    root: true,
    enableCfs: false,
    limitSwap: false,
    diskWatchIntervalMs: 1000,
    enforceDiskQuota: false,
    du: async () => ({ code: 0, output: "" }),
    commandExecutorAllowanceMb: 0,
  };
  const context = { logger: silentLogger, limit: () => {} };
  const unknown = createIsolators(
    { ...base, names: ["posix/cpu", "gpu/nvidia"], cgroups: { error: "none" } },
    context,
  );
  assert.deepEqual(unknown, { ok: false, error: "Unknown or unsupported isolator 'gpu/nvidia'" });
  const noCgroups = createIsolators(
    { ...base, names: ["cgroups/mem"], cgroups: { error: "no cgroups here" } },
    context,
  );
  assert.equal(noCgroups.ok, false);
  const posix = createIsolators(
    {
      ...base,
      names: ["posix/cpu", "posix/mem", "disk/du", "filesystem/posix"],
      cgroups: { error: "x" },
    },
    context,
  );
  assert.ok(posix.ok);
  assert.deepEqual(
    posix.isolators.map((i) => i.name),
    ["posix/cpu", "posix/mem", "posix/disk"],
  );
});

test("images: a command task's command is wrapped in chroot into the image and the sandbox mount", () => {
  const shell = chrootTaskCommand(
    { value: "echo hi", environment: { variables: [] } },
    "/r",
    "/usr/sbin/chroot",
  );
  assert.equal(shell.value, "/usr/sbin/chroot");
  assert.equal(shell.shell, false);
  assert.deepEqual(shell.arguments?.slice(0, 4), ["chroot", "/r", "/bin/sh", "-c"]);
  assert.match(
    shell.arguments?.[4] ?? "",
    /^cd '\/mnt\/mesos\/sandbox' && MESOS_SANDBOX='\/mnt\/mesos\/sandbox' exec/,
  );
  assert.equal(shell.arguments?.[5], "echo hi");
  assert.deepEqual(shell.environment, { variables: [] });
  const argv = chrootTaskCommand(
    { shell: false, value: "/bin/ls", arguments: ["ls", "-l"] },
    "/r",
    "/c",
  );
  assert.deepEqual(argv.arguments?.slice(-3), ["mesos-task", "/bin/ls", "-l"]);
});

test("docker/runtime: Entrypoint and Cmd follow Mesos' table for a command without a value", () => {
  const none = { shell: false };
  assert.deepEqual(runtimeArgv(none, { Entrypoint: ["/e", "x"], Cmd: ["c"] }), {
    argv: ["/e", "x", "c"],
  });
  assert.deepEqual(
    runtimeArgv({ shell: false, arguments: ["a"] }, { Entrypoint: ["/e"], Cmd: ["c"] }),
    {
      argv: ["/e", "a"],
    },
  );
  assert.deepEqual(runtimeArgv({ shell: false, arguments: ["a"] }, { Cmd: ["/c", "d"] }), {
    argv: ["/c", "a"],
  });
  assert.ok("error" in runtimeArgv(none, {}));
});

test("docker/runtime: the image's Env is under the task's variables and WorkingDir replaces the sandbox", () => {
  const wrapped = chrootTaskCommand(
    { value: "env", environment: { variables: [{ name: "MINE", value: "1" }] } },
    "/r",
    "/c",
    { Env: ["PATH=/bin", "MINE=image"], WorkingDir: "/srv" },
  );
  const script = wrapped.arguments?.[4] ?? "";
  assert.match(script, /export PATH='\/bin';/);
  assert.doesNotMatch(script, /MINE/);
  assert.match(script, /cd '\/srv'/);
  assert.deepEqual(imageEnvironment({ PATH: "/usr/bin", MESOS_SANDBOX: "/host" }), {
    PATH: "/usr/bin",
    MESOS_SANDBOX: "/mnt/mesos/sandbox",
  });
  assert.deepEqual(
    imageVariables({ Env: ["PATH=/bin", "MINE=image", "NEW=x"] }, { PATH: "/usr/bin", MINE: "1" }),
    { PATH: "/bin", NEW: "x" },
  );
});

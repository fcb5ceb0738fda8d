/**
 * Containers with an image: `--sandbox_directory` (its validation, where a
 * command task's command enters, how the executor's probes find it back)
 * and `linux/capabilities` through capsh (its options, the launch shim's
 * use of it, and the command executor keeping its privileges while its
 * task carries the sets).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, closeSync, existsSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { chrootTaskCommand } from "../../src/agent/containerizer/images/image-launch.js";
import type { ContainerConfig } from "../../src/agent/containerizer/isolators/isolator.js";
import {
  CAPABILITY_NAMES,
  CAPSH,
  capshArguments,
  LinuxCapabilitiesIsolator,
} from "../../src/agent/containerizer/isolators/linux-capabilities.js";
import { mergePreparations, shimCommand } from "../../src/agent/containerizer/launch-shim.js";
import {
  ENVIRONMENT_FD,
  environmentScript,
} from "../../src/agent/containerizer/shim-environment.js";
import { loadAgentFlags } from "../../src/agent/flags.js";
import { imageRootOf } from "../../src/executor/checks/probers.js";
import { tempDir } from "../harness/processes.js";

/** The `--task_command` as the command executor parses it. */
const asExecutorSees = (c: object): Parameters<typeof imageRootOf>[0] =>
  JSON.parse(JSON.stringify(c));

const n = (name: string) => String(CAPABILITY_NAMES.indexOf(name as never));

test("flags: --sandbox_directory must be an absolute path below '/'", () => {
  const base = ["--master=127.0.0.1:5050", "--work_dir=/tmp/x"];
  const good = loadAgentFlags({ argv: [...base, "--sandbox_directory=/sandbox"] });
  assert.ok(good.ok);
  assert.equal(good.flags.values.sandbox_directory, "/sandbox");
  for (const bad of ["sandbox", "/", "//"]) {
    const loaded = loadAgentFlags({ argv: [...base, `--sandbox_directory=${bad}`] });
    assert.ok(!loaded.ok, bad);
    assert.match(loaded.error, /--sandbox_directory/);
  }
});

test("capsh: chroot first, then the bounding and inheritable sets, the user switch, the sets and no_new_privs", () => {
  const args = capshArguments({
    rootfs: "/r",
    user: { uid: 65534, gid: 65534 },
    capabilities: { bounding: ["CHOWN", "NET_RAW"], effective: ["NET_RAW"] },
    noNewPrivs: true,
    lastCap: 13,
  });
  assert.deepEqual(args, [
    "--chroot=/r",
    `--inh=${n("CHOWN")},${n("NET_RAW")}`,
    "--drop=1,2,3,4,5,6,7,8,9,10,11,12",
    "--keep=1",
    "--groups=",
    "--gid=65534",
    "--uid=65534",
    `--caps=${n("CHOWN")},${n("NET_RAW")}=i ${n("NET_RAW")}+pe`,
    `--addamb=${n("NET_RAW")}`,
    "--no-new-privs",
    "--shell=/bin/sh",
    "--",
  ]);
  // Only a bounding set: the sets are left to exec (root gets the bounding set back).
  assert.deepEqual(capshArguments({ rootfs: "/r", capabilities: { bounding: [] }, lastCap: 2 }), [
    "--chroot=/r",
    "--inh=",
    "--drop=0,1,2",
    "--shell=/bin/sh",
    "--",
  ]);
  // No effective capabilities at all: every set is cleared.
  assert.ok(
    capshArguments({ rootfs: "/r", capabilities: { bounding: [], effective: [] } }).includes(
      "--caps==",
    ),
  );
});

test("launch shim: an image with capabilities is entered with capsh, without setpriv or chroot", {
  skip: CAPSH === undefined ? "capsh is not installed" : undefined,
}, () => {
  const p = mergePreparations([
    { noNewPrivs: true },
    { capabilities: { bounding: ["NET_RAW"], effective: ["NET_RAW"] } },
    { rootfs: "/r", rootfsWorkDir: "/sandbox", rootfsEnv: { PATH: "/bin" } },
  ]);
  const cmd = shimCommand({ file: "/bin/exec", args: ["/bin/exec", "x"] }, p, {
    uid: 1,
    gid: 2,
  });
  assert.ok(!cmd.args.includes("setpriv"), cmd.args.join(" "));
  assert.ok(!cmd.args.includes("chroot"), cmd.args.join(" "));
  const at = cmd.args.indexOf(CAPSH as string);
  assert.equal(cmd.args[at + 1], "--chroot=/r");
  assert.ok(cmd.args.includes("--uid=1") && cmd.args.includes("--gid=2"));
  assert.ok(cmd.args.includes("--no-new-privs"));
  const dash = cmd.args.indexOf("--", at);
  assert.deepEqual(cmd.args.slice(dash + 1, dash + 2), ["-c"]);
  // After the container's environment (read from its descriptor): the image's, then the sandbox.
  const inside = cmd.args[dash + 2] ?? "";
  assert.ok(inside.endsWith(`; export PATH='/bin'; cd '/sandbox' && exec "$@"`), inside);
  assert.ok(inside.includes(`<&${ENVIRONMENT_FD}`), inside);
  assert.deepEqual(cmd.args.slice(-3), ["mesos-container", "/bin/exec", "x"]);
});

test("launch shim: an image's Env name that is not a shell name is left out, not run as shell syntax", () => {
  const dir = tempDir("image-env-name");
  const marker = join(dir, "ran");
  const p = mergePreparations([
    {
      rootfs: "/r",
      rootfsWorkDir: dir,
      rootfsEnv: { [`X;touch ${marker};Y`]: "1", GOOD_NAME: "a b" },
    },
  ]);
  const cmd = shimCommand({ file: "/bin/exec", args: ["/bin/exec"] }, p, { uid: 1, gid: 2 });
  const inside = cmd.args.find((a) => a.includes(`<&${ENVIRONMENT_FD}`)) ?? "";
  assert.ok(inside.includes("export GOOD_NAME='a b'"), inside);
  // Run the script inside as the shell would, with an empty container environment.
  const script = join(dir, "env.sh");
  writeFileSync(script, environmentScript({}));
  const fd = openSync(script, "r");
  try {
    const run = spawnSync(
      "/bin/sh",
      ["-c", inside, "mesos-container", "/bin/sh", "-c", 'echo "$GOOD_NAME"'],
      {
        stdio: ["ignore", "pipe", "pipe", "ignore", fd],
        encoding: "utf8",
      },
    );
    assert.equal(run.stdout, "a b\n", run.stderr);
    assert.match(run.stderr, /is not a shell variable name; left out/);
  } finally {
    closeSync(fd);
  }
  assert.equal(existsSync(marker), false, "the image's Env name ran as a command");
});

test("launch shim: the command executor in an image keeps its privileges (its task carries the capabilities)", () => {
  const p = mergePreparations([
    { capabilities: { bounding: ["NET_RAW"], effective: ["NET_RAW"] } },
    { rootfs: "/r", chroot: false },
  ]);
  assert.equal(p.capabilities, undefined);
});

test("images: a command task's command enters the image with capsh when it has capabilities, its sandbox at --sandbox_directory", () => {
  const wrapped = chrootTaskCommand({ value: "echo hi" }, "/r", "/usr/sbin/chroot", undefined, {
    sandbox: "/my sandbox",
    capabilities: { bounding: ["NET_RAW"], effective: ["NET_RAW"] },
    capsh: "/usr/sbin/capsh",
  });
  assert.equal(wrapped.value, "/usr/sbin/capsh");
  assert.deepEqual(wrapped.arguments?.slice(0, 2), ["capsh", "--chroot=/r"]);
  const dash = wrapped.arguments?.indexOf("--") ?? -1;
  assert.equal(wrapped.arguments?.[dash + 1], "-c");
  assert.match(
    wrapped.arguments?.[dash + 2] ?? "",
    /^cd '\/my sandbox' && MESOS_SANDBOX='\/my sandbox' exec/,
  );
  assert.equal(wrapped.arguments?.at(-1), "echo hi");
  // The executor's probes enter the same image at the same sandbox.
  assert.deepEqual(imageRootOf(asExecutorSees(wrapped)), {
    chroot: "/usr/sbin/capsh",
    rootfs: "/r",
    sandbox: "/my sandbox",
  });
  const plain = chrootTaskCommand(
    { value: "true" },
    "/r",
    "/usr/sbin/chroot",
    { Env: ["X=MESOS_SANDBOX='/not/this'"] },
    { sandbox: "/it's" },
  );
  assert.equal(plain.arguments?.[0], "chroot");
  assert.deepEqual(imageRootOf(asExecutorSees(plain)), {
    chroot: "/usr/sbin/chroot",
    rootfs: "/r",
    sandbox: "/it's",
  });
});

test("linux/capabilities: a container with an image is refused without capsh, or with a capsh too old for the launch", async () => {
  const config = {
    containerId: "c",
    directory: "/sb",
    commandExecutor: false,
    executor: {
      executor_id: { value: "e" },
      container: {
        type: "MESOS",
        mesos: { image: { type: "DOCKER", docker: { name: "box" } } },
        linux_info: { effective_capabilities: { capabilities: ["NET_RAW"] } },
      },
    },
  } as unknown as ContainerConfig;
  const held = ["NET_RAW"];
  await assert.rejects(new LinuxCapabilitiesIsolator({}, held, null).prepare(config), {
    message:
      "Capabilities for containers with an image need capsh (libcap2-bin) on the agent: setpriv cannot apply them inside the image",
  });
  const old = join(tempDir("old-capsh-"), "capsh");
  writeFileSync(old, "#!/bin/sh\necho 'usage: capsh --chroot=path --addamb=xxx -- bash'\n");
  chmodSync(old, 0o755);
  await assert.rejects(new LinuxCapabilitiesIsolator({}, held, old).prepare(config), {
    message: `Capabilities for containers with an image need a newer capsh (libcap2-bin): '${old}' lacks --shell, --no-new-privs`,
  });
  if (CAPSH !== undefined) {
    const ok = await new LinuxCapabilitiesIsolator({}, held, CAPSH).prepare(config);
    assert.deepEqual(ok?.capabilities, { bounding: ["NET_RAW"], effective: ["NET_RAW"] });
  }
});

/**
 * A nested container's stdout and stderr files are opened by the launcher
 * helper, which is root. The sandbox lies below the executor's sandbox,
 * which belongs to the task's user: that user can swap its `containers`
 * for a link at any moment, e.g. while the nested launch is prepared. Root
 * must then not create `stdout` wherever the link leads (a root-owned 0644
 * file in /etc/cron.d holding the task's output would run as root).
 *
 * The attacker here is a real unprivileged user (nobody, through setpriv);
 * the launcher opens the output files as the real helper does.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import type { LauncherClient } from "../../src/agent/containerizer/launcher.js";
import { openSandboxOutput } from "../../src/agent/containerizer/sandbox-no-follow.js";
import {
  endLauncherTest,
  hookIsolator,
  nestedContainersFixture,
} from "../harness/nested-containers-fixture.js";
import { asNobody, attackRoot, needsRoot, nobodyId, nobodysDir } from "../harness/nobody.js";

const started: ChildProcess[] = [];
// nobody must reach the sandbox below it.
const root = attackRoot("sandbox-attacks-output-");

after(() => endLauncherTest(started, root));

/**
 * Opens the output files as the launcher helper does, writes a line into
 * each, sleeps. `onSpawn` runs first (the user winning a race), and
 * `readInCwd` is read as nobody from the working directory the helper
 * enters as root (before the switch, as Node's spawn does).
 */
function outputWritingLauncher(
  hooks: { onSpawn?: () => void; readInCwd?: string; read?: string[] } = {},
): LauncherClient {
  return {
    async spawn(req: { cwd?: string; stdout: string; stderr: string }) {
      hooks.onSpawn?.();
      if (hooks.readInCwd !== undefined) {
        const r = spawnSync("cat", [hooks.readInCwd], {
          cwd: req.cwd,
          uid: nobodyId("-u"),
          gid: nobodyId("-g"),
          encoding: "utf8",
        });
        hooks.read?.push(r.stdout);
      }
      for (const path of [req.stdout, req.stderr]) {
        const fd = openSandboxOutput(path);
        try {
          writeSync(fd, "* * * * * root echo pwned\n");
        } finally {
          closeSync(fd);
        }
      }
      const c = spawn("sleep", ["1000"], { stdio: "ignore" });
      started.push(c);
      return { id: 0, pid: c.pid ?? -1 };
    },
    async run(req: { file: string; args: string[] }) {
      execFileSync(req.file, req.args);
      return { id: 0, code: 0, output: "" };
    },
    async user(name: string) {
      return { uid: nobodyId("-u"), gid: nobodyId("-g"), home: "/", name };
    },
  } as unknown as LauncherClient;
}

test(
  "a nested container's output is not created through a `containers` the user swapped for a link",
  needsRoot,
  async () => {
    const sandbox = nobodysDir(root, "exec");
    // Root's directory the link leads to (say /etc/cron.d).
    const victim = join(root, "cron.d");
    mkdirSync(victim);
    let swapped = false;
    const nested = nestedContainersFixture(outputWritingLauncher(), sandbox, {
      isolators: [
        hookIsolator((directory) => {
          if (directory !== join(sandbox, "containers", "c")) return;
          swapped = true;
          asNobody(
            `cd '${sandbox}' && mv containers moved && mkdir evil && ln -s '${victim}' evil/c && ln -s evil containers`,
          );
        }),
      ],
      switchUser: true,
    });
    try {
      const launched = await nested.launch({
        parentId: "exec",
        childId: "c",
        command: { value: "sleep 1000", user: "nobody" },
      });
      assert.ok(swapped, "the attacker ran");
      assert.deepEqual(readdirSync(victim), [], "nothing is created where the link leads");
      assert.ok(!("ok" in launched), "the launch through a link is refused");
      assert.match(launched.error, /containers' is a symbolic link/);
    } finally {
      nested.stop();
    }
  },
);

test("a nested container's output goes to its sandbox's own files", needsRoot, async () => {
  const sandbox = nobodysDir(root, "exec-ok");
  const nested = nestedContainersFixture(outputWritingLauncher(), sandbox, { switchUser: true });
  try {
    const launched = await nested.launch({
      parentId: "exec",
      childId: "c",
      command: { value: "sleep 1000", user: "nobody" },
    });
    assert.ok("ok" in launched, JSON.stringify(launched));
    for (const name of ["stdout", "stderr"]) {
      const file = join(sandbox, "containers", "c", name);
      assert.ok(existsSync(file), `${name} is in the sandbox`);
      assert.equal(readFileSync(file, "utf8"), "* * * * * root echo pwned\n");
    }
  } finally {
    nested.stop();
  }
});

test(
  "a nested container does not start in where a `containers` swapped for a link just before its spawn leads",
  needsRoot,
  async () => {
    const sandbox = nobodysDir(root, "exec-cwd");
    // Root's directory below one nobody cannot pass: its file is readable only from inside.
    const victim = join(root, "private", "public");
    mkdirSync(victim, { recursive: true });
    chmodSync(join(root, "private"), 0o700);
    writeFileSync(join(victim, "secret"), "root's secret\n", { mode: 0o644 });
    const read: string[] = [];
    const launcher = outputWritingLauncher({
      // After every check the agent makes, before the helper enters the directory.
      onSpawn: () =>
        asNobody(
          `cd '${sandbox}' && mv containers moved && mkdir evil && ln -s '${victim}' evil/c && ln -s evil containers`,
        ),
      readInCwd: "secret",
      read,
    });
    const nested = nestedContainersFixture(launcher, sandbox, { switchUser: true });
    try {
      const launched = await nested.launch({
        parentId: "exec",
        childId: "c",
        command: { value: "sleep 1000", user: "nobody" },
      });
      assert.ok("ok" in launched, JSON.stringify(launched));
      assert.deepEqual(
        read,
        [""],
        "the container starts in its own sandbox, not the link's target",
      );
      assert.ok(existsSync(join(sandbox, "moved", "c", "stdout")));
    } finally {
      nested.stop();
    }
  },
);

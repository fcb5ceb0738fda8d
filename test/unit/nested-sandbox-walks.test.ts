/**
 * What root does in a nested container's sandbox besides making and
 * removing it (see nested-sandbox-links.test.ts): the container logger's
 * pipes, a session's pipes and the chown after a fetch all reach the
 * sandbox from the executor's sandbox down without following links, since
 * the task's user may swap any directory on the way (its `containers`, say)
 * for a link at any moment.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import type { Isolator } from "../../src/agent/containerizer/isolators/isolator.js";
import type {
  ContainerLogger,
  ContainerOutputRequest,
} from "../../src/agent/containerizer/logger/container-logger.js";
import type { NestedContainers } from "../../src/agent/containerizer/nested-containers.js";
import { chownSandboxTree } from "../../src/agent/containerizer/sandbox-chown.js";
import {
  endLauncherTest,
  hookIsolator,
  nestedContainersFixture,
  sleepingLauncher,
} from "../harness/nested-containers-fixture.js";

const started: ChildProcess[] = [];
const root = mkdtempSync(join(tmpdir(), "mesos-nested-walks-"));
const isRoot = process.getuid?.() === 0;

after(() => endLauncherTest(started, root));

/** Nested containers of the executor `exec` (sandbox `sandbox`), with a fake launcher. */
function nestedOf(
  sandbox: string,
  extra: { isolators?: Isolator[]; containerLogger?: ContainerLogger } = {},
): NestedContainers {
  const launcher = sleepingLauncher(started, root, { lookUpUsers: true });
  return nestedContainersFixture(launcher, sandbox, {
    isolators: extra.isolators ?? [],
    containerLogger: extra.containerLogger,
    switchUser: true,
  });
}

test("the container logger of a container nested two levels deep opens its sandbox from the executor's sandbox", async () => {
  const sandbox = join(root, "exec-logger");
  mkdirSync(sandbox);
  const requests: ContainerOutputRequest[] = [];
  const containerLogger: ContainerLogger = {
    async prepare(request) {
      requests.push(request);
      return {
        stdout: join(request.directory, "stdout"),
        stderr: join(request.directory, "stderr"),
        release() {},
      };
    },
  };
  const nested = nestedOf(sandbox, { containerLogger });
  try {
    const task = await nested.launch({
      parentId: "exec",
      childId: "task",
      command: { value: "sleep 1000" },
    });
    assert.ok("ok" in task, JSON.stringify(task));
    const child = await nested.launch({
      parentId: "exec.task",
      childId: "child",
      command: { value: "sleep 1000" },
    });
    assert.ok("ok" in child, JSON.stringify(child));
    // The directories between (`containers`, the task's sandbox) are the
    // user's: the logger walks down from the executor's sandbox, not by path.
    assert.deepEqual(
      requests.map((r) => [r.directory, r.sandboxBase]),
      [
        [join(sandbox, "containers", "task"), sandbox],
        [join(sandbox, "containers", "task", "containers", "child"), sandbox],
      ],
    );
  } finally {
    nested.stop();
  }
});

test("a session's pipes are not removed or made through a `containers` swapped for a link during the launch", async () => {
  const sandbox = join(root, "exec-session");
  mkdirSync(sandbox);
  // What the link leads to: a directory with a file named as a pipe.
  const victim = join(root, "victim-session");
  mkdirSync(join(victim, "s"), { recursive: true });
  writeFileSync(join(victim, "s", "stdout.fifo"), "keep me\n");
  let swapped = false;
  const nested = nestedOf(sandbox, {
    isolators: [
      hookIsolator((directory) => {
        // After the sandbox is made, before the pipes: the user's swap.
        if (directory !== join(sandbox, "containers", "s")) return;
        swapped = true;
        renameSync(join(sandbox, "containers"), join(sandbox, "moved"));
        symlinkSync(victim, join(sandbox, "containers"));
      }),
    ],
  });
  try {
    const session = await nested.launch({
      parentId: "exec",
      childId: "s",
      command: { value: "cat" },
      session: true,
    });
    assert.ok(swapped, "the isolator ran");
    assert.ok(!("ok" in session), "the launch through a link is refused");
    assert.match(session.error, /containers' is a symbolic link/);
    assert.deepEqual(readdirSync(join(victim, "s")), ["stdout.fifo"]);
    assert.equal(readFileSync(join(victim, "s", "stdout.fifo"), "utf8"), "keep me\n");
  } finally {
    nested.stop();
  }
});

test("a session's pipes are made in its sandbox and its stdin reaches the container", async () => {
  const sandbox = join(root, "exec-session-ok");
  mkdirSync(sandbox);
  const nested = nestedOf(sandbox);
  try {
    const session = await nested.launch({
      parentId: "exec",
      childId: "s",
      command: { value: "cat" },
      session: true,
    });
    assert.ok("ok" in session && session.io !== undefined, JSON.stringify(session));
    const dir = join(sandbox, "containers", "s");
    for (const name of ["stdin.fifo", "stdout.fifo", "stderr.fifo"]) {
      assert.ok(lstatSync(join(dir, name)).isFIFO(), `${name} is a pipe`);
    }
    // The agent's writer opens stdin through the directory it holds: a
    // reader here gets what was written.
    session.io.stdin.end("hello\n");
    const reader = spawn("cat", [join(dir, "stdin.fifo")], { stdio: ["ignore", "pipe", "ignore"] });
    started.push(reader);
    let got = "";
    reader.stdout.on("data", (d: Buffer) => {
      got += d.toString();
    });
    await new Promise((resolve) => reader.on("close", resolve));
    assert.equal(got, "hello\n");
    for (const stream of Object.values(session.io)) stream.destroy();
  } finally {
    nested.stop();
  }
});

test(
  "chownSandboxTree gives the sandbox's files to the user, never through a link or to a hard-linked file",
  {
    skip: isRoot ? false : "needs root (chown to nobody)",
  },
  () => runChownTree(),
);

async function runChownTree(): Promise<void> {
  const nobody = {
    uid: Number(execFileSync("id", ["-u", "nobody"]).toString()),
    gid: Number(execFileSync("id", ["-g", "nobody"]).toString()),
  };
  const base = join(root, "exec-chown");
  const outside = join(root, "outside-chown");
  mkdirSync(join(outside, "dir"), { recursive: true });
  writeFileSync(join(outside, "file"), "root's\n");
  writeFileSync(join(outside, "hard"), "root's too\n");
  const box = join(base, "containers", "c");
  mkdirSync(join(box, "sub", "deeper"), { recursive: true });
  writeFileSync(join(box, "fetched"), "x");
  writeFileSync(join(box, "sub", "deeper", "inner"), "y");
  execFileSync("mkfifo", [join(box, "sub", "pipe")]);
  symlinkSync(join(outside, "file"), join(box, "file-link"));
  symlinkSync(join(outside, "dir"), join(box, "sub", "dir-link"));
  linkSync(join(outside, "hard"), join(box, "hard-link"));
  await chownSandboxTree(base, box, nobody);
  for (const p of ["", "fetched", "sub", "sub/deeper", "sub/deeper/inner", "sub/pipe"]) {
    assert.equal(lstatSync(join(box, p)).uid, nobody.uid, `${p || "the sandbox"} is the user's`);
  }
  for (const p of ["file", "dir", "hard"]) {
    assert.equal(statSync(join(outside, p)).uid, 0, `${p} outside stays root's`);
  }
  assert.equal(lstatSync(join(box, "file-link")).uid, 0, "a link is left alone");
  // On the way: `containers` swapped for a link is refused, its target untouched.
  mkdirSync(join(outside, "c"));
  renameSync(join(base, "containers"), join(base, "moved"));
  symlinkSync(outside, join(base, "containers"));
  await assert.rejects(chownSandboxTree(base, box, nobody), /containers' is a symbolic link/);
  assert.equal(statSync(join(outside, "c")).uid, 0);
  assert.ok(existsSync(join(base, "moved", "c")));
}

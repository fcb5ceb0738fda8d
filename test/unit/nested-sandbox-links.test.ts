/**
 * A nested container's sandbox, `<parent sandbox>/containers/<id>`, lies in
 * directories the parent's user may change at any time. The agent (root
 * with --switch_user) must not remove, create or chown anything through a
 * link the user put on the way: a task that links `containers` to / and
 * launches a check (a DEBUG session) named `etc` made root remove /etc; one
 * that swapped `containers` for a link after the agent's check got root to
 * chown the link's target.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import type { NestedContainers } from "../../src/agent/containerizer/nested-containers.js";
import { makeSandbox, removeSandbox } from "../../src/agent/containerizer/sandbox-no-follow.js";
import {
  endLauncherTest,
  nestedContainersFixture,
  sleepingLauncher,
} from "../harness/nested-containers-fixture.js";

const started: ChildProcess[] = [];
const root = mkdtempSync(join(tmpdir(), "mesos-nested-links-"));
const isRoot = process.getuid?.() === 0;

after(() => endLauncherTest(started, root));

/** Nested containers of the executor `exec` (sandbox `sandbox`); `user` is called on user look-ups. */
function nestedOf(sandbox: string, user: (name: string) => void): NestedContainers {
  const launcher = sleepingLauncher(started, root, { lookUpUsers: true, onUser: user });
  return nestedContainersFixture(launcher, sandbox, { switchUser: true });
}

test("a check launched in a task whose `containers` is a link is refused, and nothing behind the link is removed", async () => {
  const sandbox = join(root, "exec-1");
  mkdirSync(sandbox);
  const victim = join(root, "victim-1");
  mkdirSync(join(victim, "precious"), { recursive: true });
  writeFileSync(join(victim, "precious", "data"), "keep me\n");
  const nested = nestedOf(sandbox, () => {});
  try {
    const task = await nested.launch({
      parentId: "exec",
      childId: "task",
      command: { value: "sleep 1000" },
    });
    assert.ok("ok" in task, JSON.stringify(task));
    // The task's user puts a link where its DEBUG sandboxes go.
    const containers = join(sandbox, "containers", "task", "containers");
    rmSync(containers, { recursive: true, force: true });
    symlinkSync(victim, containers);
    const check = await nested.launch({
      parentId: "exec.task",
      childId: "precious",
      command: { value: "true" },
      session: true,
    });
    assert.ok(!("ok" in check), "the launch through a link is refused");
    assert.match(check.error, /containers' is a symbolic link$/);
    // The failed launch's clean-up is not awaited by it: it makes one file
    // system call after the other, queued as these are, so it has had its
    // turns long before these are done.
    for (let i = 0; i < 100; i++) await stat(victim);
    assert.equal(readFileSync(join(victim, "precious", "data"), "utf8"), "keep me\n");
  } finally {
    nested.stop();
  }
});

test("a `containers` swapped for a link after the launch began is not followed: its target is not chowned", {
  skip: isRoot ? false : "needs root (chown to nobody)",
}, async () => {
  const sandbox = join(root, "exec-2");
  mkdirSync(join(sandbox, "containers"), { recursive: true });
  const victim = join(root, "victim-2");
  mkdirSync(join(victim, "c"), { recursive: true });
  let swapped = false;
  // The user look-up comes between the launch's first look at the sandbox
  // path and its writes: the user's swap lands there.
  const nested = nestedOf(sandbox, () => {
    if (swapped) return;
    swapped = true;
    renameSync(join(sandbox, "containers"), join(sandbox, "moved"));
    symlinkSync(victim, join(sandbox, "containers"));
  });
  try {
    const launched = await nested.launch({
      parentId: "exec",
      childId: "c",
      command: { value: "sleep 1000", user: "nobody" },
    });
    assert.ok(swapped, "the user was looked up");
    assert.ok(!("ok" in launched), "the launch through a link is refused");
    assert.match(launched.error, /containers' is a symbolic link$/);
    assert.equal(statSync(join(victim, "c")).uid, 0, "the link's target was not chowned");
  } finally {
    nested.stop();
  }
});

test("makeSandbox and removeSandbox follow no link on the way or inside", async () => {
  const base = join(root, "exec-3");
  const outside = join(root, "outside-3");
  mkdirSync(join(outside, "keep"), { recursive: true });
  writeFileSync(join(outside, "keep", "file"), "x");
  mkdirSync(base);
  assert.equal(await makeSandbox(base, join(base, "containers", "a")), true);
  assert.equal(await makeSandbox(base, join(base, "containers", "a")), false);
  // Inside the sandbox: links to a directory and to a file outside.
  symlinkSync(outside, join(base, "containers", "a", "dir-link"));
  symlinkSync(join(outside, "keep", "file"), join(base, "containers", "a", "file-link"));
  mkdirSync(join(base, "containers", "a", "sub", "deeper"), { recursive: true });
  symlinkSync(join(outside, "keep"), join(base, "containers", "a", "sub", "deeper", "keep"));
  await removeSandbox(base, join(base, "containers", "a"));
  assert.equal(existsSync(join(base, "containers", "a")), false);
  assert.equal(readFileSync(join(outside, "keep", "file"), "utf8"), "x");
  // On the way: a link in place of `containers`.
  mkdirSync(join(outside, "b"));
  rmSync(join(base, "containers"), { recursive: true });
  symlinkSync(outside, join(base, "containers"));
  await assert.rejects(removeSandbox(base, join(base, "containers", "b")), /is a symbolic link/);
  await assert.rejects(makeSandbox(base, join(base, "containers", "c")), /is a symbolic link/);
  assert.ok(existsSync(join(outside, "b")));
  assert.equal(existsSync(join(outside, "c")), false);
  // Not below the base: refused.
  await assert.rejects(makeSandbox(base, outside), /is not below/);
});

/**
 * What the task's user (nobody here, for real) can put at a sandbox's
 * `stdout` before root opens it for the next launch: a named pipe it keeps
 * open for reading itself (so an open for writing would not fail for want
 * of a reader, and the user would read what root writes), a socket, or a
 * device node (only root can make one; one may be hard-linked in where
 * fs.protected_hardlinks is off). Each is refused at once, in one line.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, test } from "node:test";
import { openSandboxOutput } from "../../src/agent/containerizer/sandbox-no-follow.js";
import { endLauncherTest } from "../harness/nested-containers-fixture.js";
import { attackRoot, needsRoot, nobodysDir } from "../harness/nobody.js";

const root = attackRoot("sandbox-attacks-fifo-");
const started: ChildProcess[] = [];

after(() => endLauncherTest(started, root));

/** Waits (polling the file system, not the clock) until `check` holds. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 10));
}

test(
  "a pipe of the user's, held open for reading by the user, is not root's stdout",
  needsRoot,
  async () => {
    const sandbox = nobodysDir(root, "pipe");
    // nobody makes the pipe and reads it (O_RDWR: its open does not wait).
    const reader = spawn(
      "setpriv",
      [
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        "sh",
        "-c",
        "mkfifo stdout && exec 3<>stdout && touch ready && exec sleep 1000",
      ],
      { cwd: sandbox, stdio: "ignore" },
    );
    started.push(reader);
    await until(() => existsSync(join(sandbox, "ready")));
    assert.throws(
      () => openSandboxOutput(join(sandbox, "stdout")),
      /^Error: '.*\/stdout' is not a regular file with a single link$/,
    );
  },
);

test("a socket or a device node at stdout is refused", needsRoot, async () => {
  const sandbox = nobodysDir(root, "others");
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(join(sandbox, "stdout"), resolve));
  try {
    assert.throws(
      () => openSandboxOutput(join(sandbox, "stdout")),
      /is not a regular file with a single link$/,
    );
  } finally {
    server.close();
  }
  // What /dev/null is (root makes it here, standing in for a hard link).
  execFileSync("mknod", [join(sandbox, "stderr"), "c", "1", "3"]);
  assert.throws(
    () => openSandboxOutput(join(sandbox, "stderr")),
    /is not a regular file with a single link$/,
  );
});

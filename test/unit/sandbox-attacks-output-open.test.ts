/**
 * Root must not even open what the task's user puts at an output file's
 * name (`stdout`, `stderr`) or at a file mount point before it knows what it
 * is: opening a device node can have effects of its own (a tape rewinds, a
 * terminal becomes the opener's), and so does opening a named pipe (a reader
 * waiting in its open goes on). The names are looked at through an O_PATH
 * handle first, which opens nothing.
 *
 * What can be observed is the pipe: nobody (for real) waits in open(2) for a
 * writer, and the kernel says so (/proc/<pid>/wchan is its wait for a
 * partner). A writer's open, even one refused right after, wakes it at once;
 * so the reader still waiting after the call shows nothing opened it. (A
 * device node copied from /dev/null shows nothing either way; the other
 * tests check it is refused.)
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  closeSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  makeMountPoint,
  openSandboxOutput,
} from "../../src/agent/containerizer/sandbox-no-follow.js";
import { endLauncherTest } from "../harness/nested-containers-fixture.js";
import { attackRoot, needsRoot, nobodysDir } from "../harness/nobody.js";
import { waitLong } from "../harness/processes.js";

const root = attackRoot("sandbox-attacks-open-");
const started: ChildProcess[] = [];

after(() => endLauncherTest(started, root));

/** What `pid` sleeps in, as the kernel names it ("0" when it is not asleep). */
const wchan = (pid: number) => readFileSync(`/proc/${pid}/wchan`, "utf8");

/** The kernel's wait in a named pipe's open for the other end. */
const WAITING_FOR_WRITER = /wait_for_partner|fifo_open/;

/**
 * nobody makes a named pipe `name` in `sandbox` and waits in its open for a
 * writer; resolves with the waiting process's pid once it waits there.
 */
async function readerWaiting(sandbox: string, name: string): Promise<number> {
  const reader = spawn(
    "setpriv",
    [
      "--reuid=nobody",
      "--regid=nogroup",
      "--clear-groups",
      "sh",
      "-c",
      `mkfifo '${name}' && exec 3<'${name}' && touch opened && exec sleep 1000`,
    ],
    { cwd: sandbox, stdio: "ignore" },
  );
  started.push(reader);
  const pid = reader.pid as number;
  await waitLong("nobody waiting in the pipe's open", () => WAITING_FOR_WRITER.test(wchan(pid)));
  return pid;
}

test(
  "a pipe of the user's at stdout is refused without being opened (its waiting reader stays waiting)",
  needsRoot,
  async () => {
    const sandbox = nobodysDir(root, "pipe");
    const pid = await readerWaiting(sandbox, "stdout");
    assert.throws(
      () => openSandboxOutput(join(sandbox, "stdout")),
      /^Error: '.*\/stdout' is not a regular file with a single link$/,
    );
    assert.match(wchan(pid), WAITING_FOR_WRITER, "nobody's open of the pipe still waits");
    assert.ok(!existsSync(join(sandbox, "opened")));
  },
);

test(
  "a pipe of the user's at a file mount point is kept without being opened",
  needsRoot,
  async () => {
    const sandbox = nobodysDir(root, "mount-pipe");
    const pid = await readerWaiting(sandbox, "point");
    await makeMountPoint(sandbox, join(sandbox, "point"), false);
    assert.match(wchan(pid), WAITING_FOR_WRITER, "nobody's open of the pipe still waits");
    assert.ok(lstatSync(join(sandbox, "point")).isFIFO());
  },
);

test(
  "output files and file mount points: made when missing, taken or kept when they fit, else refused",
  needsRoot,
  async () => {
    const sandbox = nobodysDir(root, "plain");
    // Missing: made (root's, 0644), then appended to.
    for (const round of ["one\n", "two\n"]) {
      const fd = openSandboxOutput(join(sandbox, "stdout"), "file");
      try {
        writeFileSync(fd, round);
      } finally {
        closeSync(fd);
      }
    }
    assert.equal(readFileSync(join(sandbox, "stdout"), "utf8"), "one\ntwo\n");
    assert.equal(lstatSync(join(sandbox, "stdout")).mode & 0o777, 0o644);
    // The user's own regular file with one link is taken, as before.
    execFileSync("setpriv", [
      "--reuid=nobody",
      "--regid=nogroup",
      "--clear-groups",
      "sh",
      "-c",
      `echo mine > '${join(sandbox, "stderr")}'`,
    ]);
    const fd = openSandboxOutput(join(sandbox, "stderr"));
    try {
      writeFileSync(fd, "root's\n");
    } finally {
      closeSync(fd);
    }
    assert.equal(readFileSync(join(sandbox, "stderr"), "utf8"), "mine\nroot's\n");
    // A link is refused, a directory too.
    symlinkSync("/etc/passwd", join(sandbox, "linked"));
    assert.throws(() => openSandboxOutput(join(sandbox, "linked")), /single link$/);
    mkdirSync(join(sandbox, "dir"));
    assert.throws(() => openSandboxOutput(join(sandbox, "dir")), /single link$/);
    // The agent's pipe needs a reader: the agent's own, here held read-write.
    execFileSync("mkfifo", [join(sandbox, "logger.fifo")]);
    assert.throws(
      () => openSandboxOutput(join(sandbox, "logger.fifo"), "pipe"),
      /is not the container logger's pipe$/,
    );
    const readEnd = openSync(
      join(sandbox, "logger.fifo"),
      constants.O_RDONLY | constants.O_NONBLOCK,
    );
    try {
      const pipe = openSandboxOutput(join(sandbox, "logger.fifo"), "pipe");
      try {
        writeFileSync(pipe, "through the pipe\n");
      } finally {
        closeSync(pipe);
      }
      assert.equal(readFileSync(readEnd, "utf8"), "through the pipe\n");
    } finally {
      closeSync(readEnd);
    }
    assert.throws(
      () => openSandboxOutput(join(sandbox, "missing.fifo"), "pipe"),
      /is not the container logger's pipe$/,
    );
    assert.ok(!existsSync(join(sandbox, "missing.fifo")), "no file is made for a pipe");

    // Mount points: made when missing, kept when there, a link refused.
    await makeMountPoint(sandbox, join(sandbox, "a", "b", "file"), false);
    assert.ok(lstatSync(join(sandbox, "a", "b", "file")).isFile());
    await makeMountPoint(sandbox, join(sandbox, "stdout"), false);
    assert.equal(readFileSync(join(sandbox, "stdout"), "utf8"), "one\ntwo\n");
    execFileSync("mknod", [join(sandbox, "null"), "c", "1", "3"]);
    await makeMountPoint(sandbox, join(sandbox, "null"), false);
    assert.ok(lstatSync(join(sandbox, "null")).isCharacterDevice());
    await assert.rejects(
      makeMountPoint(sandbox, join(sandbox, "linked"), false),
      /The sandbox path '.*\/linked' is a symbolic link$/,
    );
  },
);

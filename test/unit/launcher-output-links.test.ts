/**
 * The launcher helper (possibly root) opens an executor's stdout/stderr in
 * a sandbox the task's user may write: it must not follow a symbolic link
 * placed there, or the user could make it append to any file; nor wait
 * on a named pipe there (every later launch would wait behind it).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { LauncherClient } from "../../src/agent/containerizer/launcher.js";
import { silentLogger } from "../../src/common/observability/logger.js";

test("launcher: a symbolic link at the sandbox's stdout fails the spawn and the target is untouched", async () => {
  const root = mkdtempSync(join(tmpdir(), "launcher-links-"));
  const launcher = new LauncherClient(
    silentLogger,
    () => {},
    () => {},
  );
  try {
    const sandbox = join(root, "sandbox");
    const victim = join(root, "victim");
    writeFileSync(victim, "untouched\n");
    mkdirSync(sandbox);
    symlinkSync(victim, join(sandbox, "stdout"));
    const request = {
      op: "spawn" as const,
      file: "/bin/sh",
      args: ["sh", "-c", "echo written"],
      env: { PATH: "/usr/bin:/bin" },
      cwd: sandbox,
      stdout: join(sandbox, "stdout"),
      stderr: join(sandbox, "stderr"),
    };
    await assert.rejects(launcher.spawn(request));
    assert.equal(readFileSync(victim, "utf8"), "untouched\n");
    // A plain file is fine.
    rmSync(join(sandbox, "stdout"));
    const reply = await launcher.spawn(request);
    assert.ok(reply.pid > 0);
  } finally {
    launcher.stop();
    rmSync(root, { recursive: true, force: true });
  }
});

// Without the check the helper waits in its open for good: the test ends on its timeout.
const NO_HANG = { timeout: 60_000 };

test(
  "launcher: a named pipe at the sandbox's stdout (from a fetched archive) fails the spawn without waiting, and later launches still start",
  NO_HANG,
  async () => {
    const root = mkdtempSync(join(tmpdir(), "launcher-fifo-"));
    const launcher = new LauncherClient(
      silentLogger,
      () => {},
      () => {},
    );
    try {
      const request = (sandbox: string) => ({
        op: "spawn" as const,
        file: "/bin/sh",
        args: ["sh", "-c", "echo written"],
        env: { PATH: "/usr/bin:/bin" },
        cwd: sandbox,
        stdout: join(sandbox, "stdout"),
        stderr: join(sandbox, "stderr"),
      });
      const piped = join(root, "piped");
      mkdirSync(piped);
      execFileSync("mkfifo", [join(piped, "stdout")]);
      await assert.rejects(
        launcher.spawn(request(piped)),
        /stdout' is not a regular file with a single link$/,
      );
      // A hard link to a file elsewhere is not appended to either.
      const linked = join(root, "linked");
      mkdirSync(linked);
      writeFileSync(join(root, "elsewhere"), "untouched\n");
      linkSync(join(root, "elsewhere"), join(linked, "stdout"));
      await assert.rejects(
        launcher.spawn(request(linked)),
        /not a regular file with a single link/,
      );
      assert.equal(readFileSync(join(root, "elsewhere"), "utf8"), "untouched\n");
      const plain = join(root, "plain");
      mkdirSync(plain);
      const reply = await launcher.spawn(request(plain));
      assert.ok(reply.pid > 0);
    } finally {
      launcher.stop();
      rmSync(root, { recursive: true, force: true });
    }
  },
);

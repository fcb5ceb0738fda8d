/**
 * The launcher helper (possibly root) opens an executor's stdout/stderr in
 * a sandbox the task's user may write: it must not follow a symbolic link
 * placed there, or the user could make it append to any file.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
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

/**
 * `runs/latest` points at the newest run with an absolute target, as
 * Mesos links it (tools that read the link get a usable path). The
 * sandbox exists as soon as the containerizer knows the container.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { LauncherClient } from "../../src/agent/containerizer/launcher.js";
import { PosixContainerizer } from "../../src/agent/containerizer/posix-containerizer.js";
import { createSandbox } from "../../src/agent/containerizer/sandbox.js";
import { silentLogger } from "../../src/common/observability/logger.js";

test("createSandbox: runs/latest is an absolute link to the newest run", async () => {
  const root = mkdtempSync(join(tmpdir(), "sandbox-latest-"));
  try {
    const runs = join(root, "executors", "e1", "runs");
    createSandbox(join(runs, "c1"), "c1");
    assert.equal(readlinkSync(join(runs, "latest")), join(runs, "c1"));
    createSandbox(join(runs, "c2"), "c2");
    assert.equal(readlinkSync(join(runs, "latest")), join(runs, "c2"));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("posix containerizer: the sandbox is made before launch() returns (GET_CONTAINERS lists the container at once, and a LAUNCH_NESTED_CONTAINER under it may follow)", async () => {
  const root = mkdtempSync(join(tmpdir(), "sandbox-latest-"));
  let launched: { error?: string } | undefined;
  const c = new PosixContainerizer({
    workDir: root,
    // Not able to start anything: the launch fails after the sandbox is made.
    launcher: {} as LauncherClient,
    logger: silentLogger,
    frameworksHome: "",
    fetcherStallTimeoutMs: 1000,
    bootId: "boot",
  });
  c.attach({
    containerLaunched: (_id, result) => {
      launched = "error" in result ? { error: result.error } : {};
    },
    containerTerminated: () => {},
  });
  try {
    const runs = join(root, "slaves", "S0", "frameworks", "F", "executors", "E", "runs");
    c.launch({
      containerId: "c1",
      agentId: "S0",
      frameworkId: "F",
      executorId: "E",
      directory: join(runs, "c1"),
      executor: { executor_id: { value: "E" }, command: { value: "true" } },
      commandExecutor: false,
      environment: {},
      user: undefined,
      checkpoint: false,
    });
    assert.ok(existsSync(join(runs, "c1")), "the sandbox exists when launch() returns");
    assert.equal(readlinkSync(join(runs, "latest")), join(runs, "c1"));
    for (let i = 0; i < 200 && launched === undefined; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(launched?.error !== undefined, "the launch itself fails without a launcher");
  } finally {
    c.stop();
    rmSync(root, { recursive: true, force: true });
  }
});

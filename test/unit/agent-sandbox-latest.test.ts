/**
 * `runs/latest` points at the newest run with an absolute target, as
 * Mesos links it (tools that read the link get a usable path).
 */
import assert from "node:assert/strict";
import { mkdtempSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createSandbox } from "../../src/agent/containerizer/sandbox.js";

test("createSandbox: runs/latest is an absolute link to the newest run", async () => {
  const root = mkdtempSync(join(tmpdir(), "sandbox-latest-"));
  try {
    const runs = join(root, "executors", "e1", "runs");
    await createSandbox(join(runs, "c1"), "c1");
    assert.equal(readlinkSync(join(runs, "latest")), join(runs, "c1"));
    await createSandbox(join(runs, "c2"), "c2");
    assert.equal(readlinkSync(join(runs, "latest")), join(runs, "c2"));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/**
 * Removing a task's tree holds one open directory per level: a tree nested
 * deeper than MAX_REMOVAL_DEPTH is refused (the agent keeps its file
 * descriptors), while one within the limit goes entirely.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  MAX_REMOVAL_DEPTH,
  removeSandbox,
} from "../../src/agent/containerizer/sandbox-no-follow.js";

/** Makes `top` with `levels` nested directories below it (2 characters a level: paths stay short). */
function nest(top: string, levels: number): void {
  mkdirSync(join(top, ...new Array<string>(levels).fill("d")), { recursive: true });
}

test("sandbox removal: a tree within the depth limit goes, a deeper one is refused", async () => {
  const base = mkdtempSync(join(tmpdir(), "removal-depth-"));
  try {
    nest(join(base, "shallow"), 50);
    await removeSandbox(base, join(base, "shallow"));
    assert.equal(existsSync(join(base, "shallow")), false);

    nest(join(base, "deep"), MAX_REMOVAL_DEPTH + 5);
    await assert.rejects(removeSandbox(base, join(base, "deep")), /nested deeper than 512 levels/);
    assert.equal(existsSync(join(base, "deep")), true);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

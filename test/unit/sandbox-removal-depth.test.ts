/**
 * Removing a task's tree holds one open directory per level, up to
 * MAX_REMOVAL_DEPTH: a directory that deep is moved up to the top of the
 * tree and removed from there, so a tree nested deeper goes entirely too
 * (a task cannot keep its sandbox from the garbage collector that way).
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

test("sandbox removal: a tree within the depth limit goes, and so does a deeper one", async () => {
  const base = mkdtempSync(join(tmpdir(), "removal-depth-"));
  try {
    nest(join(base, "shallow"), 50);
    await removeSandbox(base, join(base, "shallow"));
    assert.equal(existsSync(join(base, "shallow")), false);

    nest(join(base, "deep"), MAX_REMOVAL_DEPTH + 5);
    await removeSandbox(base, join(base, "deep"));
    assert.equal(existsSync(join(base, "deep")), false);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

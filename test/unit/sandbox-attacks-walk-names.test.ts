/**
 * openDirectoryBelow opens each name in the directory held open above it
 * (`/proc/self/fd/<fd>/<name>`): a name that is `..`, `.`, empty or holds a
 * slash would step out of the sandbox, or through a link nobody checked.
 * Callers split normalized paths, so such a name is refused, not walked.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  DIRECTORY_FLAGS,
  openDirectoryBelow,
} from "../../src/agent/containerizer/sandbox-no-follow.js";

const root = mkdtempSync(join(tmpdir(), "sandbox-attacks-names-"));
after(() => rmSync(root, { recursive: true, force: true }));

test("a walk below a sandbox refuses '..', '.', empty names and names with a slash", async () => {
  const sandbox = join(root, "sandbox");
  mkdirSync(join(sandbox, "a"), { recursive: true });
  mkdirSync(join(root, "outside"));
  symlinkSync(join(root, "outside"), join(sandbox, "link"));
  const top = await open(sandbox, DIRECTORY_FLAGS);
  try {
    for (const names of [
      ["..", "outside"],
      ["a", ".."],
      ["."],
      [""],
      ["link/."],
      ["a", "new\n/x"],
    ]) {
      await assert.rejects(openDirectoryBelow(top, names, true), /is not a name in a sandbox/);
    }
    const fine = await openDirectoryBelow(top, ["a"], false);
    assert.ok("dir" in fine);
    await fine.dir.close();
  } finally {
    await top.close();
  }
});

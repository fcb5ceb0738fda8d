/**
 * The garbage collector removes, as root, a sandbox its task's user (here
 * nobody, for real) filled to get in the way: links to root's directories,
 * a hard link to a root-only file, a named pipe, a socket, names with
 * newlines or of NAME_MAX bytes, and directories nested far deeper than the
 * removal holds directories open. All of it must go, nothing outside, and
 * what root cannot remove must not keep the rest, nor turn up in the log as
 * more than one line.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chownSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, test } from "node:test";
import { MAX_REMOVAL_DEPTH } from "../../src/agent/containerizer/sandbox-no-follow.js";
import { removeBelow } from "../../src/agent/gc/remove-path.js";
import { asNobody, attackRoot, needsRoot, nobodyId } from "../harness/nobody.js";

const root = attackRoot("sandbox-attacks-removal-");
const immutable: string[] = [];

after(() => {
  for (const f of immutable) execFileSync("chattr", ["-i", f]);
  // GNU rm: a tree left deeper than PATH_MAX, should a test fail, goes too.
  execFileSync("rm", ["-rf", root]);
});

/** A work directory with a sandbox of nobody's in it; and root's secret beside it. */
function setUp(name: string): { workDir: string; sandbox: string; secret: string } {
  const workDir = join(root, name, "work");
  const sandbox = join(workDir, "slaves/a/frameworks/f/executors/e/runs/c");
  mkdirSync(sandbox, { recursive: true });
  chownSync(sandbox, nobodyId("-u"), nobodyId("-g"));
  const secret = join(root, name, "secret");
  mkdirSync(secret, { mode: 0o700 });
  writeFileSync(join(secret, "shadow"), "root:$6$hash:19000::::::\n", { mode: 0o600 });
  return { workDir, sandbox, secret };
}

test(
  "gc removes a sandbox the user filled with links, pipes, odd names and a very deep tree, and nothing outside",
  needsRoot,
  async () => {
    const { workDir, sandbox, secret } = setUp("full");
    const levels = 2 * MAX_REMOVAL_DEPTH + 10;
    asNobody(
      [
        "ln -s / to-root",
        `ln -s '${secret}' to-secret`,
        `ln -s '${secret}/shadow' to-shadow`,
        "mkfifo fifo",
        `mkdir "$(printf 'new\\nline')" && touch "$(printf 'new\\nline')/$(printf 'x\\ny')"`,
        `touch "$(printf 'n%.0s' $(seq 255))"`,
      ].join(" && "),
      sandbox,
    );
    // Each level entered by a relative name: far past PATH_MAX from the sandbox.
    asNobody(
      `'${process.execPath}' -e 'const fs = require("node:fs"); fs.mkdirSync("a-deep"); process.chdir("a-deep"); for (let i = 0; i < ${levels}; i++) { fs.mkdirSync("d".repeat(40)); process.chdir("d".repeat(40)); } fs.writeFileSync("bottom", "")'`,
      sandbox,
    );
    // A hard link to root's 0600 file: what fs.protected_hardlinks=0 lets a task make.
    linkSync(join(secret, "shadow"), join(sandbox, "shadow-link"));
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(sandbox, "socket"), resolve));
    assert.ok(readdirSync(sandbox).includes("socket"));

    try {
      assert.equal(await removeBelow(workDir, sandbox), "removed");
    } finally {
      server.close();
    }
    assert.equal(existsSync(sandbox), false);
    assert.equal(readFileSync(join(secret, "shadow"), "utf8"), "root:$6$hash:19000::::::\n");
    const st = statSync(join(secret, "shadow"));
    assert.deepEqual([st.uid, st.mode & 0o777, st.nlink], [0, 0o600, 1]);
    assert.ok(existsSync("/etc/passwd"));
  },
);

test(
  "gc: an entry root cannot remove keeps only itself, and is reported in one line",
  needsRoot,
  async (t) => {
    const { workDir, sandbox } = setUp("stuck");
    asNobody(
      `mkdir "$(printf 'a\\nb')" && touch "$(printf 'a\\nb')/x" stdout z-last && mkdir -p z-dir/sub`,
      sandbox,
    );
    // What root cannot remove (here made so by root: an immutable file).
    const stuck = join(sandbox, "a\nb", "x");
    try {
      execFileSync("chattr", ["+i", stuck], { stdio: "ignore" });
    } catch {
      t.skip("the file system of the temporary directory has no immutable files (chattr)");
      return;
    }
    immutable.push(stuck);
    await assert.rejects(removeBelow(workDir, sandbox), (e: Error) => {
      assert.equal(e.message, "EPERM: operation not permitted (at 'a\\nb/x')");
      return true;
    });
    assert.deepEqual(readdirSync(sandbox), ["a\nb"]);
    assert.deepEqual(readdirSync(join(sandbox, "a\nb")), ["x"]);
  },
);

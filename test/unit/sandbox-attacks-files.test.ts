/**
 * /files/read and /files/download serve a sandbox's files as root (the
 * agent). A path is resolved (links followed) and checked to stay inside
 * the sandbox, then opened: the task's user (here nobody, for real) may
 * swap a directory on that path for a link to /etc between the two. What
 * is read must be the file that was checked, never what the link leads to.
 * The swap is made at the exact moment (right after the resolution), so the
 * race is won every time.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chownSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import fsp from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";
import { join } from "node:path";
import { after, test } from "node:test";
import { FilesError, VirtualFiles } from "../../src/common/files/virtual-files.js";
import { asNobody, attackRoot, needsRoot, nobodyId } from "../harness/nobody.js";

const root = attackRoot("sandbox-attacks-files-");

after(() => rmSync(root, { recursive: true, force: true }));

/** Runs `swap` once, right after the next resolution of a path ending in `name`. */
function swapAfterResolving(name: string, swap: () => void): () => void {
  const real = fsp.realpath;
  let done = false;
  fsp.realpath = (async (...args: Parameters<typeof real>) => {
    const resolved = await real(...args);
    if (!done && String(resolved).endsWith(`/${name}`)) {
      done = true;
      swap();
    }
    return resolved;
  }) as typeof real;
  syncBuiltinESMExports();
  return () => {
    fsp.realpath = real;
    syncBuiltinESMExports();
  };
}

/** A sandbox of nobody's attached at /sandbox, with `dir/secret` in it; root's secret in /etc-like `etc`. */
async function setUp(name: string): Promise<{ files: VirtualFiles; sandbox: string }> {
  const sandbox = join(root, name, "sandbox");
  mkdirSync(join(sandbox, "dir"), { recursive: true });
  writeFileSync(join(sandbox, "dir", "secret"), "the task's own\n");
  execFileSync("chown", ["-R", `${nobodyId("-u")}:${nobodyId("-g")}`, sandbox]);
  const etc = join(root, name, "etc");
  mkdirSync(etc, { mode: 0o700 });
  writeFileSync(join(etc, "secret"), "root:$6$hash\n", { mode: 0o600 });
  chownSync(join(etc, "secret"), 0, 0);
  const files = new VirtualFiles();
  await files.attach(sandbox, "/sandbox");
  return { files, sandbox };
}

const swapDirForEtc = (sandbox: string) => () =>
  asNobody(`mv dir dir.moved && ln -s ../etc dir`, sandbox);

test(
  "/files/read does not serve root's file through a directory swapped for a link after the check",
  needsRoot,
  async () => {
    const { files, sandbox } = await setUp("read");
    const restore = swapAfterResolving("dir/secret", swapDirForEtc(sandbox));
    try {
      const read = await files.read("/sandbox/dir/secret", 0).then(
        (chunk) => chunk.data.toString(),
        (e: unknown) => e,
      );
      assert.ok(read instanceof FilesError, `refused, not served: ${String(read)}`);
      assert.match(read.message, /is inaccessible/);
    } finally {
      restore();
    }
    // Without a race the file itself is served.
    assert.equal(
      (await files.read("/sandbox/dir.moved/secret", 0)).data.toString(),
      "the task's own\n",
    );
  },
);

test(
  "/files/download does not send root's file through a directory swapped for a link after the check",
  needsRoot,
  async () => {
    const { files, sandbox } = await setUp("download");
    const restore = swapAfterResolving("dir/secret", swapDirForEtc(sandbox));
    try {
      const got = await files.openDownload("/sandbox/dir/secret").then(
        async (d) => {
          try {
            return (await d.handle.readFile()).toString();
          } finally {
            await d.handle.close();
          }
        },
        (e: unknown) => e,
      );
      assert.ok(got instanceof FilesError, `refused, not sent: ${String(got)}`);
      assert.match(got.message, /is inaccessible/);
    } finally {
      restore();
    }
  },
);

test(
  "/files/browse does not list root's directory through a directory swapped for a link after the check",
  needsRoot,
  async () => {
    const { files, sandbox } = await setUp("browse");
    const restore = swapAfterResolving("sandbox/dir", swapDirForEtc(sandbox));
    try {
      const listed = await files.browse("/sandbox/dir").then(
        (entries) => entries.map((e) => e.path),
        (e: unknown) => e,
      );
      assert.ok(listed instanceof FilesError, `refused, not listed: ${String(listed)}`);
      assert.match(listed.message, /is inaccessible/);
    } finally {
      restore();
    }
    assert.deepEqual(
      (await files.browse("/sandbox/dir.moved")).map((e) => e.path),
      ["/sandbox/dir.moved/secret"],
    );
  },
);

/**
 * The fetcher of a root agent with a task user (`asUser`): every write into
 * the sandbox is made by a worker process running as that user, so a link
 * or a directory the user cannot write stops the fetch instead of letting
 * root write there; files from the root-owned cache still arrive, owned by
 * the user. Needs root (skipped otherwise).
 */
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  type CommandRunner,
  FetchError,
  fetchUris,
} from "../../src/agent/containerizer/fetcher.js";
import { FetcherCache } from "../../src/agent/containerizer/fetcher-cache.js";
import type { FetchUser } from "../../src/agent/containerizer/sandbox-writer.js";

const root = process.getuid?.() === 0;
const dirs: string[] = [];
function temp(prefix: string, mode = 0o755): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(d, mode);
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The agent's own runner: must not be used for sandbox writes when fetching as a user. */
const rootRun: CommandRunner = (file, args, cwd) =>
  new Promise((resolve) => {
    execFile(file, args, { cwd }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      resolve({ code, signal: null, output: `${stdout}${stderr}` });
    });
  });

function nobody(): FetchUser {
  const id = (flag: string) => Number(execFileSync("id", [flag, "nobody"]).toString());
  return { user: "nobody", uid: id("-u"), gid: id("-g") };
}

/** A sandbox of `who`, as the containerizer makes it (root creates it, then chowns it). */
function sandboxOf(who: FetchUser): string {
  const box = temp("fetch-user-sandbox-");
  chownSync(box, who.uid, who.gid);
  return box;
}

const rejectsWith = (p: Promise<unknown>, pattern: RegExp) =>
  assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof FetchError, String(e));
    assert.match(e.message, pattern);
    assert.doesNotMatch(e.message, /\n/);
    return true;
  });

describe("fetching as the task's user", { skip: root ? false : "needs root" }, () => {
  const who = root ? nobody() : { user: "nobody", uid: 65534, gid: 65534 };
  const src = temp("fetch-user-src-");
  if (root) {
    mkdirSync(join(src, "pkg"), { mode: 0o755 });
    writeFileSync(join(src, "pkg", "hello.txt"), "hello\n", { mode: 0o644 });
    writeFileSync(join(src, "tool.sh"), "#!/bin/sh\necho tool\n", { mode: 0o644 });
    writeFileSync(join(src, "secret.txt"), "root only\n", { mode: 0o600 });
    execFileSync("tar", ["-czf", join(src, "pkg.tar.gz"), "-C", src, "pkg"]);
    chmodSync(join(src, "pkg.tar.gz"), 0o644);
    // Several pipe buffers' worth, so that the cache's bytes reach the worker in many pieces.
    writeFileSync(join(src, "big.bin"), randomBytes(3 << 20), { mode: 0o644 });
  }

  it("a file the user cannot read is not fetched, directly or through the cache", async () => {
    const cache = new FetcherCache({
      dir: join(temp("fetch-user-cache-", 0o700), "c"),
      maxBytes: 1 << 20,
    });
    await cache.reset();
    for (const cached of [false, true]) {
      const box = sandboxOf(who);
      await rejectsWith(
        fetchUris([{ value: join(src, "secret.txt"), cache: cached }], {
          sandbox: box,
          run: rootRun,
          asUser: who,
          cache,
          user: who.user,
        }),
        /^Failed to fetch '.*secret\.txt': permission denied reading '.*secret\.txt'$/,
      );
      assert.equal(existsSync(join(box, "secret.txt")), false);
      // The failure is logged in the sandbox, by the user.
      assert.match(readFileSync(join(box, "stderr"), "utf8"), /permission denied reading/);
      assert.equal(statSync(join(box, "stderr")).uid, who.uid);
    }
    assert.equal(cache.size, 0);
  });

  it("fetched, extracted and cached files belong to the user; the cache stays root's", async () => {
    const cacheDir = join(temp("fetch-user-cache-", 0o700), "c");
    const cache = new FetcherCache({ dir: cacheDir, maxBytes: 16 << 20 });
    await cache.reset();
    for (const cached of [false, true, true]) {
      const box = sandboxOf(who);
      await fetchUris(
        [
          { value: join(src, "pkg.tar.gz"), cache: cached },
          { value: join(src, "tool.sh"), executable: true, cache: cached },
          { value: join(src, "big.bin"), cache: cached },
          { value: join(src, "pkg", "hello.txt"), output_file: "deep/er/copy.txt", cache: cached },
        ],
        { sandbox: box, run: rootRun, asUser: who, cache, user: who.user },
      );
      for (const file of [
        "pkg",
        "pkg/hello.txt",
        "tool.sh",
        "deep",
        "deep/er/copy.txt",
        "stderr",
      ]) {
        assert.equal(statSync(join(box, file)).uid, who.uid, `${file} (cache: ${cached})`);
      }
      assert.equal(readFileSync(join(box, "pkg", "hello.txt"), "utf8"), "hello\n");
      assert.equal(readFileSync(join(box, "deep/er/copy.txt"), "utf8"), "hello\n");
      assert.ok(readFileSync(join(box, "big.bin")).equals(readFileSync(join(src, "big.bin"))));
      assert.equal(statSync(join(box, "tool.sh")).mode & 0o777, 0o755);
      // Only the content of a cached archive, no scratch copies.
      assert.deepEqual(
        readdirSync(box).filter((n) => n.startsWith(".")),
        [],
        `no scratch files left (cache: ${cached})`,
      );
      assert.equal(existsSync(join(box, "pkg.tar.gz")), !cached);
    }
    const entries = readdirSync(join(cacheDir, "nobody"));
    assert.equal(entries.length, 4);
    for (const entry of entries) assert.equal(statSync(join(cacheDir, "nobody", entry)).uid, 0);
  });

  it("writes are the user's: a directory the user may not write, or a link to root's, stops the fetch", async () => {
    const box = sandboxOf(who);
    // Root could write here; the user cannot.
    mkdirSync(join(box, "sealed"), { mode: 0o755 });
    await rejectsWith(
      fetchUris([{ value: join(src, "tool.sh"), output_file: "sealed/tool.sh" }], {
        sandbox: box,
        run: rootRun,
        asUser: who,
      }),
      /^Failed to fetch '.*tool\.sh': permission denied writing '.*\/sealed\/tool\.sh'$/,
    );
    assert.equal(existsSync(join(box, "sealed", "tool.sh")), false);

    // A link the user put in its sandbox, towards a directory of root's (as /etc would be).
    const victim = temp("fetch-user-victim-");
    const linked = sandboxOf(who);
    symlinkSync(victim, join(linked, "pkg"));
    symlinkSync(join(victim, "log"), join(linked, "stderr"));
    writeFileSync(join(victim, "log"), "", { mode: 0o644 });
    await rejectsWith(
      fetchUris([{ value: join(src, "tool.sh"), output_file: "pkg/x" }], {
        sandbox: linked,
        run: rootRun,
        asUser: who,
      }),
      /^Failed to fetch '.*tool\.sh': permission denied writing '.*\/pkg\/x'$/,
    );
    assert.deepEqual(readdirSync(victim), ["log"], "nothing was written through the link");
    assert.equal(
      readFileSync(join(victim, "log"), "utf8"),
      "",
      "the log was not appended through the link",
    );
  });

  it("the worker has the user's supplementary groups: a file only such a group may read is fetched", async (t) => {
    const member = supplementaryMember();
    if (member === undefined) {
      t.skip("no user here with a supplementary group");
      return;
    }
    const shared = temp("fetch-user-group-");
    const file = join(shared, "group-only.txt");
    writeFileSync(file, "for the group\n");
    chownSync(file, 0, member.group);
    chmodSync(file, 0o640);
    const box = sandboxOf(member.who);
    await fetchUris([{ value: file }], { sandbox: box, run: rootRun, asUser: member.who });
    assert.equal(readFileSync(join(box, "group-only.txt"), "utf8"), "for the group\n");
    assert.equal(statSync(join(box, "group-only.txt")).uid, member.who.uid);
  });

  it("a fetch destroyed while it downloads fails at once", async () => {
    let requested!: () => void;
    const reached = new Promise<void>((resolve) => {
      requested = resolve;
    });
    // Answers nothing: the download hangs until the fetch is destroyed.
    const server = createServer(() => requested());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const box = sandboxOf(who);
      const abort = new AbortController();
      const fetching = fetchUris([{ value: `http://127.0.0.1:${port}/hang` }], {
        sandbox: box,
        run: rootRun,
        asUser: who,
        signal: abort.signal,
      });
      await reached;
      abort.abort();
      await rejectsWith(fetching, /^Failed to fetch '.*\/hang': the container was destroyed$/);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

/** A user of this host (not root) listed as a member of a group other than its own. */
function supplementaryMember(): { who: FetchUser; group: number } | undefined {
  for (const line of execFileSync("getent", ["group"]).toString().split("\n")) {
    const [, , gid, members] = line.split(":");
    for (const name of (members ?? "").split(",").filter((m) => m !== "" && m !== "root")) {
      const entry = execFileSync("getent", ["passwd", name]).toString().split(":");
      const uid = Number(entry[2]);
      const primary = Number(entry[3]);
      if (Number.isInteger(uid) && Number(gid) !== primary) {
        return { who: { user: name, uid, gid: primary }, group: Number(gid) };
      }
    }
  }
  return undefined;
}

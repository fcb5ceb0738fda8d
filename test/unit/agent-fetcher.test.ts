import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  FetchError,
  fetchUris,
  uriBasename,
  uriSource,
} from "../../src/agent/containerizer/fetcher.js";
import { execFileRunner } from "../harness/fetcher-runner.js";
import { ScratchDirs } from "../harness/scratch-dirs.js";

const scratch = new ScratchDirs();
const temp = (prefix: string) => scratch.make(prefix);
after(() => {
  scratch.removeAll();
});

const run = execFileRunner;

/** A source directory with `hello.txt` and archives of it. */
function sources() {
  const src = temp("fetch-src-");
  mkdirSync(join(src, "pkg"));
  writeFileSync(join(src, "pkg", "hello.txt"), "hello from the archive\n");
  writeFileSync(join(src, "script.sh"), "#!/bin/sh\necho hi\n");
  execFileSync("tar", ["-czf", join(src, "pkg.tar.gz"), "-C", src, "pkg"]);
  execFileSync("tar", ["-cjf", join(src, "pkg.tar.bz2"), "-C", src, "pkg"]);
  execFileSync("tar", ["-cJf", join(src, "pkg.txz"), "-C", src, "pkg"]);
  execFileSync("zip", ["-qr", join(src, "pkg.zip"), "pkg"], { cwd: src });
  execFileSync("sh", ["-c", `gzip -c "${join(src, "script.sh")}" > "${join(src, "notes.sh.gz")}"`]);
  return src;
}

function sandbox(): string {
  return temp("fetch-sandbox-");
}

const read = (path: string) => readFileSync(path, "utf8");

describe("agent fetcher", () => {
  const src = sources();

  it("copies a local file into the sandbox under its base name and logs to the sandbox stderr", async () => {
    const box = sandbox();
    await fetchUris([{ value: join(src, "script.sh"), extract: false }], { sandbox: box, run });
    assert.equal(read(join(box, "script.sh")), "#!/bin/sh\necho hi\n");
    assert.match(read(join(box, "stderr")), /Fetching '.*script\.sh' directly into the sandbox/);
  });

  it("makes an executable URI executable (0755) and does not extract it", async () => {
    const box = sandbox();
    await fetchUris([{ value: `file://${join(src, "pkg.tar.gz")}`, executable: true }], {
      sandbox: box,
      run,
    });
    assert.equal(statSync(join(box, "pkg.tar.gz")).mode & 0o777, 0o755);
    assert.throws(() => statSync(join(box, "pkg")));
  });

  for (const archive of ["pkg.tar.gz", "pkg.tar.bz2", "pkg.txz", "pkg.zip"]) {
    it(`extracts ${archive} into the sandbox`, async () => {
      const box = sandbox();
      await fetchUris([{ value: join(src, archive) }], { sandbox: box, run });
      assert.equal(read(join(box, "pkg", "hello.txt")), "hello from the archive\n");
      assert.match(read(join(box, "stderr")), /Extracted/);
    });
  }

  it("gunzips a bare .gz file next to it", async () => {
    const box = sandbox();
    await fetchUris([{ value: join(src, "notes.sh.gz") }], { sandbox: box, run });
    assert.equal(read(join(box, "notes.sh")), "#!/bin/sh\necho hi\n");
  });

  it("leaves an archive packed when extract is false", async () => {
    const box = sandbox();
    await fetchUris([{ value: join(src, "pkg.tar.gz"), extract: false }], { sandbox: box, run });
    assert.throws(() => statSync(join(box, "pkg")));
    assert.ok(statSync(join(box, "pkg.tar.gz")).isFile());
  });

  it("writes to output_file, creating its subdirectory, and refuses one outside the sandbox", async () => {
    const box = sandbox();
    await fetchUris(
      [{ value: join(src, "script.sh"), output_file: "bin/run.sh", extract: false }],
      {
        sandbox: box,
        run,
      },
    );
    assert.ok(statSync(join(box, "bin", "run.sh")).isFile());
    await assert.rejects(
      fetchUris([{ value: join(src, "script.sh"), output_file: "../../escape.sh" }], {
        sandbox: box,
        run,
      }),
      /^FetchError: Could not fetch: URI output file must be within the sandbox directory$/,
    );
  });

  it("resolves relative paths against --frameworks_home, and explains when it is unset", async () => {
    const box = sandbox();
    await fetchUris([{ value: "script.sh", extract: false }], {
      sandbox: box,
      run,
      frameworksHome: src,
    });
    assert.ok(statSync(join(box, "script.sh")).isFile());
    await assert.rejects(
      fetchUris([{ value: "script.sh" }], { sandbox: sandbox(), run }),
      /relative path was passed for the resource but the Mesos framework home was not specified/,
    );
  });

  it("fails readably for a missing file, an unsupported scheme and a broken archive", async () => {
    const box = sandbox();
    await assert.rejects(
      fetchUris([{ value: join(src, "missing.tgz") }], { sandbox: box, run }),
      (e: unknown) => e instanceof FetchError && /Failed to fetch '.*missing\.tgz'/.test(e.message),
    );
    assert.match(read(join(box, "stderr")), /Failed to fetch '.*missing\.tgz'/);
    await assert.rejects(
      fetchUris([{ value: "hdfs://nn/x.tgz" }], {
        sandbox: box,
        run,
        hadoopHome: join(src, "no-hadoop"),
      }),
      /Failed to fetch 'hdfs:\/\/nn\/x\.tgz': Failed to create HDFS client/,
    );
    await assert.rejects(
      fetchUris([{ value: "ftp://host/x.tgz" }], { sandbox: box, run }),
      /FTP and FTPS URIs are not supported/,
    );
    writeFileSync(join(src, "broken.tar.gz"), "not an archive");
    await assert.rejects(
      fetchUris([{ value: join(src, "broken.tar.gz") }], { sandbox: box, run }),
      /Failed to extract '.*broken\.tar\.gz': 'tar' exited with status/,
    );
  });

  it("names fetched files as Mesos does and classifies URIs", () => {
    assert.equal(uriBasename("http://host/dir/app.tar.gz"), "app.tar.gz");
    assert.deepEqual(uriBasename("http://host"), {
      error: "Malformed URI (missing path): http://host",
    });
    assert.deepEqual(uriBasename("/a/b'c"), { error: "Illegal characters in URI" });
    assert.deepEqual(uriSource("https://x/y", undefined), { kind: "net", url: "https://x/y" });
    assert.deepEqual(uriSource("file:///opt/a", undefined), { kind: "local", path: "/opt/a" });
    assert.equal(uriSource("file://relative/a", undefined).kind, "error");
  });
});

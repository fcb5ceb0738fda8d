/**
 * The fetcher as a user meets it: mesos-execute runs tasks whose
 * `CommandInfo.uris` a real agent fetches from a local HTTP server, the
 * agent's filesystem, `--frameworks_home` and a (fake) Hadoop client, with a
 * small fetcher cache. Checks what Mesos does: archives fetched through the
 * cache are extracted from it (the sandbox holds no copy), a URI larger than
 * the cache bypasses it without evicting anything, `output_file` is checked
 * before fetching, failures read as Mesos', and every launch counts in
 * `task_fetches_*`.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { closeServer, listenOnLoopback } from "../harness/loopback-server.js";
import { type DaemonHandle, getJson, runBinary, stopAll, tempDir } from "../harness/processes.js";
import { sandboxOf } from "./containerizer-helpers.js";

const CACHE_BYTES = 4096;

let master: DaemonHandle;
let agent: DaemonHandle;
let base = "";
const files = new Map<string, Buffer>();
/** GET requests per path (the cache's HEAD size probes are not downloads). */
const downloads = new Map<string, number>();
const stalled: ServerResponse[] = [];
const server = createServer((req, res) => {
  const path = req.url ?? "/";
  if (req.method === "GET") downloads.set(path, (downloads.get(path) ?? 0) + 1);
  if (path === "/stall") {
    // Headers and a few bytes, then nothing: only --fetcher_stall_timeout ends this.
    res.writeHead(200, { "content-length": "1000" });
    res.write("x".repeat(10));
    stalled.push(res);
    return;
  }
  const body = files.get(path);
  if (body === undefined) {
    res.writeHead(404).end("not found");
    return;
  }
  res.writeHead(200, { "content-length": body.length });
  res.end(req.method === "HEAD" ? undefined : body);
});

const src = tempDir("fetcher-walk-src-");
const home = tempDir("fetcher-walk-home-");
const hdfsRoot = tempDir("fetcher-walk-hdfs-");
const hadoopHome = tempDir("fetcher-walk-hadoop-");

/** Builds `<name>` (a tar.gz of pkg/hello.txt saying `text`) and serves it. */
function serveArchive(name: string, text: string, tarOptions: string[] = []): void {
  const dir = join(src, name.replace(/\W/g, "_"));
  mkdirSync(join(dir, "pkg"), { recursive: true });
  writeFileSync(join(dir, "pkg", "hello.txt"), `${text}\n`);
  execFileSync("tar", [...tarOptions, "-czf", join(src, name), "-C", dir, "pkg"]);
  files.set(`/${name}`, readFileSync(join(src, name)));
}

before(async () => {
  base = await listenOnLoopback(server);
  // Incompressible data of a given size, for the cache's accounting.
  for (const [name, size] of [
    ["big.bin", CACHE_BYTES + 1000],
    ["a.bin", 1500],
    ["b.bin", 1500],
    ["c.bin", 1500],
  ] as const) {
    files.set(`/${name}`, execFileSync("head", ["-c", String(size), "/dev/urandom"]));
  }
  writeFileSync(join(home, "tool.sh"), "#!/bin/sh\necho tool ran\n");
  mkdirSync(join(hdfsRoot, "data"));
  writeFileSync(join(hdfsRoot, "data", "input.txt"), "from hdfs\n");
  // A stand-in Hadoop client: `hadoop fs -copyToLocal hdfs://nn/<path> <dest>` copies <root>/<path>.
  mkdirSync(join(hadoopHome, "bin"));
  writeFileSync(
    join(hadoopHome, "bin", "hadoop"),
    [
      "#!/bin/sh",
      'if [ "$1" = version ]; then echo "Hadoop 3.3.6"; exit 0; fi',
      `root='${hdfsRoot}'`,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion
      'path="${3#hdfs://nn/}"',
      'if [ "$2" = -copyToLocal ]; then exec cp "$root/$path" "$4"; fi',
      'if [ "$2" = -du ]; then echo "$(wc -c < "$root/$path") $3"; exit 0; fi',
      "exit 2",
      "",
    ].join("\n"),
  );
  chmodSync(join(hadoopHome, "bin", "hadoop"), 0o755);

  ({ master, agent } = await startOneAgentCluster({
    fetcher_cache_size: `${CACHE_BYTES}B`,
    // Not the shared default (/tmp/mesos/fetch): another agent starting empties that.
    fetcher_cache_dir: join(tempDir("fetcher-walk-cache-"), "fetch"),
    frameworks_home: home,
    hadoop_home: hadoopHome,
    fetcher_stall_timeout: "3secs",
  }));
});

after(async () => {
  for (const res of stalled) res.destroy();
  await closeServer(server);
  await stopAll();
});

interface Uri {
  value: string;
  cache?: boolean;
  executable?: boolean;
  extract?: boolean;
  output_file?: string;
}

/** Runs a task with `uris` through mesos-execute; returns its output and its sandbox. */
async function runTask(id: string, command: string, uris: Uri[]) {
  const task = JSON.stringify({
    name: id,
    task_id: { value: id },
    resources: [
      { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
      { name: "mem", type: "SCALAR", scalar: { value: 32 } },
    ],
    command: { value: command, uris },
  });
  const run = await runBinary("mesos-execute", [`--master=${master.address}`, `--task=${task}`], {
    timeoutMs: 90_000,
  });
  const sandbox = await sandboxOf(agent, id);
  return { run, sandbox, stderr: () => readFileSync(join(sandbox, "stderr"), "utf8") };
}

function finished(run: { code: number | null; stdout: string; stderr: string }, id: string) {
  assert.ok(
    run.stdout.includes(`Received status update TASK_FINISHED for task '${id}'`),
    run.stdout + run.stderr,
  );
}

/** The TASK_FAILED update's message and reason, from mesos-execute's output. */
function failure(stdout: string, id: string): { message: string; reason: string } {
  const lines = stdout.split("\n");
  const at = lines.indexOf(`Received status update TASK_FAILED for task '${id}'`);
  assert.ok(at >= 0, stdout);
  const field = (name: string) =>
    lines
      .slice(at + 1)
      .find((l) => l.startsWith(`  ${name}: `))
      ?.slice(name.length + 4) ?? "";
  return { message: field("message").replace(/^'|'$/g, ""), reason: field("reason") };
}

async function metric(name: string): Promise<number> {
  const snapshot = await getJson<Record<string, number>>(`${agent.url}/metrics/snapshot`);
  return snapshot?.[name] ?? Number.NaN;
}

describe("fetcher walk", { timeout: 600_000 }, () => {
  it("an archive fetched through the cache is extracted from it: the sandbox gets the content, not the archive; the next task does not download", async () => {
    serveArchive("app.tar.gz", "hello from the archive");
    const uri = { value: `${base}/app.tar.gz`, cache: true };
    const first = await runTask("cached-1", "cat pkg/hello.txt", [uri]);
    finished(first.run, "cached-1");
    assert.equal(
      readFileSync(join(first.sandbox, "pkg", "hello.txt"), "utf8"),
      "hello from the archive\n",
    );
    assert.equal(existsSync(join(first.sandbox, "app.tar.gz")), false, "no copy of the archive");
    assert.match(first.stderr(), /fetcher\.ts\] Downloading resource from '.*app\.tar\.gz'/);
    assert.match(first.stderr(), /Fetching URI '.*app\.tar\.gz' from cache/);

    const second = await runTask("cached-2", "cat pkg/hello.txt", [uri]);
    finished(second.run, "cached-2");
    assert.equal(downloads.get("/app.tar.gz"), 1, second.stderr());
    assert.doesNotMatch(second.stderr(), /Downloading resource/);
    assert.equal(existsSync(join(second.sandbox, "app.tar.gz")), false);

    // cache: false fetches directly every time and keeps the archive next to its content.
    const direct = await runTask("direct-1", "cat pkg/hello.txt", [
      { value: `${base}/app.tar.gz` },
    ]);
    finished(direct.run, "direct-1");
    assert.ok(existsSync(join(direct.sandbox, "app.tar.gz")));
    assert.match(direct.stderr(), /Fetching '.*app\.tar\.gz' directly into the sandbox directory/);
    assert.equal(downloads.get("/app.tar.gz"), 2);
  });

  it("a URI larger than the cache bypasses it and evicts nothing; a full cache evicts the least recently used entry", async () => {
    const a = { value: `${base}/a.bin`, cache: true };
    const b = { value: `${base}/b.bin`, cache: true };
    const c = { value: `${base}/c.bin`, cache: true };
    finished((await runTask("evict-a", "true", [a])).run, "evict-a");
    const usedAfterA = await metric("containerizer/fetcher/cache_size_used_bytes");
    assert.ok(usedAfterA >= 1500, `used ${usedAfterA}`);

    const big = await runTask("too-big", "test -s big.bin", [
      { value: `${base}/big.bin`, cache: true },
    ]);
    finished(big.run, "too-big");
    assert.match(
      big.stderr(),
      /W\d{4} .* Reverting to fetching directly into the sandbox for '.*big\.bin', due to failure to fetch through the cache, with error: Failed to reserve space in the cache/,
    );
    assert.equal(await metric("containerizer/fetcher/cache_size_used_bytes"), usedAfterA);
    // a.bin is still cached: no second download.
    const a2 = await runTask("evict-a2", "true", [a]);
    finished(a2.run, "evict-a2");
    assert.equal(downloads.get("/a.bin"), 1, a2.stderr());

    // b fits; c does not fit next to a and b: the least recently used (a) goes.
    finished((await runTask("evict-b", "true", [b])).run, "evict-b");
    finished((await runTask("evict-c", "true", [c])).run, "evict-c");
    assert.ok(
      (await metric("containerizer/fetcher/cache_size_used_bytes")) <=
        (await metric("containerizer/fetcher/cache_size_total_bytes")),
    );
    finished((await runTask("evict-b2", "true", [b])).run, "evict-b2");
    assert.equal(downloads.get("/b.bin"), 1);
    finished((await runTask("evict-a3", "true", [a])).run, "evict-a3");
    assert.equal(downloads.get("/a.bin"), 2);
  });

  it("output_file: a relative path with directories works; an absolute one fails the task before anything is fetched", async () => {
    serveArchive("conf.tar.gz", "conf");
    const ok = await runTask("out-ok", "test -f etc/app/conf.tgz && cat pkg/hello.txt", [
      { value: `${base}/conf.tar.gz`, output_file: "etc/app/conf.tgz" },
    ]);
    finished(ok.run, "out-ok");

    const before = downloads.get("/conf.tar.gz");
    const bad = await runTask("out-abs", "true", [
      { value: `${base}/conf.tar.gz` },
      { value: `${base}/conf.tar.gz`, output_file: "/tmp/escape.tgz" },
    ]);
    const { message, reason } = failure(bad.run.stdout, "out-abs");
    assert.equal(
      message,
      "Failed to launch container: Could not fetch: URI output file must be within the sandbox directory",
    );
    assert.equal(reason, "REASON_CONTAINER_LAUNCH_FAILED");
    assert.equal(downloads.get("/conf.tar.gz"), before, "nothing was downloaded");
  });

  it("failures read as Mesos': a 404, a missing file; a stalled download ends after --fetcher_stall_timeout", async () => {
    const failedBefore = await metric("containerizer/fetcher/task_fetches_failed");
    const missing = await runTask("fail-404", "true", [{ value: `${base}/missing.tgz` }]);
    const f404 = failure(missing.run.stdout, "fail-404");
    assert.equal(
      f404.message,
      `Failed to launch container: Failed to fetch '${base}/missing.tgz': Error downloading resource, received HTTP return code 404`,
    );
    assert.equal(f404.reason, "REASON_CONTAINER_LAUNCH_FAILED");
    assert.match(
      missing.stderr(),
      /E\d{4} .* fetcher\.ts\] Failed to fetch '.*missing\.tgz': Error downloading resource, received HTTP return code 404\n/,
    );

    const local = await runTask("fail-local", "true", [{ value: join(src, "nope.txt") }]);
    assert.equal(
      failure(local.run.stdout, "fail-local").message,
      `Failed to launch container: Failed to fetch '${join(src, "nope.txt")}': '${join(src, "nope.txt")}' does not exist`,
    );

    const stall = await runTask("fail-stall", "true", [{ value: `${base}/stall` }]);
    assert.match(
      failure(stall.run.stdout, "fail-stall").message,
      /Failed to fetch '.*\/stall': Error downloading resource: no data for 3000ms \(stalled\)/,
    );
    assert.equal(await metric("containerizer/fetcher/task_fetches_failed"), failedBefore + 3);
  });

  it("relative paths come from --frameworks_home; hdfs:// goes to the Hadoop client of --hadoop_home; executable files are 0755", async () => {
    const run = await runTask("home-hdfs", "./tool.sh && cat input.txt", [
      { value: "tool.sh", executable: true },
      { value: "hdfs://nn/data/input.txt" },
    ]);
    finished(run.run, "home-hdfs");
    assert.equal(readFileSync(join(run.sandbox, "stdout"), "utf8"), "tool ran\nfrom hdfs\n");
    assert.match(
      run.stderr(),
      /Prepended Mesos frameworks home to relative path, making it: '.*tool\.sh'/,
    );
    assert.match(
      run.stderr(),
      /Downloading resource with Hadoop client from 'hdfs:\/\/nn\/data\/input\.txt'/,
    );
  });

  it("extracted files belong to the agent's user, not to the owner recorded in the archive, and lose setuid bits", {
    skip:
      process.getuid?.() === 0 ? false : "needs a root agent (others cannot keep foreign owners)",
  }, async () => {
    serveArchive("owned.tar.gz", "owned", ["--owner=4321", "--group=4321", "--mode=u+s"]);
    const run = await runTask("owner", "true", [{ value: `${base}/owned.tar.gz` }]);
    finished(run.run, "owner");
    const file = statSync(join(run.sandbox, "pkg", "hello.txt"));
    assert.equal(file.uid, 0);
    assert.equal(file.mode & 0o4000, 0, `mode ${file.mode.toString(8)}`);
  });

  it("a launch without URIs counts as a successful fetch (containerizer/fetcher/task_fetches_succeeded)", async () => {
    const before = await metric("containerizer/fetcher/task_fetches_succeeded");
    const run = await runTask("no-uris", "true", []);
    finished(run.run, "no-uris");
    assert.equal(await metric("containerizer/fetcher/task_fetches_succeeded"), before + 1);
  });
});

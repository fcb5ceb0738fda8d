/**
 * The launch shim and the DEBUG container launch through the real launcher
 * helper, as root: a PATH (or LD_PRELOAD) in the container's environment
 * reaches none of the programs run as root (fake `unshare`, `prlimit`,
 * `setpriv`, `nsenter`, ... that write a marker), and the executor, run as
 * `nobody`, still sees every variable byte for byte, without the
 * descriptor they came on. Needs root on Linux; skips otherwise.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { debugCommand } from "../../src/agent/containerizer/debug-containers.js";
import type { ExecutorCommand } from "../../src/agent/containerizer/executor-command.js";
import { mergePreparations, shimCommand } from "../../src/agent/containerizer/launch-shim.js";
import { LauncherClient } from "../../src/agent/containerizer/launcher.js";
import type { Logger } from "../../src/common/observability/logger.js";
import { tempDir, waitFor } from "../harness/processes.js";

const silentLogger: Logger = { info() {}, warn() {}, error() {}, verbose() {} };
const skip =
  process.platform !== "linux" || process.getuid?.() !== 0 ? "needs root on Linux" : undefined;
const compiler = ["cc", "gcc"].find((c) => spawnSync(c, ["--version"]).status === 0);

const ROOT_PROGRAMS = [
  "unshare",
  "nsenter",
  "setpriv",
  "prlimit",
  "mount",
  "chroot",
  "capsh",
  "stat",
];
// biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion that must stay text
const TRICKY = "a\nb 'c' \"d\" $HOME ${PATH} `id` \\ é ☃ x=y\n";

let dir: string;
let markers: string;
let evilBin: string;
let preload: string | undefined;
let nobody: { uid: number; gid: number };
const exits = new Map<number, unknown>();
let launcher: LauncherClient;

before(() => {
  if (skip !== undefined) return;
  dir = tempDir("shim-env-launch-");
  chmodSync(dir, 0o755);
  markers = join(dir, "markers");
  writeFileSync(markers, "", { mode: 0o666 });
  chmodSync(markers, 0o666);
  evilBin = join(dir, "evilbin");
  mkdirSync(evilBin, { mode: 0o755 });
  for (const name of ROOT_PROGRAMS) {
    const real = spawnSync("/bin/sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
    const then = real.status === 0 ? `exec ${real.stdout.trim()} "$@"` : "exit 1";
    const fake = join(evilBin, name);
    writeFileSync(
      fake,
      `#!/bin/sh\necho "$(/usr/bin/id -u) fake-${name}" >> ${markers}\n${then}\n`,
    );
    chmodSync(fake, 0o755);
  }
  if (compiler !== undefined) {
    const source = join(dir, "mark.c");
    preload = join(dir, "mark.so");
    writeFileSync(
      source,
      [
        "#include <stdio.h>",
        "#include <unistd.h>",
        "__attribute__((constructor)) static void mark(void) {",
        `  FILE *f = fopen(${JSON.stringify(markers)}, "a");`,
        '  if (f != NULL) { fprintf(f, "%d preload\\n", (int)getuid()); fclose(f); }',
        "}",
        "",
      ].join("\n"),
    );
    execFileSync(compiler, ["-shared", "-fPIC", "-o", preload, source]);
    chmodSync(preload, 0o755);
  }
  const id = (flag: string) => Number(execFileSync("id", [flag, "nobody"], { encoding: "utf8" }));
  nobody = { uid: id("-u"), gid: id("-g") };
  launcher = new LauncherClient(
    silentLogger,
    (pid, exit) => exits.set(pid, exit),
    () => {},
  );
});

after(() => launcher?.stop());

/** The container's environment of both tests. */
function environment(): Record<string, string> {
  return {
    PATH: `${evilBin}:/usr/bin:/bin`,
    TRICKY_VALUE: TRICKY,
    ...(preload === undefined ? {} : { LD_PRELOAD: preload }),
  };
}

/** What the executor prints: its environment (NUL-separated), and whether fd 4 is open in it. */
const REPORT: ExecutorCommand = {
  file: "/bin/sh",
  args: [
    "sh",
    "-c",
    "/usr/bin/env -0 > env.out; [ -e /proc/$$/fd/4 ] && echo open > fd4.out; true",
  ],
};

async function runAndRead(
  launch: { file: string; args: string[]; environmentFd?: number },
  env: Record<string, string>,
  cwd: string,
): Promise<Record<string, string>> {
  const reply = await launcher.spawn({
    op: "spawn",
    file: launch.file,
    args: launch.args,
    env,
    ...(launch.environmentFd === undefined ? {} : { environmentFd: launch.environmentFd }),
    cwd,
    stdout: join(cwd, "stdout"),
    stderr: join(cwd, "stderr"),
  });
  await waitFor("the executor's end", () => exits.has(reply.pid));
  const stderr = readFileSync(join(cwd, "stderr"), "utf8");
  const out: Record<string, string> = {};
  for (const entry of readFileSync(join(cwd, "env.out"), "utf8").split("\0")) {
    const at = entry.indexOf("=");
    if (at > 0) out[entry.slice(0, at)] = entry.slice(at + 1);
  }
  assert.ok(!existsSync(join(cwd, "fd4.out")), "the descriptor is closed in the executor");
  assert.equal(out.TRICKY_VALUE, TRICKY, stderr);
  return out;
}

function sandbox(name: string): string {
  const box = join(dir, name);
  mkdirSync(box);
  chmodSync(box, 0o777);
  return box;
}

function assertNoRootMarkers(): void {
  const lines = readFileSync(markers, "utf8")
    .split("\n")
    .filter((l) => l !== "");
  assert.deepEqual(
    lines.filter((l) => l.startsWith("0 ")),
    [],
    lines.join("\n"),
  );
  if (preload !== undefined) {
    // The library reached the executor (as nobody): the variable was applied.
    assert.ok(lines.includes(`${nobody.uid} preload`), lines.join("\n"));
  }
}

test("launch shim through the launcher helper: no root step sees the container's environment; the executor sees all of it", {
  skip,
}, async () => {
  const p = mergePreparations([
    { pidNamespace: true, mountProc: true },
    { rlimits: ["--nofile=1000:1000"] },
  ]);
  const box = sandbox("shim");
  const env = environment();
  const seen = await runAndRead(shimCommand(REPORT, p, nobody), env, box);
  for (const [k, v] of Object.entries(env)) assert.equal(seen[k], v, k);
  assertNoRootMarkers();
});

test("DEBUG container launch through the launcher helper: no root step sees the container's environment", {
  skip,
}, async () => {
  const box = sandbox("debug");
  const env = environment();
  const launch = debugCommand({
    command: REPORT,
    parent: { env: {}, workDir: box },
    env,
    namespaces: [],
    cgroupProcs: [],
    user: nobody,
  });
  const seen = await runAndRead(launch, launch.env, box);
  for (const [k, v] of Object.entries(env)) assert.equal(seen[k], v, k);
  assertNoRootMarkers();
});

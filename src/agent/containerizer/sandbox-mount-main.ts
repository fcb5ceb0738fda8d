/**
 * Makes one bind mount whose source (a SANDBOX_PATH volume's) or target
 * lies in a sandbox the task's user may change (another source, a host
 * path, is opened by its name). The launch shim runs it as
 * root inside the container's new mount namespace, just before the
 * executor (a bind mount's source must be opened in the namespace it is
 * mounted in, so the agent cannot hand over what it opened). The source is
 * found again as the isolator checked it (volume-sandbox-path.ts: nothing
 * made, no link out of the sandbox followed), the target is opened without
 * following links, and `mount` gets the two open files (`/proc/self/fd/3`
 * and `4`, not canonicalized): a directory the task swapped for a link
 * since the isolator's check is not what gets mounted.
 *
 *   node sandbox-mount-main.js '{"source":{"type":"PARENT","root":"/w/s","source":"/w/s/d"},
 *     "target":"/w/s/containers/c/d","targetSandbox":"/w/s/containers/c","readOnly":true}'
 *
 * A failure is one line on stderr and exit status 1.
 */
import { spawnSync } from "node:child_process";
import { type FileHandle, open } from "node:fs/promises";
import { relative, sep } from "node:path";
import type { BindMount } from "./isolators/isolator.js";
import { openSandboxPathSource } from "./isolators/volume-sandbox-path.js";
import { O_PATH } from "./o-path.js";
import { DIRECTORY_FLAGS, openEntryBelow } from "./sandbox-no-follow.js";

/** Opens the mount point: below `sandbox` without following links, elsewhere (the host's) by name. */
async function openTarget(target: string, sandbox: string | undefined): Promise<FileHandle> {
  if (sandbox === undefined) return await open(target, O_PATH);
  const names = relative(sandbox, target).split(sep);
  const top = await open(sandbox, DIRECTORY_FLAGS);
  try {
    const walked = await openEntryBelow(top, names, false);
    if ("stopped" in walked) {
      const what = walked.stopped.link === undefined ? "not a directory" : "a symbolic link";
      throw new Error(
        `'${names.slice(0, walked.stopped.at + 1).join("/")}' in '${sandbox}' is ${what}`,
      );
    }
    if (walked.entry === top) throw new Error(`'${target}' is the sandbox itself`);
    return walked.entry;
  } finally {
    await top.close();
  }
}

/** Runs `mount` with `files` as its fds 3, 4, ... */
function mount(args: string[], files: FileHandle[]): void {
  const r = spawnSync("mount", ["--no-canonicalize", ...args], {
    stdio: ["ignore", "ignore", "pipe", ...files.map((f) => f.fd)],
    // Started with an empty environment (launch-shim.ts).
    env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" },
    encoding: "utf8",
  });
  if (r.error !== undefined) throw r.error;
  if (r.status !== 0) {
    throw new Error((r.stderr ?? "").trim().split("\n")[0] || `mount exited with ${r.status}`);
  }
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "") as BindMount;
  const source =
    spec.sandboxPath === undefined
      ? await open(spec.source, O_PATH)
      : await openSandboxPathSource(spec.sandboxPath, false);
  let target = await openTarget(spec.target, spec.targetSandbox);
  try {
    mount(["--bind", "/proc/self/fd/3", "/proc/self/fd/4"], [source, target]);
    if (!spec.readOnly) return;
    // Read-only takes a remount of the new mount: its root is found by the
    // same walk, and must be the source (not something swapped in since).
    await target.close();
    target = await openTarget(spec.target, spec.targetSandbox);
    const [want, got] = [await source.stat(), await target.stat()];
    if (want.dev !== got.dev || want.ino !== got.ino) {
      throw new Error(`'${spec.target}' changed while it was mounted`);
    }
    mount(["-o", "remount,bind,ro", "/proc/self/fd/3"], [target]);
  } finally {
    await source.close();
    await target.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`mesos-containerizer: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});

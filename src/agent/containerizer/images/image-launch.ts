/**
 * How a process starts inside a container image: the command task's
 * command wrapped in `chroot` (the command executor itself stays on the
 * host), the executor environment, and, with the `docker/runtime`
 * isolator, the image's own settings: `Env` (under the task's own
 * variables), `WorkingDir`, and `Entrypoint`/`Cmd` when the CommandInfo
 * has `shell: false` and no value (Mesos' table: the entrypoint, then the
 * CommandInfo's arguments or else the image's Cmd).
 */
import { mkdir, realpath } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import type { CommandInfo } from "../../../common/protocol/generated/mesos-v1.js";
import { IMAGE_SANDBOX, shellQuote } from "../launch-shim.js";
import type { ImageConfig } from "./docker-store.js";

/** The image settings `docker/runtime` applies. */
export type ImageRuntime = ImageConfig;

/**
 * Why `docker/runtime` cannot build a launch command from `command` and the
 * image (Mesos' rules: a shell command needs a value; without a value the
 * image must have an Entrypoint or a Cmd), or undefined when it can.
 */
export function runtimeCommandError(
  command: CommandInfo,
  runtime: ImageRuntime,
): string | undefined {
  if (command.shell ?? true) {
    return command.value === undefined
      ? "Shell specified but no command value provided"
      : undefined;
  }
  if (command.value !== undefined) return undefined;
  const found = runtimeArgv(command, runtime);
  return "error" in found ? found.error : undefined;
}

/** The image's Env as name/value pairs; entries without `=` are skipped, as Mesos does. */
export function imageEnv(runtime: ImageRuntime | undefined): [string, string][] {
  const out: [string, string][] = [];
  for (const entry of runtime?.Env ?? []) {
    const at = entry.indexOf("=");
    if (at <= 0) continue;
    const name = entry.slice(0, at);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) continue;
    out.push([name, entry.slice(at + 1)]);
  }
  return out;
}

/** The argv from the image's Entrypoint/Cmd for a CommandInfo without a value, or an error. */
export function runtimeArgv(
  command: CommandInfo,
  runtime: ImageRuntime,
): { argv: string[] } | { error: string } {
  const entrypoint = runtime.Entrypoint ?? [];
  const cmd = runtime.Cmd ?? [];
  const args = command.arguments ?? [];
  if (entrypoint.length > 0) return { argv: [...entrypoint, ...(args.length > 0 ? args : cmd)] };
  const [program, ...rest] = cmd;
  if (program !== undefined) return { argv: [program, ...(args.length > 0 ? args : rest)] };
  return { error: "No executable is found" };
}

/** `export K=V` for the image's Env entries the task does not set itself. */
function exportsOf(runtime: ImageRuntime | undefined, command: CommandInfo): string {
  const own = new Set((command.environment?.variables ?? []).map((v) => v.name));
  const parts: string[] = [];
  for (const [name, value] of imageEnv(runtime)) {
    if (own.has(name)) continue;
    parts.push(`export ${name}=${shellQuote(value)}; `);
  }
  return parts.join("");
}

/**
 * A command task's command run in an image's root filesystem: `chroot`,
 * then (inside) a shell that applies the image's runtime settings, moves
 * into the working directory (the sandbox mount unless the image names
 * one), sets MESOS_SANDBOX and execs the task's own command.
 */
export function chrootTaskCommand(
  command: CommandInfo,
  rootfs: string,
  chroot: string,
  runtime?: ImageRuntime,
): CommandInfo {
  const workDir =
    runtime?.WorkingDir !== undefined && runtime.WorkingDir !== ""
      ? runtime.WorkingDir
      : IMAGE_SANDBOX;
  const enter = `${exportsOf(runtime, command)}cd ${shellQuote(workDir)} && MESOS_SANDBOX=${IMAGE_SANDBOX} exec`;
  let args: string[];
  if (command.shell ?? true) {
    args = ["chroot", rootfs, "/bin/sh", "-c", `${enter} /bin/sh -c "$0"`, command.value ?? ""];
  } else {
    let argv: string[];
    if (command.value === undefined && runtime !== undefined) {
      const found = runtimeArgv(command, runtime);
      argv =
        "argv" in found
          ? found.argv
          : ["/bin/sh", "-c", `echo ${shellQuote(found.error)} >&2; exit 1`];
    } else {
      argv = [command.value ?? "", ...(command.arguments ?? []).slice(1)];
    }
    args = ["chroot", rootfs, "/bin/sh", "-c", `${enter} "$@"`, "mesos-task", ...argv];
  }
  const wrapped: CommandInfo = { shell: false, value: chroot, arguments: args };
  if (command.environment !== undefined) wrapped.environment = command.environment;
  return wrapped;
}

/** The image's Env as variables for an executor running inside it (the task's win). */
export function imageVariables(
  runtime: ImageRuntime | undefined,
  executorEnvironment: Readonly<Record<string, string>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of imageEnv(runtime)) {
    if (name.startsWith("MESOS_")) continue;
    // Variables the framework set for the executor win; the host's PATH does not.
    if (name in executorEnvironment && name !== "PATH") continue;
    out[name] = value;
  }
  return out;
}

/** The environment an executor inside an image is started with (the sandbox path changes). */
export function imageEnvironment(
  environment: Readonly<Record<string, string>>,
): Record<string, string> {
  return { ...environment, MESOS_SANDBOX: IMAGE_SANDBOX };
}

/**
 * Creates the image's WorkingDir in `rootfs` when the image lacks it, as
 * Mesos' launcher does. It is created on the host before the chroot, so a
 * path that leads out of the rootfs through a symlink is left alone.
 */
export async function ensureWorkingDir(rootfs: string, workingDir: string): Promise<void> {
  const target = join(rootfs, workingDir);
  let existing = target;
  let resolved: string | undefined;
  while (resolved === undefined) {
    try {
      resolved = await realpath(existing);
    } catch {
      const parent = dirname(existing);
      if (parent === existing) return;
      existing = parent;
    }
  }
  if (existing === target) return;
  if (relative(await realpath(rootfs), resolved).startsWith("..")) return;
  await mkdir(join(resolved, relative(existing, target)), { recursive: true }).catch(
    () => undefined,
  );
}

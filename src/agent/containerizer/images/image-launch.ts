/**
 * How a process starts inside a container image: the command task's
 * command wrapped in `chroot` (the command executor itself stays on the
 * host), the executor environment, and, with the `docker/runtime`
 * isolator, the image's own settings: `Env` (under the task's own
 * variables), `WorkingDir`, and `Entrypoint`/`Cmd` when the CommandInfo
 * has `shell: false` and no value (Mesos' table: the entrypoint, then the
 * CommandInfo's arguments or else the image's Cmd).
 */
import type { CommandInfo } from "../../../common/protocol/generated/mesos-v1.js";
import { IMAGE_SANDBOX, shellQuote } from "../launch-shim.js";
import type { StoredImage } from "./docker-store.js";

/** The image settings `docker/runtime` applies. */
export type ImageRuntime = StoredImage["config"];

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
  return { error: "the command has no value and the image has no Entrypoint or Cmd" };
}

/** `export K=V` for the image's Env entries the task does not set itself. */
function exportsOf(runtime: ImageRuntime | undefined, command: CommandInfo): string {
  const own = new Set((command.environment?.variables ?? []).map((v) => v.name));
  const parts: string[] = [];
  for (const entry of runtime?.Env ?? []) {
    const at = entry.indexOf("=");
    const name = at < 0 ? entry : entry.slice(0, at);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || own.has(name)) continue;
    parts.push(`export ${name}=${shellQuote(at < 0 ? "" : entry.slice(at + 1))}; `);
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
  for (const entry of runtime?.Env ?? []) {
    const at = entry.indexOf("=");
    const name = at < 0 ? entry : entry.slice(0, at);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || name.startsWith("MESOS_")) continue;
    // Variables the framework set for the executor win; the host's PATH does not.
    if (name in executorEnvironment && name !== "PATH") continue;
    out[name] = at < 0 ? "" : entry.slice(at + 1);
  }
  return out;
}

/** The environment an executor inside an image is started with (the sandbox path changes). */
export function imageEnvironment(
  environment: Readonly<Record<string, string>>,
): Record<string, string> {
  return { ...environment, MESOS_SANDBOX: IMAGE_SANDBOX };
}

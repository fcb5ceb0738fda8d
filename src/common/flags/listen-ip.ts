/**
 * The IP a daemon listens on, settled before anything binds: `--ip`, or the
 * trimmed output of `--ip_discovery_command` (run once, through the shell),
 * which must be an IP address. As the Mesos binaries do, the answer goes
 * into `LIBPROCESS_IP`, so the listener and the executors an agent starts
 * (which inherit that one variable) use the same address.
 */
import { execFileSync } from "node:child_process";
import { isIP } from "node:net";

/** Runs `command` with `/bin/sh -c` and returns its stdout; throws an Error saying why not. */
export type ShellRunner = (command: string) => string;

/** How long a discovery command may run before start-up fails. */
const DISCOVERY_TIMEOUT_MS = 60_000;

/** Runs a command through `/bin/sh`; its stderr goes to ours, so users see why it failed. */
export const runShell: ShellRunner = (command) =>
  execFileSync("/bin/sh", ["-c", command], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: DISCOVERY_TIMEOUT_MS,
  });

/** The flag values read here; `ip` is cleared when discovery replaces it. */
export interface ListenIpFlags {
  ip?: string | undefined;
  ip_discovery_command?: string | undefined;
}

/**
 * Settles the listen IP: with `--ip_discovery_command`, runs it and puts the
 * address into `env.LIBPROCESS_IP` (clearing an `ip` that came from the
 * environment, so the discovered address wins); with `--ip`, copies it there.
 * Returns an error line, or undefined when start-up may go on.
 */
export function settleListenIp(
  values: ListenIpFlags,
  env: Record<string, string | undefined>,
  run: ShellRunner = runShell,
): string | undefined {
  const command = values.ip_discovery_command;
  if (command === undefined) {
    if (values.ip !== undefined) env.LIBPROCESS_IP = values.ip;
    return undefined;
  }
  let output: string;
  try {
    output = run(command);
  } catch (e) {
    return `Failed to run --ip_discovery_command '${command}': ${firstLine(e)}`;
  }
  const ip = output.trim();
  if (isIP(ip) === 0) {
    return `--ip_discovery_command '${command}' printed '${ip}', which is not an IP address`;
  }
  values.ip = undefined;
  env.LIBPROCESS_IP = ip;
  return undefined;
}

function firstLine(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.split("\n")[0] ?? message;
}

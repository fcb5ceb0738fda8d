/**
 * `mesos resolve [MASTER]`: the leading master's `ip:port`, as Mesos'
 * mesos-resolve prints it. For `zk://...` the leader is read from
 * ZooKeeper's election group; a master address is printed as it is (its
 * host name resolved), without asking that master, as mesos-resolve's
 * standalone detector does.
 *
 * As mesos-resolve, a `zk://` leader is waited for `--timeout` (default
 * 5secs, not the CLI's 10secs); none by then prints "Failed to detect master
 * from '<master>' within <timeout>" and exits with 255 (its `return -1`).
 */
import { lookup } from "node:dns/promises";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { Command } from "commander";
import { Duration } from "../../common/flags/duration.js";
import { CliError } from "./support/cli-error.js";
import type { CommandContext } from "./support/context.js";
import { parseMasterAddress } from "./support/master-address.js";
import { zkLeader } from "./support/zk-leader.js";

/** The zk:// URL a `file://` address holds, if that is what it holds. */
function zkInFile(address: string): string | undefined {
  let contents: string;
  try {
    contents = readFileSync(address.slice("file://".length), "utf8").trim();
  } catch {
    return undefined; // parseMasterAddress reports the unreadable file
  }
  return contents.startsWith("zk://") ? contents : undefined;
}

/** mesos-resolve's default `--timeout`. */
export const RESOLVE_TIMEOUT_MS = 5000;

/** mesos-resolve's exit status when no leader was detected in time (`return -1`). */
export const EXIT_NOT_DETECTED = 255;

export function resolveCommand(ctx: CommandContext): Command {
  return new Command("resolve")
    .description("print the address (ip:port) of the leading master")
    .argument("[master]", "master address: host:port, file:///path, or zk://host:port/path")
    .option("--verbose", "accepted for mesos-resolve compatibility (no effect)")
    .addHelpText(
      "after",
      "\nWith zk://, waits --timeout for a leader (default 5secs, as mesos-resolve); none by then: exit 255.\n",
    )
    .action(async (address: string | undefined) => {
      const given = (address ?? ctx.settings().master.value).trim();
      // As mesos-resolve, a file:// address may hold a zk:// URL.
      const text = given.startsWith("file://") ? (zkInFile(given) ?? given) : given;
      if (text.startsWith("zk://")) {
        const setting = ctx.settings().timeoutMs;
        const timeoutMs = setting.source === "default" ? RESOLVE_TIMEOUT_MS : setting.value;
        const leader = await zkLeader(
          text,
          timeoutMs,
          () =>
            new CliError(
              `Failed to detect master from '${given}' within ${Duration.of(`${timeoutMs}ms`).toString()}`,
              EXIT_NOT_DETECTED,
            ),
        );
        if (ctx.json)
          ctx.printJson({ leader: leader.address, pid: leader.pid, leader_info: leader.info });
        else ctx.print(leader.address);
        return;
      }
      // As mesos-resolve (a standalone detector): a master address is its own
      // answer, printed as ip:port without asking that master anything.
      const master = address === undefined ? await ctx.master() : parseMasterAddress(address);
      const resolved = await ipAddress(master.address);
      if (ctx.json) {
        ctx.printJson({ leader: resolved, pid: `master@${resolved}`, leader_info: null });
        return;
      }
      ctx.print(resolved);
    });
}

/** `host:port` with the host resolved to an IPv4 address, as a libprocess pid holds it. */
async function ipAddress(address: string): Promise<string> {
  const colon = address.lastIndexOf(":");
  const host = address.slice(0, colon).replace(/^\[|\]$/g, "");
  const port = address.slice(colon + 1);
  if (isIP(host) !== 0) return `${host}:${port}`;
  try {
    return `${(await lookup(host, { family: 4 })).address}:${port}`;
  } catch (e) {
    throw new CliError(
      `Failed to create a master detector: failed to resolve '${host}': ${(e as Error).message}`,
    );
  }
}

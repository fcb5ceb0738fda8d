/**
 * `mesos-execute`: runs one command (or a task / task group given as JSON)
 * on a Mesos cluster as a tiny framework, printing its status updates.
 * Unlike Mesos' own (which exits 0 whatever the task's end), it exits 0 only
 * when every task finished (TASK_FINISHED).
 */
import { userInfo } from "node:os";
import { loadFlags, wantsHelp } from "../common/flags/load.js";
import { usage } from "../common/flags/usage.js";
import { GlogLogger } from "../common/observability/glog.js";
import { systemClock } from "../common/time/clock.js";
import { CommandScheduler } from "./execute/command-scheduler.js";
import { executeFlagSchema } from "./execute/flags.js";
import { planExecution } from "./execute/plan.js";

const PROGRAM = "mesos-execute";

export async function main(argv: string[]): Promise<number> {
  // Like Mesos' mesos-execute, flags come from the command line only.
  if (wantsHelp(argv)) {
    process.stdout.write(`${usage(executeFlagSchema, PROGRAM)}\n`);
    return 0;
  }
  const loaded = loadFlags(executeFlagSchema, { argv, env: {} });
  if (!loaded.ok) {
    process.stderr.write(
      `${loaded.error}\n\nSee \`${PROGRAM} --help\` for a list of supported flags.\n`,
    );
    return 1;
  }
  let user: string;
  try {
    user = userInfo().username;
  } catch (e) {
    process.stderr.write(`Failed to get username: ${(e as Error).message}\n`);
    return 1;
  }
  const planned = planExecution(loaded.flags.values, user);
  if (!planned.ok) {
    process.stderr.write(`${planned.error}\n`);
    return 1;
  }
  // Warnings only for a run that goes ahead: a refused flag's "no effect yet"
  // warning would just repeat (and contradict) the refusal.
  const logger = new GlogLogger({ program: PROGRAM, minLevel: "INFO" });
  for (const warning of loaded.flags.warnings) logger.warn(warning);

  const scheduler = new CommandScheduler(
    planned.plan,
    {
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
    },
    systemClock,
    logger,
  );
  const onSignal = () => scheduler.interrupt();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  scheduler.start();
  const code = await scheduler.exitCode;
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  logger.close();
  return code;
}

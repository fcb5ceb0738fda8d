/**
 * What the command executor loads once its SUBSCRIBE is on the wire: the
 * task state machine and the process launcher, behind one import so it can
 * be bundled as one file too (see launch-command.ts). An executor host
 * (`--command_executors_per_process`) loads it at start.
 */
import { CommandExecutor } from "./command-executor.js";
import { serveExecutorHost } from "./executor-host.js";
import { childProcessLauncher } from "./task-process.js";

export { CommandExecutor, childProcessLauncher, serveExecutorHost };

/**
 * What the command executor loads once its SUBSCRIBE is on the wire: the
 * task state machine and the process launcher, behind one import so it can
 * be bundled as one file too (see launch-command.ts).
 */
import { CommandExecutor } from "./command-executor.js";
import { childProcessLauncher } from "./task-process.js";

export { CommandExecutor, childProcessLauncher };

/**
 * Ends a session's wait for its stdin after a deadline (see
 * session-stdin-deadline.ts). The session's shell runs it in the
 * background, with an empty environment:
 *
 *   node session-stdin-deadline-main.js <stdin fifo> <seconds>
 *
 * Exit status 3: the deadline passed; 0: nothing to watch, or the shell is
 * gone. The shell kills it (SIGTERM) once its stdin is open.
 */
import { watchStdin } from "./session-stdin-deadline.js";

const [fifo, seconds] = process.argv.slice(2);
const deadline = Number(seconds);
if (fifo === undefined || !Number.isFinite(deadline) || deadline <= 0) {
  process.stderr.write("usage: session-stdin-deadline-main.js <fifo> <seconds>\n");
  process.exit(2);
}
// The shell's SIGTERM once its stdin is open: handled between turns, so never
// in the middle of the deadline's (which exits from within).
process.on("SIGTERM", () => process.exit(0));
watchStdin(fifo, deadline, (status) => process.exit(status));

/**
 * How long a container session waits for its stdin. A session's shell
 * (root's first step for a DEBUG container, debug-containers.ts; the last
 * step, as the user, for one under a top-level container) opens the named
 * pipe of its stdin for reading, which blocks
 * until a writer opens it: the agent, right after it started the session
 * (nested-containers.ts). An agent that died in between, with none started
 * again on its work_dir (a restarted one kills the session), would leave
 * the session blocked in open(2) forever, holding its parent's cgroups and
 * its pid. So the shell starts {@link watchStdin} (session-stdin-deadline-main.ts)
 * in the background before it opens the pipe and ends it once the open
 * returned: after {@link SESSION_STDIN_DEADLINE_SECONDS} the watcher opens
 * the pipe for writing itself, which lets the shell's open return, and
 * exits with {@link STDIN_DEADLINE_EXPIRED}; the shell then fails with a
 * one-line message instead of running the command with no input.
 *
 * Keep the imports to Node's own (and o-path.ts): it runs as its own small program.
 */
import { closeSync, constants as fsConstants, fstatSync, openSync } from "node:fs";
import { O_PATH } from "./o-path.js";

/**
 * The deadline. The agent opens the pipe as soon as the session has
 * started (Mesos' I/O switchboard starts a DEBUG container at once and
 * waits without limit for the first connection, but its container never
 * blocks), so this only ends sessions whose agent is gone: a minute also
 * covers an agent that a heavy load slows down.
 */
export const SESSION_STDIN_DEADLINE_SECONDS = 60;

/** The watcher's exit status when the deadline passed. */
export const STDIN_DEADLINE_EXPIRED = 3;

/** /proc/<pid>/fd/<n>: another process's handle, a link to follow (it is no user's name). */
const HANDLE_LINK = /^\/proc\/\d+\/fd\/\d+$/;

/** How often the watcher checks that the shell that started it still runs. */
const PARENT_POLL_MS = 1000;

/**
 * Calls `finish` with the watcher's exit status: {@link STDIN_DEADLINE_EXPIRED}
 * once `seconds` passed (right after letting the shell's open of `fifo`
 * return, in the same turn: the shell kills the watcher as soon as its open
 * returned, and must find the deadline's status), 0 when there is nothing
 * to watch (not a named pipe: the shell's own open reports that) or when
 * the shell that started it (the parent) is gone. Otherwise the shell kills
 * it once its open returned.
 */
export function watchStdin(fifo: string, seconds: number, finish: (status: number) => void): void {
  const parent = process.ppid;
  let handle: number;
  try {
    // The pipe lies in the session's sandbox, which its user may change: a
    // handle on whatever is there now, not followed through a link (unless
    // it is the agent's handle on the pipe), is checked before anything
    // opens it for writing.
    handle = openSync(fifo, HANDLE_LINK.test(fifo) ? O_PATH : O_PATH | fsConstants.O_NOFOLLOW);
  } catch {
    finish(0);
    return;
  }
  if (!fstatSync(handle).isFIFO()) {
    closeSync(handle);
    finish(0);
    return;
  }
  const poll = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(poll);
    clearTimeout(timer);
    finish(0);
  }, PARENT_POLL_MS);
  const timer = setTimeout(() => {
    clearInterval(poll);
    try {
      // A writer that comes and goes: the shell's open for reading returns.
      closeSync(openSync(`/proc/self/fd/${handle}`, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK));
    } catch {
      // No reader (ENXIO): the shell waits on another file, put there
      // since this handle was taken. It cannot be woken: it ends.
      if (process.ppid === parent) {
        process.stderr.write(
          `mesos-containerizer: nobody opened the session's stdin within ${seconds} seconds\n`,
        );
        try {
          process.kill(parent, "SIGKILL");
        } catch {
          // Gone meanwhile.
        }
      }
    }
    finish(STDIN_DEADLINE_EXPIRED);
  }, seconds * 1000);
}

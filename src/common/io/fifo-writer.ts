/**
 * The writing end of a named pipe whose reader opens it later (a container
 * session's stdin). Bytes written before the reader has the pipe open wait
 * here, not in the pipe: a pipe with no reader left loses its buffer when
 * its last writer closes, so data and EOF sent early would never arrive and
 * the reader's open would wait for a writer forever.
 */
import { closeSync, constants as fsConstants, fstatSync, openSync } from "node:fs";
import { Socket } from "node:net";
import { PassThrough, type Writable } from "node:stream";

/** How often the writer tries again to open a pipe nobody reads yet. */
const OPEN_RETRY_MS = 5;

/**
 * A stream writing to the FIFO at `path` once a reader has it open (or is
 * waiting in its open). Ending it gives the reader EOF after everything
 * written; destroying it stops the attempts to open. Errors of the pipe
 * (EPIPE once the reader has gone) destroy it with that error.
 */
export function fifoWriter(path: string): Writable {
  const buffer = new PassThrough();
  let timer: NodeJS.Timeout | undefined;
  let pipe: Socket | undefined;
  const tryOpen = () => {
    timer = undefined;
    if (buffer.destroyed) return;
    let fd: number;
    try {
      // Non-blocking: fails with ENXIO while no process has the pipe open for
      // reading. Never through a link: the pipe may lie where a task's user
      // can swap it for one (to a file this process may write and the user not).
      fd = openSync(path, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOFOLLOW);
      if (!fstatSync(fd).isFIFO()) {
        closeSync(fd);
        buffer.destroy(new Error(`'${path}' is not a named pipe`));
        return;
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENXIO") {
        timer = setTimeout(tryOpen, OPEN_RETRY_MS);
        return;
      }
      buffer.destroy(e as Error);
      return;
    }
    pipe = new Socket({ fd, readable: false, writable: true });
    pipe.on("error", (e) => buffer.destroy(e));
    buffer.pipe(pipe);
  };
  buffer.on("close", () => {
    if (timer !== undefined) clearTimeout(timer);
    // Destroyed rather than ended: the reader sees EOF now, not after the rest.
    if (pipe !== undefined && !buffer.readableEnded) pipe.destroy();
  });
  tryOpen();
  return buffer;
}

/**
 * A log file that is handed to `logrotate` before it would grow past its
 * maximum size: bytes are appended in pieces of at most one read buffer,
 * and when the next piece would pass the maximum the file is closed, the
 * rotation runs, and a fresh file is opened (in append mode, since a failed
 * rotation leaves the old one in place).
 */

import { closeSync, openSync, statSync, writeSync } from "node:fs";
import { LOGGER_BUFFER_SIZE } from "./logrotate-settings.js";

export class RotatingLog {
  private fd: number | undefined;
  private written: number;

  /**
   * @param path the leading log file (`<sandbox>/stdout`).
   * @param maxSize bytes the file may hold.
   * @param rotate moves the file aside (runs `logrotate`); its failures are the caller's to report.
   * @param warn reports a failed write (the bytes are dropped so the container never blocks).
   */
  constructor(
    private readonly path: string,
    private readonly maxSize: number,
    private readonly rotate: () => void,
    private readonly warn: (message: string) => void = () => {},
  ) {
    // A logger restarted on an existing file keeps counting from its size.
    this.written = sizeOf(path);
  }

  /** Appends `chunk`, rotating first whenever a piece would pass the maximum. */
  write(chunk: Uint8Array): void {
    for (let at = 0; at < chunk.length; at += LOGGER_BUFFER_SIZE) {
      const piece = chunk.subarray(at, Math.min(at + LOGGER_BUFFER_SIZE, chunk.length));
      if (this.written + piece.length > this.maxSize) this.rotateNow();
      this.fd ??= openSync(this.path, "a", 0o644);
      try {
        let done = 0;
        while (done < piece.length) done += writeSync(this.fd, piece, done);
      } catch (e) {
        this.warn(`Failed to write '${this.path}': ${(e as Error).message}`);
      }
      this.written += piece.length;
    }
  }

  /** Closes the file (the container's output ended). */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private rotateNow(): void {
    this.close();
    this.rotate();
    // As in Mesos: even when the rotation failed, counting starts again, so a
    // broken `logrotate` is retried after another full file, not on every write.
    this.written = 0;
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * What a `mesos` command may touch outside itself: its output streams, the
 * environment, the home directory and a clock. Injected so unit tests can
 * run commands without a terminal.
 */
import type { Readable } from "node:stream";
import type { Clock } from "../../../common/time/clock.js";

export interface CliIo {
  /** Writes to stdout as is. */
  out(text: string): void;
  /** Writes to stderr as is. */
  err(text: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The operator's home directory (for `~/.mesos.json`). */
  readonly homeDir: string;
  readonly clock: Clock;
  /** Our stdin, for `task exec -i` (unset: the process's own). */
  readonly stdin?: () => Readable;
  /** Directory of the `mesos` launcher itself, searched for plugins first (as Mesos does). */
  readonly launcherDir?: string;
}

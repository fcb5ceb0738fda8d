/** Reconnect timing for outbound peer connections. */

export interface BackoffOptions {
  /** Wait after the first failed connect. */
  initialMs: number;
  /** Longest wait between attempts. */
  maxMs: number;
  /**
   * After this many failed connects in a row, messages still queued for the
   * peer are dropped (as libprocess drops them on the first failure) and
   * retrying stops until the next send or link.
   */
  giveUpAfterFailures: number;
}

/** 50 ms doubling to 5 s; about 20 s of attempts before queued messages are dropped. */
export const DEFAULT_BACKOFF: BackoffOptions = {
  initialMs: 50,
  maxMs: 5_000,
  giveUpAfterFailures: 10,
};

/** Delay before attempt `failures + 1`, given `failures` >= 1 failed attempts so far. */
export function backoffDelay(failures: number, options: BackoffOptions): number {
  const exp = Math.min(Math.max(failures - 1, 0), 30);
  return Math.min(options.maxMs, options.initialMs * 2 ** exp);
}

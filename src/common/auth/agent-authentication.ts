/**
 * The agent's side of `--credential`: every (re-)registration message is
 * preceded by a CRAM-MD5 handshake with that master, as a Mesos agent
 * authenticates before it registers. The registration message is held until
 * the handshake completes and sent right after; the registration state
 * machine's own retries start a new handshake each time, so a master that
 * restarted (and forgot us) is authenticated with again.
 *
 * As in Mesos, a handshake that fails or gets no answer is tried again after
 * a random timeout whose range widens with each failure, and a refusal
 * (wrong credential) is fatal: the agent exits.
 */
import type { Logger } from "../observability/logger.js";
import type { ProcessHost } from "../process/process-host.js";
import type { MessageTypeMap, MessageTypeName } from "../protocol/index.js";
import type { Clock, TimerHandle } from "../time/clock.js";
import type { RandomSource } from "../time/random.js";
import { AUTHENTICATION_REFUSED, CramMd5Authenticatee } from "./cram-md5.js";
import type { Credential } from "./credentials.js";

/** How a libprocess peer sends typed messages (the agent's transport). */
export interface LibprocessTransport {
  send<K extends MessageTypeName>(to: string, type: K, message: MessageTypeMap[K]): void;
  link(to: string): void;
}

export interface AgentAuthenticationOptions {
  readonly host: ProcessHost;
  /** The agent process' pid text (what the master authenticates). */
  readonly self: () => string;
  readonly credential: Credential;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: RandomSource;
  /**
   * `--authentication_timeout_min|max` and `--authentication_backoff_factor`
   * (ms). A handshake gives up after a random time in [min, min + factor x 2],
   * and each one that times out doubles the range's width, up to max.
   */
  readonly timeouts?: { minMs: number; maxMs: number; backoffFactorMs: number };
  /** The master refused the credential: Mesos' agent exits (its executors keep running). */
  readonly onRefused?: (message: string) => void;
}

const REGISTRATIONS: ReadonlySet<string> = new Set([
  "mesos.internal.RegisterSlaveMessage",
  "mesos.internal.ReregisterSlaveMessage",
]);

const DEFAULT_TIMEOUTS = { minMs: 5000, maxMs: 60_000, backoffFactorMs: 1000 };

/** Wraps `inner` so registrations are sent only after authenticating with their master. */
export function withAgentAuthentication(
  inner: LibprocessTransport,
  options: AgentAuthenticationOptions,
): LibprocessTransport {
  const authenticatee = options.host.spawn(new CramMd5Authenticatee());
  const { minMs, maxMs, backoffFactorMs } = options.timeouts ?? DEFAULT_TIMEOUTS;
  const firstMaxMs = Math.min(minMs + backoffFactorMs * 2, maxMs);
  let rangeMaxMs = firstMaxMs;
  let attempt = 0;
  let inFlight: { master: string; timer: TimerHandle } | undefined;
  let held: (() => void) | undefined;

  const start = (to: string): void => {
    const mine = ++attempt;
    const timeoutMs = minMs + (rangeMaxMs - minMs) * options.random.next();
    const timer = options.clock.setTimer(timeoutMs, () => {
      if (mine !== attempt) return;
      options.logger.warn(`Authentication with master ${to} timed out; trying again`);
      rangeMaxMs = Math.min(minMs + (rangeMaxMs - minMs) * 2, maxMs);
      start(to);
    });
    if (inFlight !== undefined) options.clock.cancelTimer(inFlight.timer);
    inFlight = { master: to, timer };
    options.logger.info(
      `Authenticating with master ${to} as '${options.credential.principal}' (CRAM-MD5)`,
    );
    void authenticatee.authenticate(to, options.self(), options.credential).then((outcome) => {
      if (mine !== attempt) return;
      if (outcome !== true && outcome !== AUTHENTICATION_REFUSED) {
        // An error, not a refusal: tried again when this attempt's time is up, as Mesos does.
        options.logger.warn(`Failed to authenticate with master ${to}: ${outcome}`);
        return;
      }
      options.clock.cancelTimer(timer);
      inFlight = undefined;
      if (outcome !== true) {
        const message = `Master ${to} refused authentication: ${outcome}`;
        options.logger.error(message);
        options.onRefused?.(message);
        return;
      }
      options.logger.info(`Successfully authenticated with master ${to}`);
      rangeMaxMs = firstMaxMs;
      const send = held;
      held = undefined;
      send?.();
    });
  };

  return {
    send<K extends MessageTypeName>(to: string, type: K, message: MessageTypeMap[K]): void {
      if (!REGISTRATIONS.has(type)) {
        inner.send(to, type, message);
        return;
      }
      held = () => inner.send(to, type, message);
      // A handshake with this master is under way: the newest registration waits for it.
      if (inFlight?.master === to) return;
      start(to);
    },
    link: (to) => inner.link(to),
  };
}

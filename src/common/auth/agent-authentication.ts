/**
 * The agent's side of `--credential`: every (re-)registration message is
 * preceded by a CRAM-MD5 handshake with that master, as a Mesos agent
 * authenticates before it registers. The registration message is held until
 * the handshake completes and sent right after; the registration state
 * machine's own retries start a new handshake each time, so a master that
 * restarted (and forgot us) is authenticated with again.
 */
import type { Logger } from "../observability/logger.js";
import type { ProcessHost } from "../process/process-host.js";
import type { MessageTypeMap, MessageTypeName } from "../protocol/index.js";
import type { Clock } from "../time/clock.js";
import { CramMd5Authenticatee } from "./cram-md5.js";
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
  /** A handshake without an answer for this long is started again (Mesos' authentication timeout). */
  readonly timeoutMs?: number;
}

const REGISTRATIONS: ReadonlySet<string> = new Set([
  "mesos.internal.RegisterSlaveMessage",
  "mesos.internal.ReregisterSlaveMessage",
]);

/** Wraps `inner` so registrations are sent only after authenticating with their master. */
export function withAgentAuthentication(
  inner: LibprocessTransport,
  options: AgentAuthenticationOptions,
): LibprocessTransport {
  const authenticatee = options.host.spawn(new CramMd5Authenticatee());
  const timeoutMs = options.timeoutMs ?? 5000;
  let attempt = 0;
  let inFlight: { master: string; started: number } | undefined;
  let held: (() => void) | undefined;
  return {
    send<K extends MessageTypeName>(to: string, type: K, message: MessageTypeMap[K]): void {
      if (!REGISTRATIONS.has(type)) {
        inner.send(to, type, message);
        return;
      }
      held = () => inner.send(to, type, message);
      const now = options.clock.monotonic();
      if (inFlight !== undefined && inFlight.master === to && now - inFlight.started < timeoutMs) {
        return;
      }
      const mine = ++attempt;
      inFlight = { master: to, started: now };
      options.logger.info(
        `Authenticating with master ${to} as '${options.credential.principal}' (CRAM-MD5)`,
      );
      void authenticatee.authenticate(to, options.self(), options.credential).then((outcome) => {
        if (mine !== attempt) return;
        inFlight = undefined;
        if (outcome !== true) {
          options.logger.error(`Master ${to} refused authentication: ${outcome}`);
          return;
        }
        options.logger.info(`Successfully authenticated with master ${to}`);
        const send = held;
        held = undefined;
        send?.();
      });
    },
    link: (to) => inner.link(to),
  };
}

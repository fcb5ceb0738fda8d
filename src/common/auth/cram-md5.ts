/**
 * CRAM-MD5 authentication of libprocess peers (agents), as Mesos runs it
 * before registration:
 *
 *   peer -> master         AuthenticateMessage {pid}
 *   authenticator -> peer  AuthenticationMechanismsMessage {["CRAM-MD5"]}
 *   peer -> authenticator  AuthenticationStartMessage {mechanism}
 *   authenticator -> peer  AuthenticationStepMessage {challenge}
 *   peer -> authenticator  AuthenticationStepMessage {"principal hex(HMAC-MD5(secret, challenge))"}
 *   authenticator -> peer  AuthenticationCompletedMessage | AuthenticationFailedMessage
 *
 * `CramMd5Authenticator` is the master's side (one process for all
 * sessions, keyed by the peer's pid); `CramMd5Authenticatee` is the peer's.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { ProcessBase } from "../process/process-base.js";
import { parseUpid, type Upid } from "../process/upid.js";
import { codecFor, type MessageTypeMap, type MessageTypeName } from "../protocol/index.js";
import type { Clock, TimerHandle } from "../time/clock.js";
import type { Credential, CredentialStore } from "./credentials.js";

export const CRAM_MD5 = "CRAM-MD5";

function decoder<K extends MessageTypeName>(type: K) {
  const codec = codecFor(type);
  return (bytes: Uint8Array) => {
    const r = codec.decodeProtobuf(bytes);
    return r.ok ? { ok: true as const, value: r.value } : { ok: false as const, error: r.error };
  };
}

function encode<K extends MessageTypeName>(type: K, message: MessageTypeMap[K]): Uint8Array {
  return codecFor(type).encodeProtobuf(message);
}

/** The CRAM-MD5 response to `challenge`: `principal hex-digest`. */
export function cramMd5Response(credential: Credential, challenge: string): string {
  const digest = createHmac("md5", credential.secret).update(challenge).digest("hex");
  return `${credential.principal} ${digest}`;
}

interface Session {
  /** The pid being vouched for (AuthenticateMessage.pid). */
  readonly pid: string;
  challenge?: string;
  timer?: TimerHandle;
}

/** `--authentication_v0_timeout`: how long a handshake may take (Mesos' default 15 s). */
export interface AuthenticationTimeout {
  readonly clock: Clock;
  readonly timeoutMs: number;
}

/** The master's side: verifies peers against the credentials. */
export class CramMd5Authenticator extends ProcessBase {
  private readonly sessions = new Map<string, Session>();
  private readonly authenticated = new Map<string, string>();

  constructor(
    private readonly credentials: CredentialStore,
    private readonly hostname: string,
    private readonly timeout?: AuthenticationTimeout,
  ) {
    super("crammd5-authenticator");
  }

  /** The principal `pid` authenticated as, if it did. */
  principalOf(pid: string): string | undefined {
    return this.authenticated.get(pid);
  }

  /** Forgets `pid` (it disconnected or was removed). */
  forget(pid: string): void {
    this.authenticated.delete(pid);
  }

  /** Starts a session for a peer that sent AuthenticateMessage to the master. */
  begin(from: Upid, message: MessageTypeMap["mesos.internal.AuthenticateMessage"]): void {
    // A new attempt replaces any earlier one (the peer retries after a timeout).
    const key = from.toString();
    this.end(key);
    const session: Session = { pid: message.pid };
    this.sessions.set(key, session);
    this.authenticated.delete(message.pid);
    const timeout = this.timeout;
    if (timeout !== undefined) {
      // As Mesos' master: a handshake not done in time is discarded; the
      // peer hears nothing more and starts again after its own timeout.
      session.timer = timeout.clock.setTimer(timeout.timeoutMs, () => {
        if (this.sessions.get(key) !== session) return;
        this.sessions.delete(key);
        this.logger.warn(`Authentication of ${session.pid} timed out; discarding it`);
      });
    }
    this.send(
      from,
      "mesos.internal.AuthenticationMechanismsMessage",
      encode("mesos.internal.AuthenticationMechanismsMessage", { mechanisms: [CRAM_MD5] }),
    );
  }

  protected override initialize(): void {
    this.install(
      "mesos.internal.AuthenticationStartMessage",
      decoder("mesos.internal.AuthenticationStartMessage"),
      (from, message) => this.start(from, message.mechanism),
    );
    this.install(
      "mesos.internal.AuthenticationStepMessage",
      decoder("mesos.internal.AuthenticationStepMessage"),
      (from, message) => this.step(from, Buffer.from(message.data).toString("utf8")),
    );
  }

  /** Forgets the session of authenticatee `key`, with its timer. */
  private end(key: string): void {
    const session = this.sessions.get(key);
    if (session?.timer !== undefined) this.timeout?.clock.cancelTimer(session.timer);
    this.sessions.delete(key);
  }

  /** A step for a session that does not exist (never started, done or timed out) is dropped. */
  private stale(from: Upid, what: string): void {
    this.logger.verbose(1, `Dropping ${what} from ${from}: no authentication in progress`);
  }

  private fail(to: Upid, error?: string): void {
    this.end(to.toString());
    if (error === undefined) {
      this.send(to, "mesos.internal.AuthenticationFailedMessage", new Uint8Array());
    } else {
      this.send(
        to,
        "mesos.internal.AuthenticationErrorMessage",
        encode("mesos.internal.AuthenticationErrorMessage", { error }),
      );
    }
  }

  private start(from: Upid, mechanism: string): void {
    const session = this.sessions.get(from.toString());
    if (session === undefined) {
      this.stale(from, "AuthenticationStartMessage");
      return;
    }
    if (mechanism !== CRAM_MD5) {
      this.fail(from, `Unsupported mechanism '${mechanism}'`);
      return;
    }
    session.challenge = `<${randomBytes(12).toString("hex")}.${Date.now()}@${this.hostname}>`;
    this.send(
      from,
      "mesos.internal.AuthenticationStepMessage",
      encode("mesos.internal.AuthenticationStepMessage", {
        data: Buffer.from(session.challenge, "utf8"),
      }),
    );
  }

  private step(from: Upid, answer: string): void {
    const session = this.sessions.get(from.toString());
    if (session === undefined) {
      this.stale(from, "AuthenticationStepMessage");
      return;
    }
    if (session.challenge === undefined) {
      this.fail(from, "Unexpected authentication step");
      return;
    }
    this.end(from.toString());
    const space = answer.lastIndexOf(" ");
    const principal = answer.slice(0, Math.max(0, space));
    const digest = Buffer.from(answer.slice(space + 1), "utf8");
    const secret = this.credentials.secret(principal);
    if (space <= 0 || secret === undefined) {
      this.logger.warn(`Authentication of ${session.pid} failed: unknown principal '${principal}'`);
      this.fail(from);
      return;
    }
    const expected = Buffer.from(
      createHmac("md5", secret).update(session.challenge).digest("hex"),
      "utf8",
    );
    if (expected.length !== digest.length || !timingSafeEqual(expected, digest)) {
      this.logger.warn(`Authentication of ${session.pid} as '${principal}' failed: wrong secret`);
      this.fail(from);
      return;
    }
    this.authenticated.set(session.pid, principal);
    this.logger.info(`Successfully authenticated principal '${principal}' at ${session.pid}`);
    this.send(from, "mesos.internal.AuthenticationCompletedMessage", new Uint8Array());
  }
}

let nextAuthenticatee = 1;

/** The outcome of a handshake the master refused (wrong principal or secret). */
export const AUTHENTICATION_REFUSED = "authentication failed (wrong principal or secret)";

/**
 * The peer's side: runs one handshake with a master at a time. It answers
 * only the process that offered it the mechanisms of the handshake under
 * way, and only its one challenge: a process that answered any challenge
 * from anyone would sign the master's challenges for a stranger, who could
 * then authenticate as this peer's principal.
 */
export class CramMd5Authenticatee extends ProcessBase {
  private pending: ((outcome: string | true) => void) | undefined;
  private credential: Credential | undefined;
  /** Where the handshake under way is: mechanisms awaited, challenge awaited, challenge answered. */
  private state: "idle" | "starting" | "stepping" | "answered" = "idle";
  /** The authenticator of the handshake under way (the sender of its mechanisms). */
  private authenticator: string | undefined;
  /** The master the handshake under way was asked of. */
  private master: string | undefined;

  constructor() {
    super(`crammd5-authenticatee(${nextAuthenticatee++})`);
  }

  /**
   * Authenticates `pid` (the peer's main process) with the master at
   * `master` (`master@ip:port`). Resolves true, or with the reason it failed.
   */
  authenticate(master: string, pid: string, credential: Credential): Promise<string | true> {
    const to = parseUpid(master);
    if (!to.ok) return Promise.resolve(`bad master pid '${master}'`);
    this.credential = credential;
    return new Promise((resolve) => {
      this.pending?.("superseded by a new attempt");
      this.pending = resolve;
      this.state = "starting";
      this.authenticator = undefined;
      this.master = to.value.toString();
      this.send(
        to.value,
        "mesos.internal.AuthenticateMessage",
        encode("mesos.internal.AuthenticateMessage", { pid }),
      );
    });
  }

  private settle(outcome: string | true): void {
    const p = this.pending;
    this.pending = undefined;
    this.state = "idle";
    this.authenticator = undefined;
    this.master = undefined;
    p?.(outcome);
  }

  /** True when `from` is the authenticator of the handshake under way; else the message is logged and ignored. */
  private fromAuthenticator(from: Upid, what: string): boolean {
    if (this.state !== "idle" && from.toString() === this.authenticator) return true;
    this.logger.warn(
      `Ignoring ${what} from ${from}: not the authenticator of a handshake under way`,
    );
    return false;
  }

  protected override initialize(): void {
    this.install(
      "mesos.internal.AuthenticationMechanismsMessage",
      decoder("mesos.internal.AuthenticationMechanismsMessage"),
      (from, message) => {
        if (this.state !== "starting") {
          this.logger.warn(
            `Ignoring AuthenticationMechanismsMessage from ${from}: no handshake is starting`,
          );
          return;
        }
        this.authenticator = from.toString();
        if (!(message.mechanisms ?? []).includes(CRAM_MD5)) {
          this.settle(`the master offers no ${CRAM_MD5}`);
          return;
        }
        this.state = "stepping";
        this.send(
          from,
          "mesos.internal.AuthenticationStartMessage",
          encode("mesos.internal.AuthenticationStartMessage", { mechanism: CRAM_MD5 }),
        );
      },
    );
    this.install(
      "mesos.internal.AuthenticationStepMessage",
      decoder("mesos.internal.AuthenticationStepMessage"),
      (from, message) => {
        const credential = this.credential;
        if (credential === undefined || !this.fromAuthenticator(from, "AuthenticationStepMessage"))
          return;
        if (this.state !== "stepping") {
          this.logger.warn(
            `Ignoring AuthenticationStepMessage from ${from}: its challenge was answered already`,
          );
          return;
        }
        this.state = "answered";
        const challenge = Buffer.from(message.data).toString("utf8");
        this.send(
          from,
          "mesos.internal.AuthenticationStepMessage",
          encode("mesos.internal.AuthenticationStepMessage", {
            data: Buffer.from(cramMd5Response(credential, challenge), "utf8"),
          }),
        );
      },
    );
    this.install(
      "mesos.internal.AuthenticationCompletedMessage",
      (bytes) => ({ ok: true, value: bytes }),
      (from) => {
        if (!this.fromAuthenticator(from, "AuthenticationCompletedMessage")) return;
        // As Mesos' authenticatee: success before the challenge was answered is not success.
        this.settle(this.state === "answered" ? true : "unexpected completion of authentication");
      },
    );
    this.install(
      "mesos.internal.AuthenticationFailedMessage",
      (bytes) => ({ ok: true, value: bytes }),
      (from) => {
        if (this.fromAuthenticator(from, "AuthenticationFailedMessage")) {
          this.settle(AUTHENTICATION_REFUSED);
        }
      },
    );
    this.install(
      "mesos.internal.AuthenticationErrorMessage",
      decoder("mesos.internal.AuthenticationErrorMessage"),
      (from, message) => {
        // A master without an authenticator answers the request itself (Mesos: "No authenticator loaded").
        const fromMaster = this.state === "starting" && from.toString() === this.master;
        if (fromMaster || this.fromAuthenticator(from, "AuthenticationErrorMessage")) {
          this.settle(`authentication error: ${message.error ?? "unknown"}`);
        }
      },
    );
  }
}

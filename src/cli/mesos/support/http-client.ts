/**
 * HTTP for the CLI: JSON GETs and streaming POSTs against a master or an
 * agent, with every failure turned into one line an operator understands
 * ("cannot reach the master at 127.0.0.1:5050: connection refused",
 * "the agent at 10.0.0.7:5051 does not serve /monitor/statistics yet").
 */
import { clientTls } from "../../../common/process/tls.js";
import { CliError, firstLine } from "./cli-error.js";
import type { HttpTarget } from "./master-address.js";
import type { BasicCredential } from "./mesos-toml.js";
import { tlsFetch } from "./tls-fetch.js";

/** A non-2xx answer, kept so callers can explain it in their own terms. */
export class HttpStatusError extends CliError {
  constructor(
    readonly target: HttpTarget,
    readonly path: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(describeStatus(target, path, status, body));
    this.name = "HttpStatusError";
  }

  /** A 404 with an empty body: the route itself is missing (libprocess answers so). */
  get routeMissing(): boolean {
    return this.status === 404 && this.body.trim() === "";
  }
}

/** The path without its query, for messages. */
function bare(path: string): string {
  const q = path.indexOf("?");
  return q >= 0 ? path.slice(0, q) : path;
}

function describeStatus(target: HttpTarget, path: string, status: number, body: string): string {
  const who = `the ${target.role} at ${target.address}`;
  if (status === 404 && body.trim() === "") return `${who} does not serve ${bare(path)} yet`;
  if (status === 501) {
    const why = firstLine(body);
    return `${who} does not implement this on ${bare(path)} yet${why === "" ? "" : `: ${why}`}`;
  }
  if (status === 401) {
    // Our credentials come from the Mesos CLI TOML file only (see docs/cli.md).
    return (
      `${who} refused ${bare(path)} without valid credentials (401): set 'principal' and ` +
      `'secret' under [${target.role}] in the CLI's config.toml`
    );
  }
  const why = firstLine(body);
  return `${who} answered ${status} for ${bare(path)}${why === "" ? "" : `: ${why}`}`;
}

/** Why a request never got an answer, in a few words. */
export function networkReason(error: unknown): string {
  let e: unknown = error;
  let innermost = error instanceof Error ? error.message : String(error);
  // fetch wraps the socket error in `cause` (sometimes twice).
  for (let depth = 0; depth < 4 && e !== undefined && e !== null; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") {
      switch (code) {
        case "ECONNREFUSED":
          return "connection refused";
        case "ENOTFOUND":
        case "EAI_AGAIN":
          return "unknown host";
        case "ECONNRESET":
        case "UND_ERR_SOCKET":
          return "connection reset";
        case "EHOSTUNREACH":
        case "ENETUNREACH":
          return "host unreachable";
        case "ETIMEDOUT":
        case "UND_ERR_CONNECT_TIMEOUT":
          return "connection timed out";
        default:
          break;
      }
    }
    const cause = (e as { cause?: unknown }).cause;
    // fetch's own "fetch failed" says nothing: the innermost message does (e.g. "bad port").
    if (cause instanceof Error && cause.message !== "") innermost = cause.message;
    e = cause;
  }
  return innermost;
}

/** Query parameters; undefined values are left out. */
export type Query = Record<string, string | number | undefined>;

export function withQuery(path: string, query: Query | undefined): string {
  if (query === undefined) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const text = params.toString();
  return text === "" ? path : `${path}${path.includes("?") ? "&" : "?"}${text}`;
}

function formatTimeout(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}secs` : `${ms}ms`;
}

/** Credentials per kind of target; a target without one gets no Authorization header. */
export type HttpCredentials = Partial<Record<HttpTarget["role"], BasicCredential>>;

export class HttpClient {
  constructor(
    readonly timeoutMs: number,
    private readonly credentials: HttpCredentials = {},
  ) {}

  /** GET `path` (with `query`) and parse the JSON body, all within the timeout. */
  async getJson(target: HttpTarget, path: string, query?: Query): Promise<unknown> {
    const full = withQuery(path, query);
    const text = await this.getText(target, full);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new CliError(
        `the ${target.role} at ${target.address} answered ${bare(path)} with something that is not JSON`,
      );
    }
  }

  /** GET `path` and return the body text of a 2xx answer, all within the timeout. */
  async getText(target: HttpTarget, path: string): Promise<string> {
    const controller = new AbortController();
    // The CLI is an edge process: a plain timer bounds the whole exchange.
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    try {
      const response = await this.send(target, path, { method: "GET" }, controller);
      const text = await this.readBody(target, path, response, controller);
      if (!response.ok) throw new HttpStatusError(target, path, response.status, text);
      return text;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sends a request and returns the response once its headers arrived
   * (the body is the caller's, e.g. an event stream). Non-2xx answers
   * throw `HttpStatusError`. The timeout covers only the wait for headers;
   * aborting `controller` later ends the body.
   */
  async open(
    target: HttpTarget,
    path: string,
    init: RequestParts,
    controller: AbortController = new AbortController(),
  ): Promise<Response> {
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    let response: Response;
    try {
      response = await this.send(target, path, init, controller);
      if (!response.ok) {
        const text = await this.readBody(target, path, response, controller);
        throw new HttpStatusError(target, path, response.status, text);
      }
    } finally {
      clearTimeout(timer);
    }
    return response;
  }

  private async send(
    target: HttpTarget,
    path: string,
    init: RequestParts,
    controller: AbortController,
  ): Promise<Response> {
    try {
      const url = `${target.baseUrl}${path}`;
      const headers = this.headersFor(target, init.headers);
      const tls = url.startsWith("https:") ? clientTls() : undefined;
      if (tls !== undefined) {
        return await tlsFetch(
          url,
          {
            method: init.method,
            headers,
            body: init.body,
            signal: controller.signal,
          },
          tls,
        );
      }
      return await fetch(url, {
        method: init.method,
        headers,
        body: init.body,
        redirect: "follow",
        signal: controller.signal,
      });
    } catch (e) {
      throw this.failure(target, path, e, controller);
    }
  }

  /** The request's headers plus HTTP basic authentication when the target's kind has credentials. */
  private headersFor(
    target: HttpTarget,
    headers: Record<string, string> | undefined,
  ): Record<string, string> | undefined {
    const credential = this.credentials[target.role];
    if (credential === undefined) return headers;
    const token = Buffer.from(`${credential.principal}:${credential.secret}`).toString("base64");
    return { ...headers, Authorization: `Basic ${token}` };
  }

  private async readBody(
    target: HttpTarget,
    path: string,
    response: Response,
    controller: AbortController,
  ): Promise<string> {
    try {
      return await response.text();
    } catch (e) {
      throw this.failure(target, path, e, controller);
    }
  }

  private failure(
    target: HttpTarget,
    path: string,
    error: unknown,
    controller: AbortController,
  ): CliError {
    if (controller.signal.aborted) {
      return new CliError(
        `the ${target.role} at ${target.address} did not answer ${bare(path)} within ${formatTimeout(this.timeoutMs)}`,
      );
    }
    return new CliError(
      `cannot reach the ${target.role} at ${target.address}: ${networkReason(error)}`,
    );
  }
}

/** The parts of a request the CLI sends. */
export interface RequestParts {
  readonly method: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

/**
 * Process addresses as libprocess writes them: `id@ip:port`, for example
 * `master@10.0.0.1:5050` or `slave(1)@10.0.0.2:5051`. IPv6 hosts are written
 * in brackets (`master@[::1]:5050`). The host may also be a DNS name, as
 * libprocess accepts one when it parses a UPID (we resolve it at connect).
 */
import { isIP } from "node:net";
import { err, ok, type Result } from "./result.js";

/** An immutable process address. `toString()` gives the wire form. */
export class Upid {
  /** The process id, e.g. `master`, `slave(1)`, `scheduler-<uuid>`. May be empty. */
  readonly id: string;
  /** IPv4/IPv6 literal (without brackets) or a host name. */
  readonly ip: string;
  readonly port: number;
  /** `ip:port` (`[ip]:port` for IPv6): the key of a host's listener. */
  readonly address: string;
  private readonly text: string;

  constructor(id: string, ip: string, port: number) {
    this.id = id;
    this.ip = ip;
    this.port = port;
    this.address = formatAddress(ip, port);
    this.text = `${id}@${this.address}`;
  }

  toString(): string {
    return this.text;
  }

  toJSON(): string {
    return this.text;
  }

  equals(other: Upid): boolean {
    return this.text === other.text;
  }

  /** The same host and port with another process id. */
  withId(id: string): Upid {
    return new Upid(id, this.ip, this.port);
  }
}

/** `ip:port`, with brackets around IPv6 literals. */
export function formatAddress(ip: string, port: number): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;

/** True for characters a process id may not contain (they would break the URL path). */
export function isValidProcessId(id: string): boolean {
  return id.length > 0 && !/[\s/?#@%]/.test(id);
}

/**
 * Parses `id@ip:port`. Surrounding whitespace is ignored (senders may pad the
 * `Libprocess-From` header). Returns an error naming what is wrong.
 */
export function parseUpid(input: string): Result<Upid> {
  const text = input.trim();
  const at = text.indexOf("@");
  if (at < 0) return err(new Error(`'${text}' is not a process address (expected id@ip:port)`));
  const id = text.slice(0, at);
  if (/\s/.test(id)) return err(new Error(`process id in '${text}' contains whitespace`));
  const rest = text.slice(at + 1);

  let host: string;
  let portText: string;
  if (rest.startsWith("[")) {
    const close = rest.indexOf("]");
    if (close < 0 || rest[close + 1] !== ":") {
      return err(new Error(`'${text}' has a malformed IPv6 address (expected [addr]:port)`));
    }
    host = rest.slice(1, close);
    portText = rest.slice(close + 2);
    if (isIP(host) !== 6) return err(new Error(`'${host}' in '${text}' is not an IPv6 address`));
  } else {
    const colon = rest.indexOf(":");
    if (colon < 0) return err(new Error(`'${text}' has no port (expected id@ip:port)`));
    host = rest.slice(0, colon);
    portText = rest.slice(colon + 1);
    if (isIP(host) === 0 && !HOST_NAME.test(host)) {
      return err(new Error(`'${host}' in '${text}' is not an IP address or host name`));
    }
  }
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) {
    return err(new Error(`'${portText}' in '${text}' is not a valid port`));
  }
  return ok(new Upid(id, host, Number(portText)));
}

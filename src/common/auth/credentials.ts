/**
 * `--credentials` (and the agent's `--credential`): principals and their
 * secrets. The file is JSON, `{"credentials": [{"principal": "p", "secret":
 * "s"}]}` (a single `{"principal", "secret"}` object for `--credential`),
 * or the older text form with one `principal secret` pair per line. Errors
 * name the file and say what is wrong in one line.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { err, ok, type Result } from "../errors/result.js";
import { systemErrorReason } from "../flags/system-error.js";

/** One principal and its secret. */
export interface Credential {
  readonly principal: string;
  readonly secret: string;
}

/** `file:///p` and `/p` both name `/p`. */
export function credentialsPath(value: string): string {
  return value.startsWith("file://") ? value.slice("file://".length) : value;
}

function fromJson(json: unknown): Result<Credential[], string> {
  const list =
    typeof json === "object" && json !== null && !Array.isArray(json) && "credentials" in json
      ? (json as { credentials: unknown }).credentials
      : [json];
  if (!Array.isArray(list)) return err("'credentials' must be an array");
  const out: Credential[] = [];
  for (const [i, item] of list.entries()) {
    const c = item as { principal?: unknown; secret?: unknown } | null;
    if (typeof c !== "object" || c === null) return err(`credentials[${i}]: expected an object`);
    if (typeof c.principal !== "string" || c.principal === "") {
      return err(`credentials[${i}]: 'principal' must be a non-empty string`);
    }
    if (c.secret !== undefined && typeof c.secret !== "string") {
      return err(`credentials[${i}]: 'secret' must be a string`);
    }
    out.push({ principal: c.principal, secret: c.secret ?? "" });
  }
  return ok(out);
}

function fromText(text: string): Result<Credential[], string> {
  const out: Credential[] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "") continue;
    const parts = line.split(/\s+/);
    if (parts.length !== 2) {
      return err(`line ${i + 1}: expected 'principal secret' (two words separated by spaces)`);
    }
    out.push({ principal: parts[0] as string, secret: parts[1] as string });
  }
  return ok(out);
}

/** Parses the text of a credentials file (JSON or the line form). */
export function parseCredentials(text: string): Result<Credential[], string> {
  const trimmed = text.trim();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch (e) {
      return err(`invalid JSON: ${(e as Error).message}`);
    }
    return fromJson(json);
  }
  return fromText(trimmed);
}

/**
 * Reads and parses the file of `--<flag>` (`credentials`, `http_credentials`,
 * or the agent's single `credential`); each error names the file and ends
 * with Mesos' `(see --<flag> flag)`: `Failed to load credentials from
 * '/etc/creds': line 2: ... (see --credentials flag)`. An empty file is
 * refused, as by Mesos ("Credentials file must contain at least one
 * credential", "Empty credential file '...'"). `warn` hears, as Mesos
 * logs it, about a file others may read, write or execute.
 */
export function loadCredentials(
  value: string,
  flag = "credentials",
  read: (path: string) => string = (p) => readFileSync(p, "utf8"),
  warn?: (line: string) => void,
): Result<Credential[], string> {
  const path = credentialsPath(value);
  const single = flag === "credential";
  const see = ` (see --${flag} flag)`;
  let text: string;
  try {
    text = read(path);
  } catch (e) {
    const noun = single ? "credential" : "credentials";
    return err(`Failed to read ${noun} file '${path}': ${systemErrorReason(e)}${see}`);
  }
  // Mesos reads an empty file as no credentials and stops; a blank one
  // (which its JSON parser refuses) holds none either.
  if (text.trim() === "") {
    return err(
      single
        ? `Empty credential file '${path}'${see}`
        : `Credentials file must contain at least one credential${see}`,
    );
  }
  if (warn !== undefined) {
    const noun = single ? "credential" : "credentials";
    try {
      if ((statSync(path).mode & 0o007) !== 0) {
        warn(
          `Permissions on ${noun} file '${path}' are too open; ` +
            `it is recommended that your ${noun} file is NOT accessible by others`,
        );
      }
    } catch (e) {
      warn(`Failed to stat ${noun} file '${path}': ${systemErrorReason(e)}`);
    }
  }
  const parsed = parseCredentials(text);
  if (!parsed.ok) {
    const what = single ? "the credential" : "credentials";
    return err(`Failed to load ${what} from '${path}': ${parsed.error}${see}`);
  }
  return parsed;
}

/** Principal -> secret, for authenticators. */
export class CredentialStore {
  private readonly secrets = new Map<string, string>();

  constructor(credentials: readonly Credential[] = []) {
    for (const c of credentials) this.secrets.set(c.principal, c.secret);
  }

  get size(): number {
    return this.secrets.size;
  }

  /** The secret of `principal`, if known. */
  secret(principal: string): string | undefined {
    return this.secrets.get(principal);
  }

  /** True when `principal` is known and `secret` is its secret. */
  check(principal: string, secret: string): boolean {
    const known = this.secrets.get(principal);
    if (known === undefined) return false;
    // Compared as digests in constant time, so response times leak nothing about the secret.
    const digest = (s: string): Buffer => createHash("sha256").update(s).digest();
    return timingSafeEqual(digest(known), digest(secret));
  }
}

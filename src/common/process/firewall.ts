/**
 * The endpoint firewall of `--firewall_rules` (libprocess' disabled-endpoints
 * rule): an HTTP request whose path is listed answers 403 before it reaches
 * a process. Matching is exact after delegation, so `/state` and
 * `/master/state` name the same endpoint of a master. Messages between
 * processes are never filtered, as in libprocess.
 */
import { decodeSegment, segments } from "../http/path.js";

/** The parsed `--firewall_rules` JSON (Mesos' `Firewall` message). */
export interface FirewallRules {
  /** Paths answered with 403 (`disabled_endpoints.paths`). */
  readonly disabledPaths: readonly string[];
}

/** Reads `--firewall_rules` JSON: `{"disabled_endpoints": {"paths": [...]}}`, or an error line. */
export function parseFirewallRules(
  json: unknown,
): { ok: true; value: FirewallRules } | { ok: false; error: string } {
  const bad = (why: string) => ({ ok: false as const, error: `Invalid --firewall_rules: ${why}` });
  if (!isRecord(json)) return bad("expected a JSON object");
  const rule = json.disabled_endpoints;
  if (rule === undefined || rule === null) return { ok: true, value: { disabledPaths: [] } };
  if (!isRecord(rule)) return bad("'disabled_endpoints' must be an object");
  const paths = rule.paths ?? [];
  if (!Array.isArray(paths) || paths.some((p) => typeof p !== "string")) {
    return bad("'disabled_endpoints.paths' must be an array of strings");
  }
  return { ok: true, value: { disabledPaths: paths as string[] } };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The path as the host sees it after delegation: unchanged when its first
 * segment names a process, else under the delegate (`/state` -> `/master/state`,
 * `/` -> `/master`). Paths that cannot be decoded stay as they are.
 */
export function delegatedPath(
  path: string,
  isProcess: (id: string) => boolean,
  delegate: string | undefined,
): string {
  if (delegate === undefined) return path;
  const first = segments(path)[0];
  if (first === undefined) return `/${delegate}`;
  const id = decodeSegment(first);
  if (id === undefined || isProcess(id)) return path;
  return `/${delegate}${path.startsWith("/") ? "" : "/"}${path}`;
}

/** Decides which HTTP requests the disabled-endpoints rule refuses. */
export class EndpointFirewall {
  private readonly paths: readonly string[];

  constructor(rules: FirewallRules) {
    this.paths = rules.disabledPaths;
  }

  /** True when the rule lists no path. */
  get empty(): boolean {
    return this.paths.length === 0;
  }

  /**
   * The path to report as disabled when `path` is refused, else undefined.
   * Rule paths are resolved against the processes that exist now, so a rule
   * for a process spawned after start-up still applies.
   */
  refuses(
    path: string,
    isProcess: (id: string) => boolean,
    delegate: string | undefined,
  ): string | undefined {
    const target = delegatedPath(path, isProcess, delegate);
    for (const p of this.paths) {
      if (delegatedPath(p, isProcess, delegate) === target) return target;
    }
    return undefined;
  }
}

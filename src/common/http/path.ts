/** Small helpers for request targets and paths, shared by the router and the server. */

/** A request target split into path and raw query. */
export interface Target {
  path: string;
  rawQuery: string;
}

/**
 * Splits a request target (`/a/b?x=1`, or the absolute form
 * `http://host:5050/a/b?x=1`) into path and query; drops any fragment.
 * Returns undefined when the path does not start with `/`.
 */
export function splitTarget(target: string): Target | undefined {
  let t = target;
  const hash = t.indexOf("#");
  if (hash >= 0) t = t.slice(0, hash);
  if (!t.startsWith("/")) {
    const scheme = t.indexOf("://");
    if (scheme < 0) return undefined;
    const slash = t.indexOf("/", scheme + 3);
    if (slash < 0) return { path: "/", rawQuery: queryOf(t) };
    t = t.slice(slash);
  }
  const q = t.indexOf("?");
  if (q < 0) return { path: t, rawQuery: "" };
  return { path: t.slice(0, q), rawQuery: t.slice(q + 1) };
}

function queryOf(t: string): string {
  const q = t.indexOf("?");
  return q < 0 ? "" : t.slice(q + 1);
}

/** The non-empty `/`-separated segments of a path. */
export function segments(path: string): string[] {
  return path.split("/").filter((s) => s.length > 0);
}

/** Percent-decodes one path segment, or undefined if it is malformed. */
export function decodeSegment(segment: string): string | undefined {
  if (!segment.includes("%")) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** Strips leading and trailing slashes: `/api/v1/` -> `api/v1`. */
export function trimSlashes(path: string): string {
  let start = 0;
  let end = path.length;
  while (start < end && path.charCodeAt(start) === 47) start++;
  while (end > start && path.charCodeAt(end - 1) === 47) end--;
  return path.slice(start, end);
}

/** True for paths that try to climb out of where they point (`/..`); libprocess answers 404. */
export function isRelativePath(path: string): boolean {
  return path.includes("/..");
}

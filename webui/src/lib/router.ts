/** Hash routing (`#/agents/<id>?x=1`), the URL form of the Mesos web UI. */
import { useEffect, useState } from "preact/hooks";

export interface Route {
  /** Decoded path segments: `#/agents/a1/browse` -> ["agents", "a1", "browse"]. */
  segments: string[];
  query: URLSearchParams;
  /** The raw hash, for keys. */
  hash: string;
}

/** Parses a location hash. */
export function parseHash(hash: string): Route {
  const raw = hash.startsWith("#") ? hash.slice(1) : hash;
  const q = raw.indexOf("?");
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q < 0 ? "" : raw.slice(q + 1));
  const segments = path
    .split("/")
    .filter((s) => s !== "")
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
  return { segments, query, hash: raw };
}

/** The current route; re-renders on navigation. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const onChange = (): void => setRoute(parseHash(window.location.hash));
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

/** Builds `#/a/b?x=y` with each segment encoded. */
export function href(segments: readonly string[], query?: Record<string, string>): string {
  const path = segments.map((s) => encodeURIComponent(s)).join("/");
  const q = query === undefined ? "" : new URLSearchParams(query).toString();
  return `#/${path}${q === "" ? "" : `?${q}`}`;
}

/** Replaces the current route without a history entry. */
export function redirect(to: string): void {
  window.location.replace(to);
}

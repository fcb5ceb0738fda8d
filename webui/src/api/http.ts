/** Same-origin JSON reads from the master, with the outcome as data (never a throw). */

export type Fetched<T> =
  | { kind: "ok"; value: T }
  /** The endpoint is not there (404, 405, 501): a feature not built yet. */
  | { kind: "unavailable"; status: number }
  /** Any other HTTP status, with the body's first line. */
  | { kind: "error"; status: number; message: string }
  /** No answer at all: the master is down or unreachable. */
  | { kind: "network"; message: string };

const UNAVAILABLE = new Set([404, 405, 501]);

/** GET `path` on the master and parse JSON. */
export async function getJson<T = unknown>(
  path: string,
  signal?: AbortSignal,
): Promise<Fetched<T>> {
  let response: Response;
  try {
    response = await fetch(path, { cache: "no-store", ...(signal ? { signal } : {}) });
  } catch (error) {
    return { kind: "network", message: error instanceof Error ? error.message : String(error) };
  }
  if (UNAVAILABLE.has(response.status)) return { kind: "unavailable", status: response.status };
  if (!response.ok) {
    const text = await response.text().catch(() => "");
    return { kind: "error", status: response.status, message: text.split("\n")[0] ?? "" };
  }
  try {
    return { kind: "ok", value: (await response.json()) as T };
  } catch (error) {
    return {
      kind: "error",
      status: response.status,
      message: `bad JSON: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

/** A one-line description of a failed read. */
export function describeFailure(result: Exclude<Fetched<unknown>, { kind: "ok" }>): string {
  switch (result.kind) {
    case "unavailable":
      return result.status === 0
        ? "the agent did not answer: not served there yet, or unreachable from this browser"
        : `HTTP ${result.status}`;
    case "error":
      return `HTTP ${result.status}${result.message ? `: ${result.message}` : ""}`;
    case "network":
      return `no answer (${result.message})`;
  }
}

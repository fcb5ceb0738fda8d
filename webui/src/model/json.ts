/**
 * Defensive readers for JSON from the master and agents: a missing or
 * mistyped key gives a default instead of an exception, so a page renders
 * what it can while endpoints are still growing.
 */

export type JsonObject = Record<string, unknown>;

export function obj(value: unknown): JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as JsonObject)
    : {};
}

export function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function str(value: unknown, fallback = ""): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return fallback;
}

export function num(value: unknown, fallback = 0): number {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && value.trim() !== "") {
    const n = Number(value);
    if (Number.isFinite(n)) return n;
  }
  return fallback;
}

export function bool(value: unknown, fallback = false): boolean {
  return typeof value === "boolean" ? value : fallback;
}

/** `{value: "x"}` (v1 ids) or a plain string (v0 ids). */
export function idOf(value: unknown): string {
  if (typeof value === "string") return value;
  return str(obj(value).value);
}

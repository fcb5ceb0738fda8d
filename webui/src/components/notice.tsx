/** Messages for data that is missing: not built yet, unreachable, loading. */
import type { ComponentChildren } from "preact";

export function Unavailable(props: {
  what: string;
  detail?: string;
  children?: ComponentChildren;
}) {
  return (
    <div class="notice unavailable" role="status">
      <strong>{props.what}: not available yet</strong>
      {props.detail !== undefined ? <span class="muted"> — {props.detail}</span> : null}
      {props.children}
    </div>
  );
}

export function Failed(props: { what: string; detail: string }) {
  return (
    <div class="notice failed" role="alert">
      <strong>{props.what} failed:</strong> {props.detail}
    </div>
  );
}

export function Loading(props: { what?: string }) {
  return (
    <div class="notice loading" role="status">
      Loading{props.what !== undefined ? ` ${props.what}` : ""}…
    </div>
  );
}

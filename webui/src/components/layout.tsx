/** The page frame: navigation, the connection banner, keyboard shortcuts. */
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { Connection } from "../api/cluster-store";
import { formatDuration } from "../lib/format";
import { useStore } from "./store-context";

const NAV: readonly [string, string, string][] = [
  ["", "Dashboard", "d"],
  ["frameworks", "Frameworks", "f"],
  ["agents", "Agents", "a"],
  ["roles", "Roles", "r"],
  ["offers", "Offers", "o"],
  ["maintenance", "Maintenance", "m"],
];

function Banner(props: { connection: Connection; onRetry: () => void }) {
  const c = props.connection;
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (c.status !== "disconnected") return;
    const t = window.setInterval(() => setNow(Date.now()), 500);
    return () => window.clearInterval(t);
  }, [c.status]);
  if (c.status === "disconnected") {
    const wait = Math.max(0, Math.ceil((c.retryAt - now) / 1000));
    return (
      <div class="banner error" role="alert" data-banner="disconnected">
        <strong>Not connected to a leading master.</strong>{" "}
        <span>
          {c.reason}. Lost {formatDuration((now - c.since) / 1000)} ago; showing the last known
          state.
          {wait > 0 ? ` Retrying in ${wait} s.` : " Retrying…"}
        </span>{" "}
        <button type="button" onClick={props.onRetry}>
          Retry now
        </button>
      </div>
    );
  }
  if (c.status === "not-leader") {
    return (
      <div class="banner warn" role="alert" data-banner="not-leader">
        <strong>This master is not the leader.</strong> Going to the leading master at {c.leader}…
      </div>
    );
  }
  return null;
}

function LiveBadge(props: { connection: Connection }) {
  const c = props.connection;
  const text =
    c.status === "connected"
      ? c.via === "stream"
        ? "live (event stream)"
        : "live (polling)"
      : c.status === "connecting"
        ? "connecting…"
        : c.status === "not-leader"
          ? "not the leader"
          : "disconnected";
  return (
    <span class={`live ${c.status}`} data-connection={c.status} title="How this page gets updates">
      <span class="dot" aria-hidden="true" />
      {text}
    </span>
  );
}

/** Global keys: `/` focuses the first table filter; `g` then a letter opens a page. */
function useShortcuts(): void {
  useEffect(() => {
    let pendingG = false;
    const onKey = (event: KeyboardEvent): void => {
      const target = event.target as HTMLElement | null;
      const typing =
        target !== null &&
        (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable);
      if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.key === "/") {
        const input = document.querySelector<HTMLInputElement>("input[data-filter]");
        if (input !== null) {
          event.preventDefault();
          input.focus();
        }
        return;
      }
      if (pendingG) {
        pendingG = false;
        const entry = NAV.find((n) => n[2] === event.key);
        if (entry !== undefined) window.location.hash = `#/${entry[0]}`;
        return;
      }
      if (event.key === "g") pendingG = true;
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
}

export function Layout(props: { section: string; children: ComponentChildren }) {
  const store = useStore();
  useShortcuts();
  const cluster = store.cluster;
  const name = cluster?.master.cluster || "Mesos";
  return (
    <>
      <button type="button" class="skip" onClick={() => document.getElementById("main")?.focus()}>
        Skip to content
      </button>
      <header class="top">
        <a class="brand" href="#/">
          {name}
        </a>
        <nav aria-label="Pages">
          {NAV.map(([path, title, key]) => (
            <a
              key={path}
              href={`#/${path}`}
              aria-current={props.section === path ? "page" : undefined}
              title={`${title} (g ${key})`}
            >
              {title}
            </a>
          ))}
        </nav>
        <LiveBadge connection={store.connection} />
      </header>
      <Banner connection={store.connection} onRetry={() => void store.refresh()} />
      <main id="main" tabIndex={-1}>
        {props.children}
      </main>
    </>
  );
}

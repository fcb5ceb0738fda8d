/**
 * Shows a file read through `/files/read`: starts at its last page, pages
 * back on request, and follows the end (tail -f) while "Follow" is on.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { FileSource } from "../api/files";
import { describeFailure } from "../api/http";
import { formatBytes } from "../lib/format";
import { Failed, Loading, Unavailable } from "./notice";

/** Bytes per read. */
const PAGE = 64 * 1024;
/** Most text kept on screen; the oldest is dropped while following. */
const KEEP = 2 * 1024 * 1024;
const FOLLOW_MS = 1000;

const encoder = new TextEncoder();
const byteLength = (s: string): number => encoder.encode(s).length;

interface View {
  text: string;
  /** Byte offset of the first shown byte. */
  start: number;
  /** Byte offset after the last shown byte. */
  end: number;
}

export function FileViewer(props: {
  source: FileSource;
  path: string;
  follow?: boolean;
  /**
   * Called when the file could not be read and the reader cannot tell why (a
   * JSONP read): answers a sentence when the owner is up, so the file itself
   * is what is missing, or undefined when the owner does not answer either.
   */
  explainMissing?: () => Promise<string | undefined>;
}) {
  const { source, path, explainMissing } = props;
  const [view, setView] = useState<View | undefined>(undefined);
  const [error, setError] = useState<
    { unavailable: boolean; detail: string; missing?: string } | undefined
  >();
  const [follow, setFollow] = useState(props.follow ?? false);
  const [busy, setBusy] = useState(false);
  const pre = useRef<HTMLPreElement>(null);
  const viewRef = useRef<View | undefined>(undefined);
  viewRef.current = view;

  // The first page: the file's size, then its last PAGE bytes.
  useEffect(() => {
    let cancelled = false;
    setView(undefined);
    setError(undefined);
    void (async () => {
      const size = await source.read(path, -1);
      if (cancelled) return;
      if (size.kind !== "ok") {
        const missing =
          size.kind === "unavailable" && size.status === 0 && explainMissing !== undefined
            ? await explainMissing()
            : undefined;
        if (cancelled) return;
        setError({
          unavailable: size.kind === "unavailable",
          detail: describeFailure(size),
          ...(missing !== undefined ? { missing } : {}),
        });
        return;
      }
      const start = Math.max(0, size.value.offset - PAGE);
      const chunk = await source.read(path, start, PAGE);
      if (cancelled) return;
      if (chunk.kind !== "ok") {
        setError({ unavailable: chunk.kind === "unavailable", detail: describeFailure(chunk) });
        return;
      }
      setView({ text: chunk.value.data, start, end: start + byteLength(chunk.value.data) });
    })();
    return () => {
      cancelled = true;
    };
  }, [source, path]);

  // Following: read from the end until nothing new comes, then wait a second.
  useEffect(() => {
    if (!follow || view === undefined) return;
    let cancelled = false;
    let timer: number | undefined;
    const tick = async (): Promise<void> => {
      for (let round = 0; round < 16 && !cancelled; round++) {
        const current = viewRef.current;
        if (current === undefined) break;
        const chunk = await source.read(path, current.end, PAGE);
        if (cancelled || chunk.kind !== "ok" || chunk.value.data === "") break;
        const el = pre.current;
        const atBottom = el === null || el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        let text = current.text + chunk.value.data;
        let start = current.start;
        const end = current.end + byteLength(chunk.value.data);
        if (text.length > KEEP) {
          const drop = text.length - KEEP;
          start += byteLength(text.slice(0, drop));
          text = text.slice(drop);
        }
        const next = { text, start, end };
        viewRef.current = next;
        setView(next);
        if (atBottom) {
          requestAnimationFrame(() => {
            if (pre.current !== null) pre.current.scrollTop = pre.current.scrollHeight;
          });
        }
      }
      if (!cancelled) timer = window.setTimeout(() => void tick(), FOLLOW_MS);
    };
    void tick();
    return () => {
      cancelled = true;
      if (timer !== undefined) window.clearTimeout(timer);
    };
  }, [follow, view === undefined, source, path]);

  // Scroll to the end when the first page arrives.
  useEffect(() => {
    if (view !== undefined && pre.current !== null && pre.current.scrollTop === 0) {
      pre.current.scrollTop = pre.current.scrollHeight;
    }
  }, [view === undefined]);

  const earlier = async (): Promise<void> => {
    const current = viewRef.current;
    if (current === undefined || current.start === 0) return;
    setBusy(true);
    const start = Math.max(0, current.start - PAGE);
    const chunk = await source.read(path, start, current.start - start);
    setBusy(false);
    if (chunk.kind !== "ok") return;
    let text = chunk.value.data + current.text;
    let end = current.end;
    if (text.length > KEEP) {
      // Paging back: keep the older part and stop following the end.
      text = text.slice(0, KEEP);
      end = start + byteLength(text);
      setFollow(false);
    }
    setView({ text, start, end });
    if (pre.current !== null) pre.current.scrollTop = 0;
  };

  if (error !== undefined) {
    if (error.missing !== undefined) {
      return <Failed what={`Reading ${path}`} detail={error.missing} />;
    }
    return error.unavailable ? (
      <Unavailable what={`Reading ${path} from the ${source.label}`} detail={error.detail} />
    ) : (
      <Failed what={`Reading ${path}`} detail={error.detail} />
    );
  }
  if (view === undefined) return <Loading what={path} />;
  return (
    <div class="file-viewer">
      <div class="toolbar">
        <button type="button" onClick={() => void earlier()} disabled={view.start === 0 || busy}>
          Load earlier
        </button>
        <label>
          <input
            type="checkbox"
            checked={follow}
            onChange={(e) => setFollow((e.currentTarget as HTMLInputElement).checked)}
          />{" "}
          Follow
        </label>
        <a class="button" href={source.downloadUrl(path)} download>
          Download
        </a>
        <span class="muted">
          bytes {view.start.toLocaleString()}–{view.end.toLocaleString()} ({formatBytes(view.end)}{" "}
          in all)
        </span>
      </div>
      <pre ref={pre} class="file" data-file={path}>
        {view.text}
      </pre>
    </div>
  );
}

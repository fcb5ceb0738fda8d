/** Human-readable units for the UI: sizes, CPU counts, times, ids. */

const UNITS = ["B", "KB", "MB", "GB", "TB", "PB"];

/** Bytes as "1.5 GB" (binary multiples, as Mesos' UI shows them). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "–";
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const sign = bytes < 0 ? "-" : "";
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${sign}${trimZeros(value.toFixed(digits))} ${UNITS[unit]}`;
}

/** Megabytes (how Mesos reports mem and disk) as a human size. */
export function formatMegabytes(mb: number): string {
  return formatBytes(mb * 1024 * 1024);
}

/** CPUs with at most two decimals ("0.5", "12"). */
export function formatCpus(cpus: number): string {
  if (!Number.isFinite(cpus)) return "–";
  return trimZeros(cpus.toFixed(2));
}

/** A fraction as a percentage ("37.5%"). */
export function formatPercent(fraction: number): string {
  if (!Number.isFinite(fraction)) return "–";
  return `${trimZeros((fraction * 100).toFixed(1))}%`;
}

function trimZeros(text: string): string {
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}

const SPANS: readonly [number, string][] = [
  [365 * 86400, "year"],
  [30 * 86400, "month"],
  [7 * 86400, "week"],
  [86400, "day"],
  [3600, "hour"],
  [60, "minute"],
  [1, "second"],
];

/** How long ago (or from now) `seconds` (since the epoch) is: "3 minutes ago". */
export function formatRelative(seconds: number, nowMs: number = Date.now()): string {
  if (!Number.isFinite(seconds) || seconds <= 0) return "–";
  const delta = nowMs / 1000 - seconds;
  const abs = Math.abs(delta);
  if (abs < 5) return "just now";
  for (const [span, name] of SPANS) {
    if (abs >= span) {
      const n = Math.floor(abs / span);
      const text = `${n} ${name}${n === 1 ? "" : "s"}`;
      return delta >= 0 ? `${text} ago` : `in ${text}`;
    }
  }
  return "just now";
}

/** A duration in seconds as "2h 5m", "45s", "3d 4h". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "–";
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return h > 0 ? `${d}d ${h}h` : `${d}d`;
  if (h > 0) return m > 0 ? `${h}h ${m}m` : `${h}h`;
  if (m > 0) return s % 60 > 0 ? `${m}m ${s % 60}s` : `${m}m`;
  return `${s}s`;
}

/** Seconds since the epoch as a local date and time ("2024-05-01 13:04:05"). */
export function formatTimestamp(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds <= 0) return "–";
  const d = new Date(seconds * 1000);
  const pad = (n: number): string => String(n).padStart(2, "0");
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

const UUID_WITH_SUFFIX =
  /^([0-9a-f]{8})-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}((?:-[A-Za-z]*\d+)*)$/i;

/**
 * A short form of an id for tables: Mesos ids (`<uuid>-S3`, `<uuid>-0001`,
 * `<uuid>-O12`) keep the first uuid block and the suffix; other long ids
 * keep their head and tail.
 */
export function shortId(id: string, max = 24): string {
  const m = UUID_WITH_SUFFIX.exec(id);
  if (m !== null) return `${m[1]}…${m[2] ?? ""}`;
  if (id.length <= max) return id;
  const head = Math.ceil((max - 1) / 2);
  const tail = max - 1 - head;
  return `${id.slice(0, head)}…${id.slice(id.length - tail)}`;
}

/** A task state name without the `TASK_` prefix, capitalised ("Running"). */
export function stateLabel(state: string): string {
  const bare = state.startsWith("TASK_") ? state.slice(5) : state;
  return bare.charAt(0) + bare.slice(1).toLowerCase();
}

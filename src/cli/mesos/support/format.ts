/**
 * Small value formatters shared by the table views: short ids, sizes,
 * CPU counts, times.
 */

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/**
 * An id with every UUID in it cut to its first 8 hex digits: agent
 * `7c1d...-S3` becomes `7c1d2e3f-S3`, framework `7c1d...-0002` becomes
 * `7c1d2e3f-0002`. Ids without a UUID are left alone. Partial-id matching
 * accepts these short forms back.
 */
export function shortId(id: string): string {
  return id.replace(UUID, (uuid) => uuid.slice(0, 8));
}

/** `id` as a table shows it: short unless the output is `wide`. */
export function displayId(id: string, wide: boolean): string {
  return wide ? id : shortId(id);
}

/** A number without float noise: 0.1+0.2 shows as 0.3, 2 as 2. */
export function formatNumber(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return String(n);
  const fixed = n.toFixed(digits);
  return fixed.includes(".") ? fixed.replace(/\.?0+$/, "") : fixed;
}

/** Megabytes (Mesos' unit for mem and disk) in a human unit: 512 MB, 1.5 GB. */
export function formatMegabytes(mb: number): string {
  if (mb >= 1024 * 1024) return `${formatNumber(mb / (1024 * 1024), 1)} TB`;
  if (mb >= 1024) return `${formatNumber(mb / 1024, 1)} GB`;
  return `${formatNumber(mb, 1)} MB`;
}

/** Bytes in a human unit: 832 B, 12.5 KB, 31.2 MB, 1 GB. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${formatNumber(value, 1)} ${units[unit]}`;
}

/** CPU seconds as `ps` shows TIME: `0:00:01.25`. */
export function formatCpuTime(seconds: number): string {
  const total = Math.max(0, seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return `${h}:${String(m).padStart(2, "0")}:${s.toFixed(2).padStart(5, "0")}`;
}

/** Seconds since the epoch (Mesos' float timestamps) as local `YYYY-MM-DD HH:MM:SS`. */
export function formatTimestamp(seconds: number): string {
  const d = new Date(seconds * 1000);
  const p = (n: number) => String(n).padStart(2, "0");
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
  );
}

/** `used/total` for a resource, e.g. `0.5/4` cpus. */
export function usedOfTotal(used: number, total: number, unit: (n: number) => string): string {
  return `${unit(used)}/${unit(total)}`;
}

/** JSON for `-o json`: indented, one trailing newline. */
export function toJsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

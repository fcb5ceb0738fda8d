/**
 * A sortable, filterable table. Past a few hundred rows it renders only the
 * rows in view (fixed row height, spacer rows above and below), so a table
 * of 10,000 tasks costs what a table of 40 does.
 */
import type { ComponentChild, ComponentChildren } from "preact";
import { useMemo, useRef, useState } from "preact/hooks";

export interface Column<T> {
  key: string;
  title: string;
  /** The value sorted and filtered on. */
  value: (row: T) => string | number;
  /** How the cell looks (defaults to the value). */
  render?: (row: T) => ComponentChild;
  numeric?: boolean;
  /** Not offered for sorting. */
  unsortable?: boolean;
}

export interface DataTableProps<T> {
  /** Accessible name, also the test hook (`data-table` attribute). */
  label: string;
  rows: readonly T[];
  columns: readonly Column<T>[];
  rowKey: (row: T) => string;
  defaultSort?: { key: string; descending?: boolean };
  empty?: string;
  /** Hide the filter box (small tables). */
  noFilter?: boolean;
}

/** Rows rendered outright; longer tables are virtualised. */
const VIRTUAL_THRESHOLD = 200;
const ROW_HEIGHT = 30;
const VIEW_ROWS = 20;
const OVERSCAN = 10;

// One collator for all comparisons: localeCompare with options builds a new one per call.
const collator = new Intl.Collator(undefined, { numeric: true });

function compare(a: string | number, b: string | number): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return collator.compare(String(a), String(b));
}

export function DataTable<T>(props: DataTableProps<T>) {
  const { columns, rows } = props;
  const [filter, setFilter] = useState("");
  const [sort, setSort] = useState<{ key: string; descending: boolean } | undefined>(
    props.defaultSort === undefined
      ? undefined
      : { key: props.defaultSort.key, descending: props.defaultSort.descending ?? false },
  );
  const [scrollTop, setScrollTop] = useState(0);
  const frame = useRef<number | undefined>(undefined);

  // The text a row is filtered on (its non-numeric columns), built once per row.
  const searchText = useMemo(() => new WeakMap<object, string>(), [columns]);
  const filtered = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    if (needle === "") return rows;
    const textual = columns.filter((c) => !c.numeric && !c.unsortable);
    return rows.filter((row) => {
      const key = row as object;
      let text = searchText.get(key);
      if (text === undefined) {
        text = textual
          .map((c) => String(c.value(row)))
          .join("\u0000")
          .toLowerCase();
        searchText.set(key, text);
      }
      return text.includes(needle);
    });
  }, [rows, columns, filter, searchText]);

  const sorted = useMemo(() => {
    if (sort === undefined) return filtered;
    const column = columns.find((c) => c.key === sort.key);
    if (column === undefined) return filtered;
    const keyed = filtered.map((row, index) => ({ row, index, v: column.value(row) }));
    keyed.sort((a, b) => {
      const c = compare(a.v, b.v);
      return (sort.descending ? -c : c) || a.index - b.index;
    });
    return keyed.map((k) => k.row);
  }, [filtered, columns, sort]);

  const toggleSort = (key: string): void => {
    setSort((old) =>
      old?.key === key ? { key, descending: !old.descending } : { key, descending: false },
    );
  };

  const virtual = sorted.length > VIRTUAL_THRESHOLD;
  let first = 0;
  let last = sorted.length;
  if (virtual) {
    first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
    last = Math.min(sorted.length, first + VIEW_ROWS + 2 * OVERSCAN);
  }
  const onScroll = (event: Event): void => {
    const target = event.currentTarget as HTMLElement;
    if (frame.current !== undefined) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = undefined;
      setScrollTop(target.scrollTop);
    });
  };

  const visible = sorted.slice(first, last);
  const total = rows.length;
  return (
    <div class="data-table" data-table={props.label}>
      {props.noFilter === true && total <= VIRTUAL_THRESHOLD ? null : (
        <div class="table-tools">
          <input
            type="search"
            data-filter=""
            placeholder="Filter…"
            aria-label={`Filter ${props.label}`}
            value={filter}
            onInput={(e) => setFilter((e.currentTarget as HTMLInputElement).value)}
          />
          <span class="muted count" aria-live="polite">
            {filtered.length === total
              ? `${total.toLocaleString()} ${total === 1 ? "row" : "rows"}`
              : `${filtered.length.toLocaleString()} of ${total.toLocaleString()}`}
          </span>
        </div>
      )}
      <div
        class={virtual ? "table-scroll virtual" : "table-scroll"}
        style={virtual ? { maxHeight: `${(VIEW_ROWS + 1) * ROW_HEIGHT}px` } : undefined}
        onScroll={virtual ? onScroll : undefined}
      >
        <table aria-label={props.label} aria-rowcount={virtual ? sorted.length + 1 : undefined}>
          <thead>
            <tr>
              {columns.map((c) => {
                const active = sort?.key === c.key;
                const ariaSort = active ? (sort?.descending ? "descending" : "ascending") : "none";
                return (
                  <th
                    key={c.key}
                    class={c.numeric ? "num" : undefined}
                    aria-sort={ariaSort}
                    scope="col"
                  >
                    {c.unsortable ? (
                      c.title
                    ) : (
                      <button type="button" class="sort" onClick={() => toggleSort(c.key)}>
                        {c.title}
                        <span class="arrow" aria-hidden="true">
                          {active ? (sort?.descending ? "▼" : "▲") : ""}
                        </span>
                      </button>
                    )}
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {virtual && first > 0 ? (
              <tr class="spacer" style={{ height: `${first * ROW_HEIGHT}px` }} />
            ) : null}
            {visible.map((row) => (
              <tr key={props.rowKey(row)}>
                {columns.map((c) => (
                  <td key={c.key} class={c.numeric ? "num" : undefined}>
                    {c.render !== undefined ? c.render(row) : c.value(row)}
                  </td>
                ))}
              </tr>
            ))}
            {virtual && last < sorted.length ? (
              <tr class="spacer" style={{ height: `${(sorted.length - last) * ROW_HEIGHT}px` }} />
            ) : null}
            {sorted.length === 0 ? (
              <tr>
                <td colSpan={columns.length} class="muted empty">
                  {total === 0 ? (props.empty ?? "None.") : "No row matches the filter."}
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
    </div>
  );
}

/**
 * A page section of one table, headed by `title` (the table's label unless
 * given); `instead`, when given, stands in place of the table (loading, or
 * why the rows are not known).
 */
export function TableSection<T>(
  props: DataTableProps<T> & { headingId: string; title?: string; instead?: ComponentChildren },
) {
  const { headingId, title, instead, ...table } = props;
  return (
    <section aria-labelledby={headingId}>
      <h2 id={headingId}>{title ?? table.label}</h2>
      {instead ?? <DataTable<T> {...table} />}
    </section>
  );
}

/** A small table of named resource rows (CPUs, GPUs, Mem, Disk, and Ports when asked). */
import { formatCpus, formatMegabytes } from "../lib/format";
import type { Res } from "../model/resources";

export function ResourceTable(props: {
  rows: readonly (readonly [string, Res])[];
  label?: string;
  ports?: boolean;
  /** Marks the table with `data-resources` (the dashboard's summary). */
  marked?: boolean;
}) {
  return (
    <table
      class="compact"
      aria-label={props.label}
      data-resources={props.marked === true ? "" : undefined}
    >
      <thead>
        <tr>
          <th scope="col" />
          <th scope="col" class="num">
            CPUs
          </th>
          <th scope="col" class="num">
            GPUs
          </th>
          <th scope="col" class="num">
            Mem
          </th>
          <th scope="col" class="num">
            Disk
          </th>
          {props.ports === true && <th scope="col">Ports</th>}
        </tr>
      </thead>
      <tbody>
        {props.rows.map(([name, r]) => (
          <tr key={name}>
            <th scope="row">{name}</th>
            <td class="num">{formatCpus(r.cpus)}</td>
            <td class="num">{formatCpus(r.gpus)}</td>
            <td class="num">{formatMegabytes(r.mem)}</td>
            <td class="num">{formatMegabytes(r.disk)}</td>
            {props.ports === true && <td>{r.ports ?? ""}</td>}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

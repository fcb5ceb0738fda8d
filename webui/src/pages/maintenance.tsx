/** Maintenance: the schedule (windows of machines) and the machines draining or down. */
import { describeFailure, getJson } from "../api/http";
import { type Column, DataTable } from "../components/data-table";
import { Loading, Unavailable } from "../components/notice";
import { Ago } from "../components/time";
import { formatDuration } from "../lib/format";
import { usePoll } from "../lib/use-poll";
import { arr, num, obj, str } from "../model/json";

interface WindowRow {
  key: string;
  machines: string;
  start: number;
  duration: number;
}

interface MachineRow {
  machine: string;
  mode: "draining" | "down";
}

function machineName(value: unknown): string {
  const m = obj(value);
  const host = str(m.hostname);
  const ip = str(m.ip);
  return host !== "" && ip !== "" ? `${host} (${ip})` : host || ip;
}

function windowsFrom(value: unknown): WindowRow[] {
  return arr(obj(value).windows).map((w, i) => {
    const o = obj(w);
    const u = obj(o.unavailability);
    return {
      key: String(i),
      machines: arr(o.machine_ids).map(machineName).join(", "),
      start: num(obj(u.start).nanoseconds) / 1e9,
      duration: num(obj(u.duration).nanoseconds) / 1e9,
    };
  });
}

function machinesFrom(value: unknown): MachineRow[] {
  const s = obj(value);
  return [
    ...arr(s.draining_machines).map((m) => ({
      machine: machineName(obj(m).id),
      mode: "draining" as const,
    })),
    ...arr(s.down_machines).map((m) => ({ machine: machineName(m), mode: "down" as const })),
  ];
}

const WINDOW_COLUMNS: Column<WindowRow>[] = [
  { key: "machines", title: "Machines", value: (w) => w.machines },
  {
    key: "start",
    title: "Begins",
    numeric: true,
    value: (w) => w.start,
    render: (w) => <Ago seconds={w.start} />,
  },
  {
    key: "end",
    title: "Ends",
    numeric: true,
    value: (w) => w.start + w.duration,
    render: (w) => (w.duration > 0 ? <Ago seconds={w.start + w.duration} /> : "open-ended"),
  },
  {
    key: "duration",
    title: "Duration",
    numeric: true,
    value: (w) => w.duration,
    render: (w) => (w.duration > 0 ? formatDuration(w.duration) : "–"),
  },
];

const MACHINE_COLUMNS: Column<MachineRow>[] = [
  { key: "machine", title: "Machine", value: (m) => m.machine },
  { key: "mode", title: "Mode", value: (m) => m.mode },
];

export function Maintenance() {
  const schedule = usePoll(() => getJson("/master/maintenance/schedule"), 10_000, []);
  const status = usePoll(() => getJson("/master/maintenance/status"), 10_000, []);
  return (
    <div class="page">
      <h1>Maintenance</h1>
      <section aria-labelledby="ms-h">
        <h2 id="ms-h">Schedule</h2>
        {schedule === undefined ? (
          <Loading what="the schedule" />
        ) : schedule.kind === "ok" ? (
          <DataTable<WindowRow>
            label="Maintenance windows"
            rows={windowsFrom(schedule.value)}
            columns={WINDOW_COLUMNS}
            rowKey={(w) => w.key}
            defaultSort={{ key: "start" }}
            empty="No maintenance is scheduled."
          />
        ) : (
          <Unavailable what="/master/maintenance/schedule" detail={describeFailure(schedule)} />
        )}
      </section>
      <section aria-labelledby="mm-h">
        <h2 id="mm-h">Machines</h2>
        {status === undefined ? (
          <Loading what="the status" />
        ) : status.kind === "ok" ? (
          <DataTable<MachineRow>
            label="Machines in maintenance"
            rows={machinesFrom(status.value)}
            columns={MACHINE_COLUMNS}
            rowKey={(m) => m.machine}
            empty="No machine is draining or down."
          />
        ) : (
          <Unavailable what="/master/maintenance/status" detail={describeFailure(status)} />
        )}
      </section>
    </div>
  );
}

/** The four scalar resources the UI totals, read from Mesos' JSON forms. */
import { arr, num, obj, str } from "./json";

export interface Res {
  cpus: number;
  gpus: number;
  /** MB, as Mesos reports it. */
  mem: number;
  /** MB */
  disk: number;
  /** Ranges text such as "[31000-32000]" when present. */
  ports?: string;
}

export const ZERO: Res = Object.freeze({ cpus: 0, gpus: 0, mem: 0, disk: 0 });

export function res(cpus = 0, mem = 0, disk = 0, gpus = 0): Res {
  return { cpus, gpus, mem, disk };
}

/** A v0 resource summary object (`{"cpus": 4, "mem": 1024, "ports": "[...]"}`). */
export function fromSummary(value: unknown): Res {
  const o = obj(value);
  const out: Res = { cpus: num(o.cpus), gpus: num(o.gpus), mem: num(o.mem), disk: num(o.disk) };
  if (typeof o.ports === "string") out.ports = o.ports;
  return out;
}

/** A v1 `Resource[]` (`[{name, type: "SCALAR", scalar: {value}}]`), scalars summed by name. */
export function fromResourceList(value: unknown): Res {
  const out: Res = { ...ZERO };
  for (const item of arr(value)) {
    const r = obj(item);
    const name = str(r.name);
    const scalar = num(obj(r.scalar).value);
    if (name === "cpus" || name === "gpus" || name === "mem" || name === "disk") {
      out[name] += scalar;
    }
  }
  return out;
}

export function add(a: Res, b: Res): Res {
  return {
    cpus: a.cpus + b.cpus,
    gpus: a.gpus + b.gpus,
    mem: a.mem + b.mem,
    disk: a.disk + b.disk,
  };
}

/** `a - b`, clamped at zero per resource. */
export function subtract(a: Res, b: Res): Res {
  return {
    cpus: Math.max(0, a.cpus - b.cpus),
    gpus: Math.max(0, a.gpus - b.gpus),
    mem: Math.max(0, a.mem - b.mem),
    disk: Math.max(0, a.disk - b.disk),
  };
}

/** Adds `b` into `a` in place (for totals over many agents). */
export function accumulate(a: Res, b: Res): void {
  a.cpus += b.cpus;
  a.gpus += b.gpus;
  a.mem += b.mem;
  a.disk += b.disk;
}

/** The largest share `used` holds of `total` over the four resources (Mesos' "max share"). */
export function maxShare(used: Res, total: Res): number {
  let share = 0;
  for (const k of ["cpus", "gpus", "mem", "disk"] as const) {
    if (total[k] > 0) share = Math.max(share, used[k] / total[k]);
  }
  return share;
}

/**
 * Reads executor events from JSON records, checking just enough structure
 * that handlers can trust the fields they use. Anything else (bad JSON,
 * unknown types, missing required fields) becomes a reason string, never an
 * exception: the agent is trusted, but a bad record must not kill a task.
 */
import type { ExecutorEvent, ExecutorEventType } from "./protocol.js";

/** Result of decoding one record. */
export type DecodedEvent =
  | { ok: true; event: ExecutorEvent }
  | { ok: false; reason: string; ignorable: boolean };

// Protobuf-to-JSON encoders that emit enum numbers instead of names.
const EVENT_TYPES_BY_NUMBER: Record<number, ExecutorEventType> = {
  1: "SUBSCRIBED",
  2: "LAUNCH",
  3: "KILL",
  4: "ACKNOWLEDGED",
  5: "MESSAGE",
  6: "ERROR",
  7: "SHUTDOWN",
  8: "LAUNCH_GROUP",
  9: "HEARTBEAT",
};

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function hasId(v: unknown): boolean {
  return isObject(v) && typeof v.value === "string";
}

function field(o: Obj, name: string): Obj | undefined {
  const v = o[name];
  return isObject(v) ? v : undefined;
}

/** Checks the fields each event type requires; returns a reason when one is missing. */
function missingField(type: ExecutorEventType, e: Obj): string | undefined {
  switch (type) {
    case "SUBSCRIBED": {
      const s = field(e, "subscribed");
      if (s === undefined) return "'subscribed'";
      for (const f of ["executor_info", "framework_info", "agent_info"]) {
        if (!isObject(s[f])) return `'subscribed.${f}'`;
      }
      return undefined;
    }
    case "LAUNCH": {
      const task = field(e, "launch")?.task;
      return isObject(task) && hasId(task.task_id) ? undefined : "'launch.task.task_id'";
    }
    case "LAUNCH_GROUP": {
      const tasks = field(field(e, "launch_group") ?? {}, "task_group")?.tasks;
      if (!Array.isArray(tasks)) return "'launch_group.task_group.tasks'";
      return tasks.every((t) => isObject(t) && hasId(t.task_id))
        ? undefined
        : "'launch_group.task_group.tasks[].task_id'";
    }
    case "KILL":
      return hasId(field(e, "kill")?.task_id) ? undefined : "'kill.task_id'";
    case "ACKNOWLEDGED": {
      const a = field(e, "acknowledged");
      if (a === undefined || !hasId(a.task_id)) return "'acknowledged.task_id'";
      return typeof a.uuid === "string" ? undefined : "'acknowledged.uuid'";
    }
    case "MESSAGE":
      return typeof field(e, "message")?.data === "string" ? undefined : "'message.data'";
    case "ERROR":
      return typeof field(e, "error")?.message === "string" ? undefined : "'error.message'";
    default:
      return undefined;
  }
}

/** Decodes one RecordIO record holding a JSON `mesos.v1.executor.Event`. */
export function decodeEvent(record: Uint8Array): DecodedEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(
      Buffer.from(record.buffer, record.byteOffset, record.byteLength).toString(),
    );
  } catch (err) {
    return { ok: false, reason: `not valid JSON: ${(err as Error).message}`, ignorable: false };
  }
  if (!isObject(parsed)) return { ok: false, reason: "not a JSON object", ignorable: false };
  const raw = parsed.type;
  const type = typeof raw === "number" ? EVENT_TYPES_BY_NUMBER[raw] : raw;
  if (typeof type !== "string" || !Object.values(EVENT_TYPES_BY_NUMBER).includes(type as never)) {
    // Mesos executors ignore UNKNOWN (e.g. newer) event types.
    return { ok: false, reason: `unknown event type ${JSON.stringify(raw)}`, ignorable: true };
  }
  const missing = missingField(type as ExecutorEventType, parsed);
  if (missing !== undefined) {
    return { ok: false, reason: `${type} event without ${missing}`, ignorable: false };
  }
  parsed.type = type;
  return { ok: true, event: parsed as unknown as ExecutorEvent };
}

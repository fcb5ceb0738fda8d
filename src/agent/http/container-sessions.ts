/**
 * Container sessions of the v1 agent API (non-TTY only):
 * - LAUNCH_NESTED_CONTAINER_SESSION starts a nested container whose
 *   standard streams are pipes the agent holds, and answers `200` with a
 *   RecordIO stream of `ProcessIO` DATA records (STDOUT / STDERR) that ends
 *   once the container has closed its output. When that stream ends, or the
 *   client goes away first, the container is killed (as Mesos destroys it).
 * - ATTACH_CONTAINER_INPUT takes a RecordIO request: a first record naming
 *   the container, then `ProcessIO` records: DATA STDIN (an empty one closes
 *   the container's stdin) and CONTROL heartbeats. One input connection at a
 *   time (`409` for a second one, as Mesos). Answers `200` at the end of the
 *   input. The HTTP server reads whole bodies, so the input reaches the
 *   container once the request body is complete.
 * - ATTACH_CONTAINER_OUTPUT follows a session's output: any number of
 *   readers (as Mesos' I/O switchboard), each from the moment it attaches.
 * - Every `--http_heartbeat_interval`, each reader of a session's output gets
 *   a CONTROL HEARTBEAT record carrying the interval (Mesos' switchboard
 *   does the same), so idle sessions keep their connections alive.
 *
 * WAIT_(NESTED_)CONTAINER on a session is answered by nested-container-calls.ts.
 * Authorization: `launch_nested_container_sessions_as_user`,
 * `attach_containers_input`, `attach_containers_output` (Mesos' actions).
 */
import type { Readable } from "node:stream";
import { forbiddenMessage, requestAuthorized } from "../../common/auth/request-auth.js";
import type { HttpRequest } from "../../common/http/request.js";
import {
  badRequest,
  conflict,
  forbidden,
  type HttpResponse,
  notFound,
  notImplemented,
  ok,
  type ResponseStream,
  response,
  streaming,
} from "../../common/http/response.js";
import { mediaType, type V1ContentType } from "../../common/http/v1-api.js";
import type { Logger } from "../../common/observability/logger.js";
import type { ContainerID } from "../../common/protocol/generated/mesos-v1.js";
import type {
  Call,
  Call_AttachContainerInput,
  ProcessIO,
} from "../../common/protocol/generated/mesos-v1-agent.js";
import { codecFor } from "../../common/protocol/index.js";
import { RecordIoDecoder } from "../../common/recordio/decoder.js";
import { encodeRecord } from "../../common/recordio/encoder.js";
import { type Clock, repeatEvery } from "../../common/time/clock.js";
import {
  type NestedContainers,
  nestedKey,
  type SessionIo,
} from "../containerizer/nested-containers.js";
import { splitId } from "./nested-container-calls.js";

const callCodec = codecFor<Call>("mesos.v1.agent.Call");
const processIoCodec = codecFor<ProcessIO>("mesos.v1.agent.ProcessIO");

/** The calls this module answers. */
export const CONTAINER_SESSION_CALLS: ReadonlySet<string> = new Set([
  "LAUNCH_NESTED_CONTAINER_SESSION",
  "ATTACH_CONTAINER_INPUT",
  "ATTACH_CONTAINER_OUTPUT",
]);

/** How the call's request and response messages are encoded. */
export interface SessionMedia {
  /** Encoding of the request's records (ATTACH_CONTAINER_INPUT). */
  readonly content: V1ContentType;
  /** Encoding of the response's `ProcessIO` records. */
  readonly accept: V1ContentType;
  /** The client asked for `application/recordio` (then `Message-Content-Type` is set). */
  readonly acceptStreaming: boolean;
}

/** What sessions need from the agent besides its nested containers. */
export interface SessionOptions {
  readonly clock: Clock;
  /** `--http_heartbeat_interval`: the period of CONTROL HEARTBEAT records on output streams. */
  readonly heartbeatIntervalMs: number;
}

const VALIDATION = "Failed to validate agent::Call: ";

/** One reader of a session's output. */
interface OutputReader {
  readonly stream: ResponseStream;
  readonly type: V1ContentType;
}

/** A live session: the container's pipes and who reads them. */
interface Session {
  readonly parentId: string;
  readonly childId: string;
  readonly io: SessionIo;
  readonly readers: Set<OutputReader>;
  /** Readers whose socket buffer is full: output is paused until they drain. */
  readonly blocked: Set<OutputReader>;
  inputConnected: boolean;
  pumping: boolean;
  /** Output streams still open (stdout, stderr). */
  open: number;
  /** Resolves once the container's output has ended. */
  readonly done: Promise<void>;
  finish(): void;
  /** Cancels the heartbeats (when the output ends). */
  stopHeartbeats: () => void;
}

/** The sessions of one agent (its NestedContainers), kept between calls. */
const registries = new WeakMap<NestedContainers, Map<string, Session>>();

function sessionsOf(nested: NestedContainers): Map<string, Session> {
  let sessions = registries.get(nested);
  if (sessions === undefined) {
    sessions = new Map();
    registries.set(nested, sessions);
  }
  return sessions;
}

function idString(id: ContainerID): string {
  return id.parent === undefined ? id.value : `${idString(id.parent)}.${id.value}`;
}

/**
 * Answers LAUNCH_NESTED_CONTAINER_SESSION, ATTACH_CONTAINER_INPUT or
 * ATTACH_CONTAINER_OUTPUT (the call as validated by the operator API; for
 * ATTACH_CONTAINER_INPUT, `request.body` is the whole RecordIO body).
 */
export async function containerSessionCall(
  nested: NestedContainers | undefined,
  logger: Logger,
  call: Call,
  request: HttpRequest,
  media: SessionMedia,
  options: SessionOptions,
): Promise<HttpResponse> {
  const type = call.type ?? "UNKNOWN";
  if (nested === undefined) {
    return notImplemented(`${type}: nested containers are not available on this agent`);
  }
  await nested.ready();
  switch (type) {
    case "LAUNCH_NESTED_CONTAINER_SESSION":
      return launchSession(nested, logger, call, request, media, options);
    case "ATTACH_CONTAINER_INPUT":
      return attachInput(nested, logger, call, request, media);
    default:
      return attachOutput(nested, call, request, media);
  }
}

async function launchSession(
  nested: NestedContainers,
  logger: Logger,
  call: Call,
  request: HttpRequest,
  media: SessionMedia,
  options: SessionOptions,
): Promise<HttpResponse> {
  const launch = call.launch_nested_container_session;
  const id = splitId(launch?.container_id);
  if (typeof id === "string") {
    return id.startsWith("Expecting")
      ? badRequest(`${VALIDATION}${id}`)
      : notImplemented(`LAUNCH_NESTED_CONTAINER_SESSION: ${id}`);
  }
  if (launch?.container?.tty_info !== undefined) {
    return notImplemented(
      "LAUNCH_NESTED_CONTAINER_SESSION: sessions with a TTY (container.tty_info) are not supported in mesos-ts yet",
    );
  }
  const user = launch?.command?.user;
  if (!requestAuthorized(request, "launch_nested_container_sessions_as_user", user, id.root)) {
    return forbidden(
      forbiddenMessage(
        request,
        `launch nested container session '${nestedKey(id.parent, id.child)}'${user === undefined ? "" : ` as user '${user}'`}`,
      ),
    );
  }
  const result = await nested.launch({
    parentId: id.parent,
    childId: id.child,
    command: launch?.command,
    container: launch?.container,
    session: true,
  });
  if (!("ok" in result)) return response(result.status, result.error);
  const io = result.io;
  if (io === undefined) {
    nested.kill(id.parent, id.child);
    return response(500, `Container '${nestedKey(id.parent, id.child)}' has no session pipes`);
  }
  const session = openSession(nested, logger, id.parent, id.child, io, options);
  return outputResponse(session, media, (reason) => {
    // The client went away before the output ended: the session is over (as Mesos).
    if (reason === "disconnected" && session.open > 0) {
      logger.info(
        `Session connection for container '${nestedKey(id.parent, id.child)}' closed: killing it`,
      );
      nested.kill(id.parent, id.child);
    }
  });
}

/** Registers a launched session and wires the end of its output. */
function openSession(
  nested: NestedContainers,
  logger: Logger,
  parentId: string,
  childId: string,
  io: SessionIo,
  options: SessionOptions,
): Session {
  const sessions = sessionsOf(nested);
  const key = nestedKey(parentId, childId);
  let finish = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const session: Session = {
    parentId,
    childId,
    io,
    readers: new Set(),
    blocked: new Set(),
    inputConnected: false,
    pumping: false,
    open: 2,
    done,
    finish,
    stopHeartbeats: () => {},
  };
  sessions.set(key, session);
  session.stopHeartbeats = startHeartbeats(session, options);
  const ended = () => {
    session.open -= 1;
    if (session.open > 0) return;
    sessions.delete(key);
    session.stopHeartbeats();
    for (const reader of session.readers) reader.stream.end();
    session.readers.clear();
    session.blocked.clear();
    // Nobody can write to it any more; pending input is dropped.
    io.stdin.destroy();
    // Whatever is left of the container goes with its output (Mesos destroys it).
    nested.kill(parentId, childId);
    session.finish();
  };
  for (const source of [io.stdout, io.stderr]) {
    // An empty stream may have ended already, while the launch was finishing.
    if (source.readableEnded || source.destroyed) {
      ended();
      continue;
    }
    let counted = false;
    const once = () => {
      if (counted) return;
      counted = true;
      ended();
    };
    source.once("end", once);
    source.once("close", once);
    source.once("error", (e: Error) => {
      logger.warn(`Reading the output of session '${key}' failed: ${e.message}`);
      once();
    });
  }
  io.stdin.on("error", () => {
    // Writes after the container closed its stdin; the input call reports it.
  });
  return session;
}

/**
 * Sends a CONTROL HEARTBEAT to every reader each interval while the session's
 * output is open; returns what cancels them. A reader whose socket is full
 * is skipped: it is already behind, and a heartbeat is not data.
 */
function startHeartbeats(session: Session, options: SessionOptions): () => void {
  const intervalMs = options.heartbeatIntervalMs;
  const message: ProcessIO = {
    type: "CONTROL",
    control: {
      type: "HEARTBEAT",
      heartbeat: { interval: { nanoseconds: Math.round(intervalMs * 1e6) } },
    },
  };
  const records = new Map<V1ContentType, Buffer>();
  const recordFor = (type: V1ContentType): Buffer => {
    let record = records.get(type);
    if (record === undefined) {
      record = encodeRecord(
        type === "json"
          ? processIoCodec.encodeJson(message)
          : processIoCodec.encodeProtobuf(message),
      );
      records.set(type, record);
    }
    return record;
  };
  return repeatEvery(options.clock, intervalMs, () => {
    for (const reader of session.readers) {
      if (!session.blocked.has(reader)) reader.stream.write(recordFor(reader.type));
    }
  });
}

/** Sends the session's output to a new reader, starting the pumps on the first one. */
function outputResponse(
  session: Session,
  media: SessionMedia,
  onClose?: (reason: "ended" | "disconnected") => void,
): HttpResponse {
  const headers: Record<string, string> = media.acceptStreaming
    ? { "Content-Type": "application/recordio", "Message-Content-Type": mediaType(media.accept) }
    : { "Content-Type": mediaType(media.accept) };
  return streaming(200, headers, (stream) => {
    const reader: OutputReader = { stream, type: media.accept };
    stream.onClose((reason) => {
      session.readers.delete(reader);
      unblock(session, reader);
      onClose?.(reason);
    });
    if (session.open === 0) {
      stream.end();
      return;
    }
    session.readers.add(reader);
    stream.onDrain(() => unblock(session, reader));
    startPumps(session);
  });
}

function unblock(session: Session, reader: OutputReader): void {
  if (!session.blocked.delete(reader) || session.blocked.size > 0) return;
  session.io.stdout.resume();
  session.io.stderr.resume();
}

/** Relays the container's stdout and stderr to every reader as ProcessIO DATA records. */
function startPumps(session: Session): void {
  if (session.pumping) return;
  session.pumping = true;
  const pump = (source: Readable, kind: "STDOUT" | "STDERR") => {
    source.on("data", (chunk: Buffer) => {
      const message: ProcessIO = { type: "DATA", data: { type: kind, data: chunk } };
      const encoded = new Map<V1ContentType, Buffer>();
      for (const reader of session.readers) {
        let record = encoded.get(reader.type);
        if (record === undefined) {
          record = encodeRecord(
            reader.type === "json"
              ? processIoCodec.encodeJson(message)
              : processIoCodec.encodeProtobuf(message),
          );
          encoded.set(reader.type, record);
        }
        if (!reader.stream.write(record)) session.blocked.add(reader);
      }
      if (session.blocked.size > 0) {
        session.io.stdout.pause();
        session.io.stderr.pause();
      }
    });
  };
  pump(session.io.stdout, "STDOUT");
  pump(session.io.stderr, "STDERR");
}

/** The session named by an ATTACH_* call, or the response refusing it. */
function findSession(
  nested: NestedContainers,
  request: HttpRequest,
  containerId: ContainerID,
  action: "attach_containers_input" | "attach_containers_output",
): Session | HttpResponse {
  let root = containerId;
  while (root.parent !== undefined) root = root.parent;
  const parent = nested.parent(root.value);
  const name = idString(containerId);
  if (parent === undefined) return notFound(`Container ${name} cannot be found`);
  if (!requestAuthorized(request, action, parent.user, root.value)) {
    const what = action === "attach_containers_input" ? "input" : "output";
    return forbidden(forbiddenMessage(request, `attach to the ${what} of container '${name}'`));
  }
  // Sessions are kept by their whole dotted id (a session may be nested at any depth).
  const session = containerId.parent === undefined ? undefined : sessionsOf(nested).get(name);
  if (session === undefined) {
    return response(
      500,
      `Container ${name} has no I/O to attach to: mesos-ts only attaches to running container sessions (LAUNCH_NESTED_CONTAINER_SESSION)`,
    );
  }
  return session;
}

function attachOutput(
  nested: NestedContainers,
  call: Call,
  request: HttpRequest,
  media: SessionMedia,
): HttpResponse {
  const containerId = call.attach_container_output?.container_id;
  if (containerId === undefined || containerId.value === "") {
    return badRequest(
      `${VALIDATION}'attach_container_output.container_id' is invalid: the id is empty`,
    );
  }
  const found = findSession(nested, request, containerId, "attach_containers_output");
  if ("kind" in found) return found;
  return outputResponse(found, media);
}

/** Why an input record after the first is refused, or undefined. */
function inputRecordError(call: Call): string | undefined {
  if (call.type !== "ATTACH_CONTAINER_INPUT") {
    return `Expecting 'type' to be ATTACH_CONTAINER_INPUT, not ${call.type ?? "absent"}`;
  }
  const input = call.attach_container_input;
  if (input?.type !== "PROCESS_IO") {
    return `Expecting 'attach_container_input.type' to be 'PROCESS_IO' instead of: '${input?.type ?? "absent"}'`;
  }
  const io = input.process_io;
  if (io === undefined) return "Expecting 'attach_container_input.process_io' to be present";
  if (io.type === "DATA") {
    if (io.data === undefined) return "Expecting 'process_io.data' to be present";
    if (io.data.type !== "STDIN") return "Expecting 'process_io.data.type' to be 'STDIN'";
    return undefined;
  }
  if (io.type === "CONTROL") {
    if (io.control?.type === "HEARTBEAT") return undefined;
    if (io.control?.type === "TTY_INFO") {
      return "Unable to set the window size: the container has no TTY";
    }
    return "Expecting 'process_io.control.type' to be HEARTBEAT";
  }
  return "Expecting 'process_io.type' to be DATA or CONTROL";
}

function firstInputError(input: Call_AttachContainerInput | undefined): string | undefined {
  if (input?.type === undefined) return "Expecting 'attach_container_input.type' to be present";
  if (input.type === "UNKNOWN") return "'attach_container_input.type' is unknown";
  if (input.type !== "CONTAINER_ID") return undefined;
  if (input.container_id === undefined || input.container_id.value === "") {
    return "'attach_container_input.container_id' is invalid: the id is empty";
  }
  return undefined;
}

async function attachInput(
  nested: NestedContainers,
  logger: Logger,
  call: Call,
  request: HttpRequest,
  media: SessionMedia,
): Promise<HttpResponse> {
  const input = call.attach_container_input;
  const invalid = firstInputError(input);
  if (invalid !== undefined) return badRequest(`${VALIDATION}${invalid}`);
  const containerId = input?.container_id;
  if (input?.type !== "CONTAINER_ID" || containerId === undefined) {
    return badRequest("Expecting 'attach_container_input.type' to be CONTAINER_ID");
  }
  const found = findSession(nested, request, containerId, "attach_containers_input");
  if ("kind" in found) return found;
  const session = found;
  if (session.inputConnected) return conflict("Multiple input connections are not allowed");
  let records: Buffer[];
  try {
    records = new RecordIoDecoder().decode(request.body);
  } catch (e) {
    return badRequest((e as Error).message);
  }
  session.inputConnected = true;
  try {
    for (const record of records.slice(1)) {
      const decoded =
        media.content === "json" ? callCodec.decodeJson(record) : callCodec.decodeProtobuf(record);
      if (!decoded.ok)
        return badRequest(`Failed to parse an input record: ${decoded.error.reason}`);
      const error = inputRecordError(decoded.value);
      if (error !== undefined) return badRequest(error);
      const io = decoded.value.attach_container_input?.process_io;
      if (io?.type !== "DATA") continue;
      const data = io.data?.data ?? new Uint8Array(0);
      if (data.length === 0) {
        session.io.stdin.end();
        continue;
      }
      const written = await writeInput(session, data);
      if (written !== undefined) {
        logger.info(`Input for session '${idString(containerId)}' stopped: ${written}`);
        // The container is gone (its output ended): Mesos answers the input call with OK too.
        return ok();
      }
    }
    return ok();
  } finally {
    session.inputConnected = false;
  }
}

/** Writes to the session's stdin; resolves with why it could not, or undefined. */
function writeInput(session: Session, data: Uint8Array): Promise<string | undefined> {
  const stdin = session.io.stdin;
  if (stdin.destroyed || stdin.writableEnded) {
    return Promise.resolve("the container's stdin is closed");
  }
  return new Promise((resolve) => {
    // A container that never reads its stdin must not hold the call forever.
    void session.done.then(() => resolve("the container's output has ended"));
    stdin.write(data, (e) => resolve(e === null || e === undefined ? undefined : e.message));
  });
}

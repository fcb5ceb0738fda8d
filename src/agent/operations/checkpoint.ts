/**
 * The operation status update streams on disk, in Mesos' layout and
 * format: `<work_dir>/meta/slaves/<agent>/operations/<operation uuid>/operation.updates`,
 * one length-prefixed `UpdateOperationStatusRecord` (UPDATE or ACK) after
 * another, appended durably. A stream's directory is removed once its
 * terminal update is acknowledged.
 */
import { closeSync, ftruncateSync, openSync, readdirSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { isUuidText, uuidBytesToText, uuidTextToBytes } from "../../common/ids/uuid.js";
import type {
  UpdateOperationStatusMessage,
  UpdateOperationStatusRecord,
} from "../../common/protocol/generated/mesos-internal.js";
import { codecFor } from "../../common/protocol/index.js";
import { frameRecord, scanRecords } from "../checkpoint/framing.js";
import { CheckpointWriter } from "../checkpoint/writer.js";
import { operationPath, operationsPath, operationUpdatesPath } from "../paths.js";
import { uuidKey } from "../status-updates/stream.js";
import type { OperationStreamRecord } from "./status-update-manager.js";

const recordCodec = codecFor<UpdateOperationStatusRecord>(
  "mesos.internal.UpdateOperationStatusRecord",
);

/** A stream read back from disk. */
export interface SavedOperationStream {
  operationUuid: Buffer;
  updates: UpdateOperationStatusMessage[];
  /** Hex of the acknowledged status uuids. */
  acks: Set<string>;
  /** Set when a complete record does not decode: what was read before it is kept. */
  error?: string;
}

/** What `readOperationStreams` found. */
export interface SavedOperationStreams {
  streams: SavedOperationStream[];
  /** Directories under `operations/` that are not named by a uuid. */
  strays: string[];
}

function text(uuid: Uint8Array): string {
  const out = uuidBytesToText(uuid);
  if (out === undefined) throw new Error(`operation uuid of ${uuid.length} bytes`);
  return out;
}

/** Writes and removes the agent's operation streams (one per agent). */
export class OperationStreamFiles {
  private readonly writer = new CheckpointWriter();

  constructor(private readonly workDir: string) {}

  /** Appends a record to the operation's `operation.updates`; settles once durable. */
  append(agentId: string, record: OperationStreamRecord): Promise<void> {
    const value: UpdateOperationStatusRecord =
      record.kind === "update"
        ? { type: "UPDATE", update: record.update }
        : { type: "ACK", uuid: { value: record.statusUuid } };
    return this.writer.append(
      operationUpdatesPath(this.workDir, agentId, text(record.operationUuid)),
      frameRecord(recordCodec.encodeProtobuf(value)),
    );
  }

  /** Removes the operation's stream directory (its terminal update was acknowledged). */
  async remove(agentId: string, operationUuid: Uint8Array): Promise<void> {
    // After the records queued for it, so a late append does not re-create it.
    await this.writer.idle();
    await rm(operationPath(this.workDir, agentId, text(operationUuid)), {
      recursive: true,
      force: true,
    });
  }
}

/** Reads one `operation.updates`; a torn last record is cut off, as for `task.updates`. */
function readStream(path: string, operationUuid: Buffer): SavedOperationStream {
  const out: SavedOperationStream = { operationUuid, updates: [], acks: new Set() };
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch {
    // The directory was made but the first record never landed: an empty stream.
    return out;
  }
  const scan = scanRecords(data);
  let index = 0;
  for (const bytes of scan.records) {
    index++;
    const decoded = recordCodec.decodeProtobuf(bytes);
    if (!decoded.ok) {
      out.error = `record ${index} is corrupted (${decoded.error.message})`;
      return out;
    }
    const record = decoded.value;
    if (record.type === "ACK" && record.uuid !== undefined)
      out.acks.add(uuidKey(record.uuid.value));
    else if (record.type === "UPDATE" && record.update !== undefined)
      out.updates.push(record.update);
    else {
      out.error = `record ${index} is an ${record.type} without its ${record.type === "ACK" ? "uuid" : "update"}`;
      return out;
    }
  }
  if (scan.torn) {
    const fd = openSync(path, "r+");
    try {
      ftruncateSync(fd, scan.validLength);
    } finally {
      closeSync(fd);
    }
  }
  return out;
}

/** Reads every operation stream of the agent (none when the directory is absent). */
export function readOperationStreams(workDir: string, agentId: string): SavedOperationStreams {
  const root = operationsPath(workDir, agentId);
  const out: SavedOperationStreams = { streams: [], strays: [] };
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return out;
  }
  for (const name of names.sort()) {
    const uuid = isUuidText(name) ? uuidTextToBytes(name) : undefined;
    if (uuid === undefined) {
      out.strays.push(name);
      continue;
    }
    out.streams.push(readStream(operationUpdatesPath(workDir, agentId, name), uuid));
  }
  return out;
}

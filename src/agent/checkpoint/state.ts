/**
 * Reading the agent's checkpoints back at start-up (Mesos' `state::recover`):
 * walks `<work_dir>/meta/slaves/latest` and everything under it into plain
 * data. Problems are reported with the file they are in and what to do:
 * with `strict`, the first one stops recovery; without, it is recorded in
 * `errors` and the piece it belongs to is skipped.
 *
 * A `task.updates` stream that ends inside a record (the agent died while
 * appending) is not a problem: the torn tail is cut off, as Mesos does. A
 * record that is complete but does not decode is corruption.
 */
import {
  closeSync,
  existsSync,
  ftruncateSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
} from "node:fs";
import { basename, join } from "node:path";
import type {
  SlaveInfo,
  StatusUpdate,
  StatusUpdateRecord,
} from "../../common/protocol/generated/mesos-internal.js";
import type {
  ExecutorInfo,
  FrameworkInfo,
  Task,
} from "../../common/protocol/generated/mesos-v1.js";
import { codecFor } from "../../common/protocol/index.js";
import type { ProcessIdentity } from "../containerizer/pid-record.js";
import {
  agentInfoPath,
  agentPath,
  executorGeneratedPath,
  executorInfoPath,
  executorPath,
  executorSentinelPath,
  forkedIdentityPath,
  forkedPidPath,
  frameworkInfoPath,
  frameworkPath,
  frameworkPidPath,
  httpMarkerPath,
  latestAgentLink,
  libprocessPidPath,
  metaRoot,
  metaRunPath,
  type RunIds,
  taskInfoPath,
  taskUpdatesPath,
} from "../paths.js";
import { uuidKey } from "../status-updates/stream.js";
import { scanRecords } from "./framing.js";

/** One task's checkpoint. */
export interface TaskCheckpoint {
  id: string;
  /** The Task as checkpointed when it was queued on the executor. */
  info?: Task;
  /** Every update received, in order. */
  updates: StatusUpdate[];
  /** Hex uuids of the acknowledged updates. */
  acks: Set<string>;
}

/** One executor run's checkpoint. */
export interface RunCheckpoint {
  containerId: string;
  /** The agent removed this run (`executor.sentinel`). */
  completed: boolean;
  /** `pids/forked.pid`, unless the host rebooted since. */
  forkedPid?: number;
  /** Our `pids/forked.identity` (pid, start time, boot id), unless the host rebooted since. */
  identity?: ProcessIdentity;
  /** The executor subscribed over HTTP (`http.marker`). */
  http: boolean;
  /** `pids/libprocess.pid` of a v0 executor. */
  libprocessPid?: string;
  tasks: Map<string, TaskCheckpoint>;
}

/** One executor's checkpoint. */
export interface ExecutorCheckpoint {
  id: string;
  info?: ExecutorInfo;
  generatedForCommandTask: boolean;
  /** The container id `runs/latest` points at. */
  latest?: string;
  runs: Map<string, RunCheckpoint>;
}

/** One framework's checkpoint. */
export interface FrameworkCheckpoint {
  id: string;
  info?: FrameworkInfo;
  pid?: string;
  executors: Map<string, ExecutorCheckpoint>;
}

/** The agent's checkpoint. */
export interface AgentCheckpoint {
  id: string;
  info?: SlaveInfo;
  frameworks: Map<string, FrameworkCheckpoint>;
}

/** Everything recovered. */
export interface RecoveredState {
  /** `meta/boot_id` as found (the boot of the previous agent run). */
  bootId?: string;
  /** The host rebooted since the checkpoint: recorded pids mean nothing. */
  rebooted: boolean;
  /** Undefined when there is nothing to recover (no `meta/slaves/latest`). */
  agent?: AgentCheckpoint;
  /** Problems skipped (without `strict`). */
  errors: string[];
}

/** A recovery problem that stops the agent (with `strict`). */
export class CheckpointError extends Error {
  constructor(
    message: string,
    /** The file (or directory) at fault. */
    readonly path: string,
  ) {
    super(message);
    this.name = "CheckpointError";
  }
}

type Decoded<T> = { kind: "ok"; value: T } | { kind: "none" } | { kind: "error"; error: string };

/** Reads a one-record protobuf file; an empty file is "none" (created, never written). */
export function readMessageFile<T>(path: string, type: string): Decoded<T> {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (e) {
    return { kind: "error", error: (e as Error).message };
  }
  if (data.length === 0) return { kind: "none" };
  const scan = scanRecords(data);
  const record = scan.records[0];
  if (record === undefined || scan.torn) {
    return { kind: "error", error: `the file is truncated (${data.length} bytes)` };
  }
  if (scan.records.length > 1) {
    return { kind: "error", error: "unexpected data after the record" };
  }
  const decoded = codecFor<T>(type).decodeProtobuf(record);
  if (!decoded.ok) return { kind: "error", error: `not a valid ${type}: ${decoded.error.message}` };
  return { kind: "ok", value: decoded.value };
}

function listDir(path: string): string[] {
  try {
    return readdirSync(path).filter((n) => !n.startsWith("."));
  } catch {
    return [];
  }
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** The remedy printed with every strict-mode failure. */
export function recoveryRemedy(workDir: string): string {
  return (
    `To keep this agent id, fix or remove the file named above (or restart with --strict=false to skip what cannot be read). ` +
    `To start as a new agent instead (old executors are not recovered): rm -f ${latestAgentLink(workDir)}`
  );
}

class Reader {
  readonly errors: string[] = [];

  constructor(
    readonly workDir: string,
    readonly strict: boolean,
  ) {}

  /** Records a problem; throws with `strict`. */
  problem(message: string, path: string): void {
    if (this.strict) throw new CheckpointError(message, path);
    this.errors.push(message);
  }

  message<T>(path: string, type: string, what: string): T | undefined | "error" {
    if (!existsSync(path)) return undefined;
    const read = readMessageFile<T>(path, type);
    if (read.kind === "ok") return read.value;
    if (read.kind === "none") return undefined;
    this.problem(
      `Failed to read ${what} from '${path}': ${read.error}. Remove '${path}' to drop it`,
      path,
    );
    return "error";
  }
}

/**
 * Reads the checkpoints under `<workDir>/meta`. `currentBootId` tells
 * whether the host rebooted since (then pids are ignored, as Mesos does).
 * Throws CheckpointError with `strict` on the first problem.
 */
export function readCheckpoints(
  workDir: string,
  strict: boolean,
  currentBootId: string,
): RecoveredState {
  const reader = new Reader(workDir, strict);
  const bootIdFile = join(metaRoot(workDir), "boot_id");
  let bootId: string | undefined;
  try {
    bootId = readFileSync(bootIdFile, "utf8").trim();
  } catch {
    bootId = undefined;
  }
  const rebooted = bootId !== undefined && bootId !== "" && bootId !== currentBootId;
  const state: RecoveredState = { rebooted, errors: reader.errors };
  if (bootId !== undefined) state.bootId = bootId;
  const latest = latestAgentLink(workDir);
  if (!isSymlink(latest)) return state;
  let agentId: string;
  try {
    agentId = basename(readlinkSync(latest));
  } catch (e) {
    throw new CheckpointError(
      `Failed to read the latest agent link '${latest}': ${(e as Error).message}`,
      latest,
    );
  }
  if (!existsSync(agentPath(metaRoot(workDir), agentId))) {
    throw new CheckpointError(
      `The latest agent link '${latest}' points at a missing directory (agent ${agentId})`,
      latest,
    );
  }
  const agent: AgentCheckpoint = { id: agentId, frameworks: new Map() };
  state.agent = agent;
  const info = reader.message<SlaveInfo>(
    agentInfoPath(workDir, agentId),
    "mesos.internal.SlaveInfo",
    "agent info",
  );
  if (info === "error") return state;
  if (info !== undefined) agent.info = info;
  const frameworksDir = join(agentPath(metaRoot(workDir), agentId), "frameworks");
  for (const frameworkId of listDir(frameworksDir)) {
    agent.frameworks.set(frameworkId, readFramework(reader, agentId, frameworkId, rebooted));
  }
  return state;
}

function readFramework(
  reader: Reader,
  agentId: string,
  frameworkId: string,
  rebooted: boolean,
): FrameworkCheckpoint {
  const { workDir } = reader;
  const framework: FrameworkCheckpoint = { id: frameworkId, executors: new Map() };
  const info = reader.message<FrameworkInfo>(
    frameworkInfoPath(workDir, agentId, frameworkId),
    "mesos.v1.FrameworkInfo",
    "framework info",
  );
  if (info !== undefined && info !== "error") framework.info = info;
  const pidFile = frameworkPidPath(workDir, agentId, frameworkId);
  if (existsSync(pidFile)) {
    const pid = readFileSync(pidFile, "utf8").trim();
    if (pid !== "") framework.pid = pid;
  }
  const executorsDir = join(frameworkPath(metaRoot(workDir), agentId, frameworkId), "executors");
  for (const executorId of listDir(executorsDir)) {
    framework.executors.set(
      executorId,
      readExecutor(reader, agentId, frameworkId, executorId, rebooted),
    );
  }
  return framework;
}

function readExecutor(
  reader: Reader,
  agentId: string,
  frameworkId: string,
  executorId: string,
  rebooted: boolean,
): ExecutorCheckpoint {
  const { workDir } = reader;
  const executor: ExecutorCheckpoint = {
    id: executorId,
    generatedForCommandTask: false,
    runs: new Map(),
  };
  const info = reader.message<ExecutorInfo>(
    executorInfoPath(workDir, agentId, frameworkId, executorId),
    "mesos.v1.ExecutorInfo",
    "executor info",
  );
  if (info !== undefined && info !== "error") executor.info = info;
  const generated = executorGeneratedPath(workDir, agentId, frameworkId, executorId);
  if (existsSync(generated)) {
    executor.generatedForCommandTask = readFileSync(generated, "utf8").trim() === "1";
  }
  const runsDir = join(executorPath(metaRoot(workDir), agentId, frameworkId, executorId), "runs");
  for (const name of listDir(runsDir)) {
    const path = join(runsDir, name);
    if (name === "latest") {
      try {
        executor.latest = basename(readlinkSync(path));
      } catch {
        // A dangling or unreadable link: no latest run.
      }
      continue;
    }
    const ids: RunIds = { agentId, frameworkId, executorId, containerId: name };
    executor.runs.set(name, readRun(reader, ids, rebooted));
  }
  if (executor.latest !== undefined && !executor.runs.has(executor.latest)) {
    delete executor.latest;
  }
  return executor;
}

function readRun(reader: Reader, ids: RunIds, rebooted: boolean): RunCheckpoint {
  const { workDir } = reader;
  const run: RunCheckpoint = {
    containerId: ids.containerId,
    completed: existsSync(executorSentinelPath(workDir, ids)),
    http: existsSync(httpMarkerPath(workDir, ids)),
    tasks: new Map(),
  };
  for (const taskId of listDir(join(metaRunPath(workDir, ids), "tasks"))) {
    run.tasks.set(taskId, readTask(reader, ids, taskId));
  }
  const libprocess = libprocessPidPath(workDir, ids);
  if (existsSync(libprocess)) {
    const text = readFileSync(libprocess, "utf8").trim();
    if (text !== "") run.libprocessPid = text;
  }
  if (rebooted) return run;
  const pidFile = forkedPidPath(workDir, ids);
  if (existsSync(pidFile)) {
    const text = readFileSync(pidFile, "utf8").trim();
    if (text !== "") {
      const pid = Number(text);
      if (!Number.isSafeInteger(pid) || pid <= 0) {
        reader.problem(
          `Failed to parse the executor pid '${text}' in '${pidFile}'. Remove '${pidFile}' (the executor is then treated as gone)`,
          pidFile,
        );
        return run;
      }
      run.forkedPid = pid;
    }
  }
  const identityFile = forkedIdentityPath(workDir, ids);
  if (existsSync(identityFile)) {
    const identity = parseIdentity(readFileSync(identityFile, "utf8"));
    if (identity === undefined) {
      reader.problem(
        `Failed to read the executor identity from '${identityFile}'. Remove '${identityFile}' (the executor is then treated as gone)`,
        identityFile,
      );
    } else run.identity = identity;
  }
  return run;
}

function parseIdentity(text: string): ProcessIdentity | undefined {
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    if (typeof o.pid !== "number" || typeof o.bootId !== "string") return undefined;
    const out: ProcessIdentity = { pid: o.pid, bootId: o.bootId };
    if (typeof o.startTime === "number") out.startTime = o.startTime;
    return out;
  } catch {
    return undefined;
  }
}

function readTask(reader: Reader, ids: RunIds, taskId: string): TaskCheckpoint {
  const { workDir } = reader;
  const task: TaskCheckpoint = { id: taskId, updates: [], acks: new Set() };
  const info = reader.message<Task>(
    taskInfoPath(workDir, ids, taskId),
    "mesos.v1.Task",
    "task info",
  );
  if (info === "error") return task;
  if (info !== undefined) task.info = info;
  const path = taskUpdatesPath(workDir, ids, taskId);
  if (!existsSync(path)) return task;
  const read = readUpdatesFile(path);
  if (read.error !== undefined) {
    reader.problem(
      `Failed to read status updates file '${path}': ${read.error}. Remove '${path}' to drop the task's unacknowledged updates`,
      path,
    );
    return task;
  }
  task.updates = read.updates;
  task.acks = read.acks;
  return task;
}

/** What a `task.updates` file holds. */
export interface UpdatesFile {
  updates: StatusUpdate[];
  acks: Set<string>;
  /** Bytes of a torn last record that were cut off. */
  truncatedBytes: number;
  /** Set when a complete record does not decode (corruption). */
  error?: string;
}

/**
 * Reads a `task.updates` stream. A torn last record is cut off the file
 * (truncated in place, as Mesos does); a record that does not decode stops
 * the read with `error`.
 */
export function readUpdatesFile(path: string, truncate = true): UpdatesFile {
  const out: UpdatesFile = { updates: [], acks: new Set(), truncatedBytes: 0 };
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (e) {
    out.error = (e as Error).message;
    return out;
  }
  const scan = scanRecords(data);
  const codec = codecFor<StatusUpdateRecord>("mesos.internal.StatusUpdateRecord");
  let index = 0;
  for (const bytes of scan.records) {
    index++;
    const decoded = codec.decodeProtobuf(bytes);
    if (!decoded.ok) {
      out.error = `record ${index} is corrupted (${decoded.error.message})`;
      return out;
    }
    const record = decoded.value;
    if (record.type === "ACK") {
      if (record.uuid === undefined) {
        out.error = `record ${index} is an acknowledgement without a uuid`;
        return out;
      }
      out.acks.add(uuidKey(record.uuid));
    } else {
      if (record.update === undefined) {
        out.error = `record ${index} is an update without its update`;
        return out;
      }
      out.updates.push(record.update);
    }
  }
  if (scan.torn) {
    out.truncatedBytes = data.length - scan.validLength;
    if (truncate) {
      const fd = openSync(path, "r+");
      try {
        ftruncateSync(fd, scan.validLength);
      } finally {
        closeSync(fd);
      }
    }
  }
  return out;
}

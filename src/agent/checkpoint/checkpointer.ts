/**
 * What the agent core checkpoints, and where: the agent's side of the
 * checkpoint files (Mesos' `Slave::checkpoint*` calls), written through a
 * batching CheckpointWriter in the Mesos layout under `<work_dir>/meta`.
 * Every method returns a promise that settles once the data is on disk.
 */
import type { SlaveInfo, StatusUpdate } from "../../common/protocol/generated/mesos-internal.js";
import type {
  ExecutorInfo,
  FrameworkInfo,
  Task,
} from "../../common/protocol/generated/mesos-v1.js";
import { codecFor } from "../../common/protocol/index.js";
import {
  agentInfoPath,
  agentPath,
  executorGeneratedPath,
  executorInfoPath,
  executorSentinelPath,
  frameworkInfoPath,
  frameworkPidPath,
  httpMarkerPath,
  latestAgentLink,
  latestMetaRunLink,
  metaRoot,
  metaRunPath,
  type RunIds,
  taskInfoPath,
  taskUpdatesPath,
} from "../paths.js";
import { frameRecord } from "./framing.js";
import { CheckpointWriter } from "./writer.js";

/** The agent core's checkpoint port. */
export interface AgentCheckpointer {
  /** `slave.info` (with the id) and the `slaves/latest` link. */
  agent(info: SlaveInfo & { id: { value: string } }): Promise<void>;
  /** `framework.info` and `framework.pid`. */
  framework(agentId: string, info: FrameworkInfo, pid: string | undefined): Promise<void>;
  /** `executor.info`, whether the agent made it up, and the `runs/latest` link. */
  executor(ids: RunIds, info: ExecutorInfo, generatedForCommandTask: boolean): Promise<void>;
  /** `http.marker`: the executor subscribed over HTTP. */
  httpExecutor(ids: RunIds): Promise<void>;
  /** `executor.sentinel`: the agent is done with this run. */
  executorCompleted(ids: RunIds): Promise<void>;
  /** `task.info`. */
  task(ids: RunIds, task: Task): Promise<void>;
  /** Appends an UPDATE record to the task's `task.updates`. */
  update(ids: RunIds, taskId: string, update: StatusUpdate): Promise<void>;
  /** Appends an ACK record to the task's `task.updates`. */
  acknowledgement(ids: RunIds, taskId: string, uuid: Uint8Array): Promise<void>;
  /** Resolves once everything asked so far is on disk. */
  idle(): Promise<void>;
}

function message<T>(type: string, value: T): Buffer {
  return frameRecord(codecFor<T>(type).encodeProtobuf(value));
}

/** The checkpointer over files. */
export class FileCheckpointer implements AgentCheckpointer {
  readonly writer = new CheckpointWriter();

  constructor(private readonly workDir: string) {}

  async agent(info: SlaveInfo & { id: { value: string } }): Promise<void> {
    const id = info.id.value;
    await this.writer.writeFile(
      agentInfoPath(this.workDir, id),
      message("mesos.internal.SlaveInfo", info),
    );
    await this.writer.symlink(latestAgentLink(this.workDir), agentPath(metaRoot(this.workDir), id));
  }

  async framework(agentId: string, info: FrameworkInfo, pid: string | undefined): Promise<void> {
    const id = info.id?.value ?? "";
    await Promise.all([
      this.writer.writeFile(
        frameworkInfoPath(this.workDir, agentId, id),
        message("mesos.v1.FrameworkInfo", info),
      ),
      this.writer.writeFile(frameworkPidPath(this.workDir, agentId, id), pid ?? ""),
    ]);
  }

  async executor(ids: RunIds, info: ExecutorInfo, generated: boolean): Promise<void> {
    const { agentId, frameworkId, executorId } = ids;
    await Promise.all([
      this.writer.writeFile(
        executorInfoPath(this.workDir, agentId, frameworkId, executorId),
        message("mesos.v1.ExecutorInfo", info),
      ),
      this.writer.writeFile(
        executorGeneratedPath(this.workDir, agentId, frameworkId, executorId),
        generated ? "1" : "0",
      ),
      // An absolute target, as Mesos links it.
      this.writer.symlink(latestMetaRunLink(this.workDir, ids), metaRunPath(this.workDir, ids)),
    ]);
  }

  httpExecutor(ids: RunIds): Promise<void> {
    return this.writer.writeFile(httpMarkerPath(this.workDir, ids), "");
  }

  executorCompleted(ids: RunIds): Promise<void> {
    return this.writer.writeFile(executorSentinelPath(this.workDir, ids), "");
  }

  task(ids: RunIds, task: Task): Promise<void> {
    return this.writer.writeFile(
      taskInfoPath(this.workDir, ids, task.task_id.value),
      message("mesos.v1.Task", task),
    );
  }

  update(ids: RunIds, taskId: string, update: StatusUpdate): Promise<void> {
    return this.writer.append(
      taskUpdatesPath(this.workDir, ids, taskId),
      message("mesos.internal.StatusUpdateRecord", { type: "UPDATE", update }),
    );
  }

  acknowledgement(ids: RunIds, taskId: string, uuid: Uint8Array): Promise<void> {
    return this.writer.append(
      taskUpdatesPath(this.workDir, ids, taskId),
      message("mesos.internal.StatusUpdateRecord", { type: "ACK", uuid }),
    );
  }

  idle(): Promise<void> {
    return this.writer.idle();
  }
}

/**
 * JSON shapes of the Mesos v1 executor API (`mesos.v1.executor.Call` and
 * `Event`) and of the `mesos.v1` messages it carries, as far as executors
 * read or write them.
 *
 * Field names are proto field names (snake_case), enums are NAME strings,
 * `bytes` fields are base64 strings, 64-bit integers arrive as numbers (or
 * strings from proto3-style encoders; readers accept both). Messages the
 * executor only passes through (`TaskInfo.container`, `ExecutorInfo`, ...)
 * are typed loosely. This file is types only, so importing it costs nothing
 * at run time.
 *
 * Enums come from the generated protocol types; the messages stay loose here
 * because executors read only parts of them.
 */

import type { TaskState } from "../common/protocol/generated/mesos-v1.js";

/** `mesos.v1.TaskState`, as generated from the proto. */
export type { TaskState };

/** Any `*ID` message (`TaskID`, `FrameworkID`, `ExecutorID`, `AgentID`, `ContainerID`). */
export interface IdValue {
  value: string;
}

/** `mesos.v1.DurationInfo`; `nanoseconds` is an int64. */
export interface DurationInfo {
  nanoseconds: number | string;
}

/** `mesos.v1.KillPolicy`. */
export interface KillPolicy {
  grace_period?: DurationInfo;
}

/** `mesos.v1.Environment.Variable`. */
export interface EnvironmentVariable {
  name: string;
  /** Defaults to `VALUE` when absent. */
  type?: "UNKNOWN" | "VALUE" | "SECRET";
  value?: string;
  secret?: Record<string, unknown>;
}

/** `mesos.v1.Environment`. */
export interface Environment {
  variables?: EnvironmentVariable[];
}

/** `mesos.v1.CommandInfo`. */
export interface CommandInfo {
  uris?: Record<string, unknown>[];
  environment?: Environment;
  /** Defaults to true: `value` is run by `/bin/sh -c`. */
  shell?: boolean;
  value?: string;
  /** With `shell: false`, the full argv (including argv[0]). */
  arguments?: string[];
  user?: string;
}

/** `mesos.v1.Resource`, only the parts an executor looks at. */
export interface ResourceRef {
  name: string;
  allocation_info?: { role?: string };
}

/** `mesos.v1.CheckInfo`, only its type. */
export interface CheckInfoRef {
  type?: "UNKNOWN" | "COMMAND" | "HTTP" | "TCP";
}

/** `mesos.v1.TaskInfo`. */
export interface TaskInfo {
  name: string;
  task_id: IdValue;
  agent_id: IdValue;
  resources?: ResourceRef[];
  executor?: Record<string, unknown>;
  command?: CommandInfo;
  container?: Record<string, unknown>;
  health_check?: Record<string, unknown>;
  check?: CheckInfoRef;
  kill_policy?: KillPolicy;
  /** base64 */
  data?: string;
  labels?: Record<string, unknown>;
  discovery?: Record<string, unknown>;
  max_completion_time?: DurationInfo;
  limits?: Record<string, unknown>;
}

/** `mesos.v1.TaskGroupInfo`. */
export interface TaskGroupInfo {
  tasks: TaskInfo[];
}

/** `mesos.v1.CheckStatusInfo` (only what the command executor fills in). */
export interface CheckStatusInfo {
  type?: "UNKNOWN" | "COMMAND" | "HTTP" | "TCP";
  command?: Record<string, unknown>;
  http?: Record<string, unknown>;
  tcp?: Record<string, unknown>;
}

/** `mesos.v1.TaskStatus`. */
export interface TaskStatus {
  task_id: IdValue;
  state: TaskState;
  message?: string;
  source?: "SOURCE_MASTER" | "SOURCE_AGENT" | "SOURCE_EXECUTOR";
  /** A `TaskStatus.Reason` name, e.g. `REASON_MAX_COMPLETION_TIME_REACHED`. */
  reason?: string;
  /** base64 */
  data?: string;
  agent_id?: IdValue;
  executor_id?: IdValue;
  /** Seconds since the epoch. */
  timestamp?: number;
  /** base64 of the 16 raw bytes of a UUID. */
  uuid?: string;
  healthy?: boolean;
  check_status?: CheckStatusInfo;
  labels?: Record<string, unknown>;
  container_status?: Record<string, unknown>;
  limitation?: Record<string, unknown>;
}

/** `mesos.v1.FrameworkInfo.Capability`. */
export interface FrameworkCapability {
  type: string;
}

/** `mesos.v1.FrameworkInfo`, the parts executors read. */
export interface FrameworkInfo {
  user?: string;
  name?: string;
  id?: IdValue;
  checkpoint?: boolean;
  role?: string;
  roles?: string[];
  capabilities?: FrameworkCapability[];
}

/** `mesos.v1.AgentInfo`, the parts executors read. */
export interface AgentInfo {
  hostname?: string;
  port?: number;
  id?: IdValue;
}

/** `mesos.v1.ExecutorInfo`, the parts executors read. */
export interface ExecutorInfo {
  executor_id?: IdValue;
  framework_id?: IdValue;
  type?: string;
  name?: string;
  command?: CommandInfo;
  shutdown_grace_period?: DurationInfo;
}

/** `Event.Subscribed`. */
export interface SubscribedInfo {
  executor_info: ExecutorInfo;
  framework_info: FrameworkInfo;
  agent_info: AgentInfo;
  container_id?: IdValue;
}

/** `mesos.v1.executor.Event`, one variant per type (UNKNOWN events are dropped on read). */
export type ExecutorEvent =
  | { type: "SUBSCRIBED"; subscribed: SubscribedInfo }
  | { type: "LAUNCH"; launch: { task: TaskInfo } }
  | { type: "LAUNCH_GROUP"; launch_group: { task_group: TaskGroupInfo } }
  | { type: "KILL"; kill: { task_id: IdValue; kill_policy?: KillPolicy } }
  | { type: "ACKNOWLEDGED"; acknowledged: { task_id: IdValue; uuid: string } }
  | { type: "MESSAGE"; message: { data: string } }
  | { type: "ERROR"; error: { message: string } }
  | { type: "SHUTDOWN" }
  | { type: "HEARTBEAT" };

/** The `type` of an {@link ExecutorEvent}. */
export type ExecutorEventType = ExecutorEvent["type"];

/** `Call.Update`. */
export interface CallUpdate {
  status: TaskStatus;
}

/** `mesos.v1.executor.Call`. */
export type ExecutorCall = {
  executor_id: IdValue;
  framework_id: IdValue;
} & (
  | {
      type: "SUBSCRIBE";
      subscribe: { unacknowledged_tasks?: TaskInfo[]; unacknowledged_updates?: CallUpdate[] };
    }
  | { type: "UPDATE"; update: CallUpdate }
  | { type: "MESSAGE"; message: { data: string } }
  | { type: "HEARTBEAT" }
);

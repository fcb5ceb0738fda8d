/**
 * The default executor's client of the agent's nested container calls
 * (v1 agent API, JSON): LAUNCH_CONTAINER for each task of a group (with its
 * resources, limits and its persistent volumes as PARENT sandbox-path
 * volumes), WAIT_NESTED_CONTAINER (held open until the
 * container ends) and KILL_NESTED_CONTAINER, as Mesos' default executor
 * does. The calls go to the agent's `/api/v1` next to the executor API, with
 * the executor's `Authorization: Bearer` token when it has one.
 *
 * COMMAND checks of the tasks use the same client: each check runs as a
 * container session (LAUNCH_NESTED_CONTAINER_SESSION, Mesos' DEBUG class)
 * nested in its task's container, then WAIT_NESTED_CONTAINER and
 * REMOVE_NESTED_CONTAINER (checks/nested-command-prober.ts). A parent id
 * may be dotted (`<executor>.<task>`) for those.
 */
import { request } from "node:http";
import { createRequire } from "node:module";
import { clientTls } from "../common/process/tls-client.js";
import { RecordIoDecoder } from "../common/recordio/decoder.js";
import { secretData } from "../common/secrets/resolver.js";
import type { AgentAddress } from "./executor-environment.js";
import type { CommandInfo, EnvironmentVariable, TaskInfo } from "./protocol.js";

/** How a nested container ended, as WAIT_NESTED_CONTAINER answers it. */
export interface ContainerEnd {
  exit_status?: number;
  state?: string;
  reason?: string;
  message?: string;
  /** What the container ran out of (`TaskResourceLimitation`), passed on in the task's status. */
  limitation?: Record<string, unknown>;
}

/** The result of a call that may be refused. */
export type CallResult<T> =
  | { ok: true; value: T }
  /**
   * `unsupported`: the agent has no nested containers (the executor runs
   * tasks itself); `retryable`: the agent could not answer yet (network
   * failure, 5xx, or a 404 from an agent still installing its routes after
   * a restart), so the call may be repeated.
   */
  | {
      ok: false;
      status: number;
      error: string;
      unsupported: boolean;
      retryable?: boolean;
      /** The agent's answer as it is (Mesos' default executor reports a refused launch's body). */
      body?: string;
    };

/** What the default executor needs from the agent to run tasks in nested containers. */
export interface TaskContainers {
  launch(
    parentId: string,
    childId: string,
    task: TaskInfo,
    env: Record<string, string>,
  ): Promise<CallResult<undefined>>;
  wait(parentId: string, childId: string): Promise<CallResult<ContainerEnd>>;
  kill(parentId: string, childId: string, signal: number): Promise<CallResult<undefined>>;
  /**
   * Runs `command` in a container session nested in `parentId` (a DEBUG
   * container) and answers once its output has ended; aborting `signal`
   * closes the connection, which makes the agent kill the container.
   */
  launchSession?(
    parentId: string,
    childId: string,
    command: CommandInfo,
    signal?: AbortSignal,
  ): Promise<CallResult<SessionOutput>>;
  /** REMOVE_NESTED_CONTAINER of an ended container. */
  remove?(parentId: string, childId: string): Promise<CallResult<undefined>>;
}

/** What a container session wrote. */
export interface SessionOutput {
  stdout: string;
  stderr: string;
}

/** The JSON ContainerID of `childId` in `parentId`, which may be dotted (`a.b`: `b` in `a`). */
export function nestedContainerId(parentId: string, childId: string): Record<string, unknown> {
  let parent: Record<string, unknown> | undefined;
  for (const value of parentId.split(".")) {
    parent = parent === undefined ? { value } : { value, parent };
  }
  return { value: childId, parent };
}

/** The STDOUT and STDERR data of a session's RecordIO stream of JSON `ProcessIO` records. */
export function sessionOutput(body: Buffer): SessionOutput {
  const out = { stdout: "", stderr: "" };
  let records: Uint8Array[];
  try {
    records = new RecordIoDecoder().decode(body);
  } catch {
    return out;
  }
  for (const record of records) {
    try {
      const io = JSON.parse(Buffer.from(record).toString()) as {
        type?: string;
        data?: { type?: string; data?: string };
      };
      if (io.type !== "DATA" || io.data?.data === undefined) continue;
      const text = Buffer.from(io.data.data, "base64").toString();
      if (io.data.type === "STDOUT") out.stdout += text;
      else if (io.data.type === "STDERR") out.stderr += text;
    } catch {
      // A record we cannot read: its output is only logged anyway.
    }
  }
  return out;
}

/**
 * The ContainerInfo of a task's nested container: the task's own, plus, as
 * Mesos' default executor adds, a SANDBOX_PATH volume of type PARENT for
 * each disk resource with a `disk.volume` (a persistent volume). The agent
 * puts those volumes in the executor's sandbox at their `container_path`;
 * this maps each to the same path in the task's sandbox, with the volume's
 * mode. A task without a ContainerInfo gets a MESOS one.
 */
export function taskContainer(task: TaskInfo): Record<string, unknown> | undefined {
  const added: Record<string, unknown>[] = taskVolumes(task).map((volume) => ({
    mode: volume.mode,
    container_path: volume.container_path,
    source: {
      type: "SANDBOX_PATH",
      sandbox_path: { type: "PARENT", path: volume.container_path },
    },
  }));
  if (added.length === 0) return task.container;
  const container = task.container ?? { type: "MESOS" };
  const own = Array.isArray(container.volumes) ? (container.volumes as unknown[]) : [];
  return { ...container, volumes: [...own, ...added] };
}

/** The persistent volumes of a task: its disk resources with a `disk.volume`. */
export function taskVolumes(task: TaskInfo): { container_path: string; mode: string }[] {
  const out: { container_path: string; mode: string }[] = [];
  for (const resource of task.resources ?? []) {
    const volume = (resource as { disk?: { volume?: { mode?: string; container_path?: string } } })
      .disk?.volume;
    if (volume?.container_path === undefined) continue;
    out.push({ container_path: volume.container_path, mode: volume.mode ?? "RW" });
  }
  return out;
}

/** A SECRET variable for a JSON call: a value secret's bytes as base64, as the v1 JSON API writes bytes. */
function jsonSecretVariable(variable: EnvironmentVariable): EnvironmentVariable {
  const secret = variable.secret as { value?: { data?: unknown } } | undefined;
  const data = secret?.value?.data;
  if (data === undefined || typeof data === "string") return variable;
  return {
    ...variable,
    secret: { ...secret, value: { ...secret?.value, data: secretData(data).toString("base64") } },
  };
}

interface Answer {
  status: number;
  body: string;
  /** The raw body (a session's RecordIO stream). */
  raw?: Buffer;
}

/** `/slave(1)/api/v1/executor` -> `/slave(1)/api/v1`. */
export function operatorApiPath(executorApiPath: string): string {
  return executorApiPath.replace(/\/executor\/?$/, "");
}

/** The agent's nested container calls over HTTP. */
export class AgentTaskContainers implements TaskContainers {
  private readonly path: string;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly address: AgentAddress,
    authenticationToken?: string,
  ) {
    this.path = operatorApiPath(address.path);
    this.headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (authenticationToken !== undefined) {
      this.headers.Authorization = `Bearer ${authenticationToken}`;
    }
  }

  async launch(
    parentId: string,
    childId: string,
    task: TaskInfo,
    env: Record<string, string>,
  ): Promise<CallResult<undefined>> {
    // The task's SECRET variables go to the agent as they are: it resolves them
    // (environment_secret) into the container, so no plain value may shadow them.
    const secrets = (task.command?.environment?.variables ?? [])
      .filter((v) => v.type === "SECRET")
      .map(jsonSecretVariable);
    const secretNames = new Set(secrets.map((v) => v.name));
    const command = {
      ...(task.command ?? {}),
      environment: {
        variables: [
          ...Object.entries(env)
            .filter(([name]) => !secretNames.has(name))
            .map(([name, value]) => ({ name, type: "VALUE", value })),
          ...secrets,
        ],
      },
    };
    const launch: Record<string, unknown> = {
      container_id: { value: childId, parent: { value: parentId } },
      command,
      resources: task.resources ?? [],
    };
    const container = taskContainer(task);
    if (container !== undefined) launch.container = container;
    if (task.limits !== undefined) launch.limits = task.limits;
    return this.unit(await this.post({ type: "LAUNCH_CONTAINER", launch_container: launch }));
  }

  async wait(parentId: string, childId: string): Promise<CallResult<ContainerEnd>> {
    const answer = await this.post(
      {
        type: "WAIT_NESTED_CONTAINER",
        wait_nested_container: { container_id: nestedContainerId(parentId, childId) },
      },
      false,
    );
    if (answer.status !== 200) return refused(answer);
    try {
      const parsed = JSON.parse(answer.body) as { wait_nested_container?: ContainerEnd };
      return { ok: true, value: parsed.wait_nested_container ?? {} };
    } catch {
      return { ok: false, status: 500, error: "unreadable WAIT answer", unsupported: false };
    }
  }

  async kill(parentId: string, childId: string, signal: number): Promise<CallResult<undefined>> {
    return this.unit(
      await this.post({
        type: "KILL_NESTED_CONTAINER",
        kill_nested_container: {
          container_id: nestedContainerId(parentId, childId),
          signal,
        },
      }),
    );
  }

  async launchSession(
    parentId: string,
    childId: string,
    command: CommandInfo,
    signal?: AbortSignal,
  ): Promise<CallResult<SessionOutput>> {
    const answer = await this.post(
      {
        type: "LAUNCH_NESTED_CONTAINER_SESSION",
        launch_nested_container_session: {
          container_id: nestedContainerId(parentId, childId),
          command,
        },
      },
      // The answer lasts as long as the command: the check's own timeout bounds it.
      false,
      { Accept: "application/recordio", "Message-Accept": "application/json" },
      signal,
    );
    if (answer.status !== 200) return refused(answer);
    return { ok: true, value: sessionOutput(answer.raw ?? Buffer.alloc(0)) };
  }

  async remove(parentId: string, childId: string): Promise<CallResult<undefined>> {
    return this.unit(
      await this.post({
        type: "REMOVE_NESTED_CONTAINER",
        remove_nested_container: { container_id: nestedContainerId(parentId, childId) },
      }),
    );
  }

  private unit(answer: Answer): CallResult<undefined> {
    return answer.status === 200 ? { ok: true, value: undefined } : refused(answer);
  }

  /** POSTs a call; network failures come back as status 0. */
  private post(
    call: unknown,
    timeout = true,
    headers: Record<string, string> = {},
    signal?: AbortSignal,
  ): Promise<Answer> {
    const body = JSON.stringify(call);
    // With LIBPROCESS_SSL_ENABLED the agent speaks HTTPS (node:https loads only then).
    const tls = this.address.socketPath === undefined ? clientTls() : undefined;
    const send =
      tls === undefined
        ? request
        : (createRequire("file:///")("node:https") as typeof import("node:https")).request;
    return new Promise((resolve) => {
      const req = send(
        {
          ...(tls ?? {}),
          method: "POST",
          path: this.path,
          headers: {
            ...this.headers,
            ...headers,
            "Content-Length": String(Buffer.byteLength(body)),
          },
          ...(signal === undefined ? {} : { signal }),
          ...(this.address.socketPath !== undefined
            ? { socketPath: this.address.socketPath }
            : { host: this.address.host, port: this.address.port }),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const raw = Buffer.concat(chunks);
            resolve({ status: res.statusCode ?? 0, body: raw.toString(), raw });
          });
          res.on("error", (e) => resolve({ status: 0, body: e.message }));
        },
      );
      req.on("error", (e) => resolve({ status: 0, body: e.message }));
      if (timeout) req.setTimeout(60_000, () => req.destroy(new Error("timed out")));
      req.end(body);
    });
  }
}

function refused(answer: Answer): {
  ok: false;
  status: number;
  error: string;
  unsupported: boolean;
  retryable: boolean;
  body?: string;
} {
  // 501: the agent has no nested containers; an empty 404: no operator API at all.
  const unsupported = answer.status === 501 || (answer.status === 404 && answer.body.trim() === "");
  const error =
    answer.status === 0
      ? `the agent could not be reached: ${answer.body}`
      : `${answer.status}: ${answer.body.split("\n")[0] ?? ""}`;
  const retryable =
    answer.status === 0 ||
    answer.status >= 500 ||
    (answer.status === 404 && answer.body.trim() === "");
  const body = answer.status === 0 ? undefined : answer.body.trim();
  return {
    ok: false,
    status: answer.status,
    error,
    unsupported,
    retryable,
    ...(body === undefined || body === "" ? {} : { body }),
  };
}

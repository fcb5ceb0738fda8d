/**
 * Task sandboxes: find the agent and directory of a task (the master's
 * `/master/state` names the agent, the agent's `/state` names the executor
 * directory), then list and read files through the agent's `/files/browse`
 * and `/files/read`, as Mesos' mesos-cat and mesos-tail did.
 */
import { CliError, usageError } from "./cli-error.js";
import {
  type AgentView,
  agentTarget,
  allTasks,
  isRecord,
  type JsonRecord,
  num,
  str,
  type TaskView,
} from "./cluster-views.js";
import type { CommandContext } from "./context.js";
import { HttpStatusError } from "./http-client.js";
import type { HttpTarget } from "./master-address.js";
import { pickTask } from "./match.js";

/** Where a task's files are. */
export interface Sandbox {
  readonly task: TaskView;
  readonly agent: AgentView;
  readonly target: HttpTarget;
  /** Absolute sandbox path on the agent. */
  readonly directory: string;
}

/** One entry of a `/files/browse` listing. */
export interface FileEntry {
  readonly path: string;
  readonly size: number;
  /** `drwxr-xr-x` style. */
  readonly mode: string;
  /** Seconds since the epoch. */
  readonly mtime: number;
  readonly nlink: number;
  readonly uid: string;
  readonly gid: string;
  readonly raw: JsonRecord;
}

export function isDirectory(entry: FileEntry): boolean {
  return entry.mode.startsWith("d");
}

/** Finds the task `query` designates and its sandbox. */
export async function locateSandbox(
  ctx: CommandContext,
  query: string,
  options: { framework?: string } = {},
): Promise<Sandbox> {
  const state = await ctx.masterState();
  const task = pickTask(allTasks(state), query, options);
  const agent = state.agents.find((a) => a.id === task.agentId);
  if (agent === undefined) {
    throw new CliError(
      `task '${task.id}' ran on agent ${task.agentId}, which the master no longer lists`,
    );
  }
  const target = agentTarget(agent);
  const agentState = await getAgentJson(ctx, agent, "/state");
  // Command tasks have no executor id in the master; the agent names their executor after the task.
  const executorId = task.executorId === "" ? task.id : task.executorId;
  const directory = findExecutorDirectory(agentState, task.frameworkId, executorId);
  if (directory === undefined) {
    throw new CliError(
      `the agent at ${target.address} no longer has the sandbox of task '${task.id}' ` +
        `(executor '${executorId}' is not in its /state)`,
    );
  }
  return { task, agent, target, directory };
}

/**
 * GET one of the agent's own routes. Routes live under the agent's process
 * id (`/slave(1)/state`), which matters when several agents share a host
 * and port (mesos-local); the bare path is tried when that answers 404.
 */
export async function getAgentJson(
  ctx: CommandContext,
  agent: AgentView,
  path: string,
): Promise<unknown> {
  const target = agentTarget(agent);
  try {
    return await ctx.http.getJson(target, `/${agent.processId}${path}`);
  } catch (e) {
    if (!(e instanceof HttpStatusError) || !e.routeMissing) throw e;
    return ctx.http.getJson(target, path);
  }
}

/** The directory of executor `executorId` of framework `frameworkId` in an agent's `/state`. */
export function findExecutorDirectory(
  agentState: unknown,
  frameworkId: string,
  executorId: string,
): string | undefined {
  if (!isRecord(agentState)) return undefined;
  const frameworks = [agentState.frameworks, agentState.completed_frameworks]
    .flatMap((list) => (Array.isArray(list) ? list : []))
    .filter(isRecord)
    .filter((f) => f.id === frameworkId);
  for (const framework of frameworks) {
    const executors = [framework.executors, framework.completed_executors]
      .flatMap((list) => (Array.isArray(list) ? list : []))
      .filter(isRecord);
    // Live executors come first, so the latest run wins over a completed one.
    for (const executor of executors) {
      if (executor.id === executorId && typeof executor.directory === "string") {
        return executor.directory;
      }
    }
  }
  return undefined;
}

/**
 * `relative` joined to the sandbox directory. Paths must stay inside the
 * sandbox: absolute paths and `..` are refused here rather than by the agent.
 */
export function sandboxPath(sandbox: Sandbox, relative: string | undefined): string {
  if (relative === undefined || relative === "" || relative === ".") return sandbox.directory;
  const parts = relative.split("/").filter((p) => p !== "" && p !== ".");
  if (relative.startsWith("/") || parts.includes("..")) {
    throw usageError(`'${relative}' is not inside the sandbox (give a path relative to it)`);
  }
  return [sandbox.directory.replace(/\/+$/, ""), ...parts].join("/");
}

/** The sandbox-relative form of an absolute path the agent returned. */
export function relativeToSandbox(sandbox: Sandbox, path: string): string {
  const root = `${sandbox.directory.replace(/\/+$/, "")}/`;
  return path.startsWith(root) ? path.slice(root.length) : path;
}

function fileEntry(raw: JsonRecord): FileEntry {
  return {
    path: str(raw.path),
    size: num(raw.size),
    mode: str(raw.mode),
    mtime: num(raw.mtime),
    nlink: num(raw.nlink, 1),
    uid: str(raw.uid),
    gid: str(raw.gid),
    raw,
  };
}

/** Explains a `/files` failure in the terms of the task's sandbox. */
async function explainFilesError(
  ctx: CommandContext,
  sandbox: Sandbox,
  what: string,
  error: unknown,
): Promise<never> {
  if (!(error instanceof HttpStatusError) || error.status !== 404) throw error;
  // 404 means either "no such route" or "no such path": ask about the sandbox root to tell.
  if (what !== sandbox.directory) {
    try {
      await ctx.http.getJson(sandbox.target, "/files/browse", { path: sandbox.directory });
    } catch (e) {
      if (e instanceof HttpStatusError && e.routeMissing) {
        throw new CliError(`the agent at ${sandbox.target.address} does not serve /files yet`);
      }
      throw e;
    }
    throw new CliError(
      `no such file or directory in the sandbox of task '${sandbox.task.id}': ${relativeToSandbox(sandbox, what)}`,
    );
  }
  if (error.routeMissing) {
    throw new CliError(`the agent at ${sandbox.target.address} does not serve /files yet`);
  }
  throw new CliError(
    `the agent at ${sandbox.target.address} cannot show the sandbox of task '${sandbox.task.id}' (${sandbox.directory})`,
  );
}

/** Lists a directory (or describes a single file) in the sandbox. */
export async function browse(
  ctx: CommandContext,
  sandbox: Sandbox,
  path: string,
): Promise<FileEntry[]> {
  let doc: unknown;
  try {
    doc = await ctx.http.getJson(sandbox.target, "/files/browse", { path });
  } catch (e) {
    return explainFilesError(ctx, sandbox, path, e);
  }
  if (!Array.isArray(doc)) {
    throw new CliError(
      `the agent at ${sandbox.target.address} answered /files/browse with no listing`,
    );
  }
  return doc.filter(isRecord).map(fileEntry);
}

/** One page of a file. `offset: -1` asks only for the size (data is empty). */
export interface Page {
  readonly offset: number;
  readonly data: string;
}

export async function readPage(
  ctx: CommandContext,
  sandbox: Sandbox,
  path: string,
  offset: number,
  length?: number,
): Promise<Page> {
  let doc: unknown;
  try {
    doc = await ctx.http.getJson(sandbox.target, "/files/read", { path, offset, length });
  } catch (e) {
    return explainFilesError(ctx, sandbox, path, e);
  }
  if (!isRecord(doc) || typeof doc.data !== "string") {
    throw new CliError(`the agent at ${sandbox.target.address} answered /files/read without data`);
  }
  return { offset: num(doc.offset, offset), data: doc.data };
}

/** Bytes per `/files/read` request. */
export const PAGE_SIZE = 64 * 1024;

/** The current size of a file, in bytes. */
export async function fileSize(
  ctx: CommandContext,
  sandbox: Sandbox,
  path: string,
): Promise<number> {
  return (await readPage(ctx, sandbox, path, -1)).offset;
}

/**
 * Reads from `offset` to the end of the file page by page, handing each
 * page's text to `sink`; returns the offset after the last byte read.
 */
export async function readFrom(
  ctx: CommandContext,
  sandbox: Sandbox,
  path: string,
  offset: number,
  sink: (text: string) => boolean | undefined,
): Promise<number> {
  let at = offset;
  for (;;) {
    const page = await readPage(ctx, sandbox, path, at, PAGE_SIZE);
    if (page.data === "") return at;
    at += Buffer.byteLength(page.data, "utf8");
    // A sink returning false has seen enough (head).
    if (sink(page.data) === false) return at;
  }
}

/** A piece of a sandbox file as `-o json` prints it (one object per line). */
export function fileChunkJson(
  sandbox: Sandbox,
  path: string,
  offset: number,
  data: string,
): string {
  return `${JSON.stringify({
    task_id: sandbox.task.id,
    framework_id: sandbox.task.frameworkId,
    agent_id: sandbox.agent.id,
    path,
    offset,
    data,
  })}\n`;
}

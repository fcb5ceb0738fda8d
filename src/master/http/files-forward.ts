/**
 * Sandbox files through the master: `/files/*` requests for paths the
 * master has not attached are passed on to the agent that holds them, and
 * the agent's answer is relayed as is (status, type, body). The web UI
 * talks to agents directly, as Mesos' does; this lets clients that only
 * reach the master (curl, the CLI behind a firewall) read sandboxes too.
 *
 * Paths understood:
 * - `/frameworks/<fid>/executors/<eid>/runs/latest[/...]` (the agent's
 *   virtual sandbox path): the agent running that executor, or the task of
 *   that id (a command task's executor id is its task id);
 * - a real sandbox path containing `/slaves/<agent id>/` (as `directory`
 *   in the agent's state);
 * - `/agents/<agent id>/<path on that agent>` (mesos-ts' own form, e.g.
 *   `/agents/<id>/slave/log`).
 *
 * Before forwarding, the master applies its own ACLs: ACCESS_SANDBOX for
 * sandbox paths (the executor's user as the master knows it) and
 * ACCESS_MESOS_LOG for an agent's log; the agent then applies its own.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import {
  type FilesEndpoint,
  type FilesForwarder,
  requestCaller,
} from "../../common/files/files-http.js";
import {
  type AttachAuthorizer,
  LOG_VIRTUAL_PATHS,
  logAccess,
  sandboxAccess,
} from "../../common/files/virtual-files.js";
import type { HttpRequest } from "../../common/http/request.js";
import { type HttpResponse, response, streaming } from "../../common/http/response.js";
import type { LengthAwareStream } from "../../common/http/server.js";
import type { Logger } from "../../common/observability/logger.js";
import type { Master } from "../core/master.js";
import type { AgentRecord } from "../core/records.js";

const SANDBOX = /^\/frameworks\/([^/]+)\/executors\/([^/]+)\/runs\//;
/** The framework and executor ids in a virtual or real sandbox path. */
const SANDBOX_IDS = /(?:^|\/slaves\/[^/]+)\/frameworks\/([^/]+)\/executors\/([^/]+)\/runs(?:\/|$)/;
const REAL_SANDBOX = /\/slaves\/([^/]+)\/frameworks\//;
const AGENT_PREFIX = /^\/agents\/([^/]+)(\/.*)$/;

/** The agent holding `path`, and the path to ask it for. */
export function locate(m: Master, path: string): { agent: AgentRecord; path: string } | undefined {
  const prefixed = AGENT_PREFIX.exec(path);
  if (prefixed !== null) {
    const agent = m.agents.get(prefixed[1] as string);
    return agent === undefined ? undefined : { agent, path: prefixed[2] as string };
  }
  const real = REAL_SANDBOX.exec(path);
  if (real !== null) {
    const agent = m.agents.get(real[1] as string);
    return agent === undefined ? undefined : { agent, path };
  }
  const sandbox = SANDBOX.exec(path);
  if (sandbox === null) return undefined;
  // The query was decoded once already; ids are taken as they are (an id may hold '%').
  const frameworkId = sandbox[1] as string;
  const executorId = sandbox[2] as string;
  const framework =
    m.frameworks.get(frameworkId) ?? m.completedFrameworks.find((f) => f.id === frameworkId);
  if (framework === undefined) return undefined;
  for (const [agentId, executors] of framework.executors) {
    if (executors.has(executorId)) {
      const agent = m.agents.get(agentId);
      if (agent !== undefined) return { agent, path };
    }
  }
  const task =
    framework.tasks.get(executorId) ??
    framework.completedTasks.find((t) => t.task_id.value === executorId) ??
    framework.unreachableTasks.get(executorId);
  const agent = task === undefined ? undefined : m.agents.get(task.agent_id.value);
  return agent === undefined ? undefined : { agent, path };
}

/**
 * The user an executor runs as, as the master knows it: its ExecutorInfo's
 * command user, else (a command task, whose executor id is its task id)
 * the task's user, else the framework's; undefined when the framework is
 * unknown.
 */
export function executorUser(
  m: Master,
  frameworkId: string,
  executorId: string,
): string | undefined {
  const framework =
    m.frameworks.get(frameworkId) ?? m.completedFrameworks.find((f) => f.id === frameworkId);
  if (framework === undefined) return undefined;
  for (const executors of framework.executors.values()) {
    const user = executors.get(executorId)?.command?.user;
    if (user !== undefined) return user;
  }
  const task =
    framework.tasks.get(executorId) ??
    framework.completedTasks.find((t) => t.task_id.value === executorId) ??
    framework.unreachableTasks.get(executorId);
  return task?.user ?? framework.info.user;
}

/** The guard the master applies to a path it forwards (undefined: none). */
export function forwardGuard(m: Master, path: string): AttachAuthorizer | undefined {
  const onAgent = AGENT_PREFIX.exec(path)?.[2] ?? path;
  const trimmed = onAgent.replace(/\/+$/, "");
  if (LOG_VIRTUAL_PATHS.has(trimmed)) return logAccess;
  const ids = SANDBOX_IDS.exec(onAgent);
  if (ids === null) return undefined;
  const frameworkId = ids[1] as string;
  const executorId = ids[2] as string;
  return sandboxAccess(frameworkId, executorId, () => executorUser(m, frameworkId, executorId));
}

const RELAYED_HEADERS = ["content-type", "content-disposition", "www-authenticate"];

/** The forwarder the master installs on its `/files` endpoints. */
export function filesForwarder(m: Master, logger: Logger): FilesForwarder {
  return (endpoint: FilesEndpoint, path: string, request: HttpRequest) => {
    if (endpoint === "debug") return undefined;
    const target = locate(m, path);
    if (target === undefined) return undefined;
    const guard = forwardGuard(m, path);
    const caller = requestCaller(request);
    if (guard !== undefined && !guard.allows(caller)) {
      return Promise.resolve(response(403, `${caller.refusal(guard.what)}\n`));
    }
    const query = new URLSearchParams(request.query);
    query.set("path", target.path);
    const { ip, port } = target.agent.address();
    const url = `/files/${endpoint}?${query.toString()}`;
    // The client's credentials go along: an agent that authenticates its
    // read-only endpoints would otherwise refuse a client the master let in.
    const authorization = request.header("authorization");
    const headers: Record<string, string> =
      authorization === undefined ? {} : { Authorization: authorization };
    return new Promise<HttpResponse>((resolve) => {
      const req = httpRequest(
        { host: ip, port, path: url, method: "GET", headers, timeout: 30_000 },
        (res) => resolve(relay(res)),
      );
      req.on("timeout", () => req.destroy(new Error("timed out")));
      req.on("error", (error) => {
        logger.warn(`Forwarding ${url} to agent ${target.agent.id} failed: ${error.message}`);
        resolve(
          response(
            503,
            `The agent holding '${path}' (${target.agent.id}) did not answer: ${error.message}\n`,
          ),
        );
      });
      req.end();
    });
  };
}

function relay(res: IncomingMessage): HttpResponse {
  const headers: Record<string, string> = {};
  for (const name of RELAYED_HEADERS) {
    const v = res.headers[name];
    if (typeof v === "string") headers[name] = v;
  }
  const status = res.statusCode ?? 502;
  // The agent's Content-Length (a download) is passed on, so the client
  // sees the size as it would from the agent.
  const length = Number(res.headers["content-length"]);
  return streaming(status, headers, (stream) => {
    const declared =
      Number.isSafeInteger(length) && length >= 0 && "declareLength" in stream ? length : undefined;
    if (declared !== undefined) (stream as LengthAwareStream).declareLength(declared);
    let sent = 0;
    res.on("data", (chunk: Buffer) => {
      sent += chunk.length;
      if (!stream.write(chunk)) res.pause();
    });
    stream.onDrain(() => res.resume());
    stream.onClose(() => res.destroy());
    // A body cut short must not leave the client waiting for the bytes announced.
    const finish = (): void => {
      if (declared !== undefined && sent < declared && stream.abort !== undefined) stream.abort();
      else stream.end();
    };
    res.on("end", finish);
    res.on("error", finish);
  });
}

/**
 * The agent as a libprocess-style process (`slave(1)`): decodes the
 * `mesos.internal` messages it receives and hands them to the agent core,
 * encodes what the core sends, turns broken links into `exited` events, and
 * serves the agent's HTTP endpoints.
 */

import { requestViewOf } from "../common/auth/view-filter.js";
import { flagsHandler, healthHandler } from "../common/http/common-endpoints.js";
import { serviceUnavailable } from "../common/http/response.js";
import { jsonResponse } from "../common/http/v1-api.js";
import type { Logger } from "../common/observability/logger.js";
import { type MessageDecoder, ProcessBase, parseUpid, type Upid } from "../common/process/index.js";
import type { MessageTypeMap, MessageTypeName } from "../common/protocol/generated/index.js";
import { codecFor } from "../common/protocol/index.js";
import type { Agent, AgentTransport } from "./agent.js";
import { EXECUTOR_API_HELP, handleExecutorCall } from "./http/executor-api.js";
import { agentRecovering, RECOVERING_MESSAGE } from "./http/operator-api.js";
import { agentStateJson, type StateContext } from "./http/state-json.js";

function decoder<K extends MessageTypeName>(type: K): MessageDecoder<MessageTypeMap[K]> {
  const codec = codecFor(type);
  return (bytes) => {
    const decoded = codec.decodeProtobuf(bytes);
    return decoded.ok ? { ok: true, value: decoded.value } : { ok: false, error: decoded.error };
  };
}

/** What the HTTP endpoints show besides the core's state. */
export interface AgentEndpointsContext {
  state: () => StateContext;
  /** The `/version` document. */
  version: () => Record<string, unknown>;
}

/** The `slave(N)` process. */
export class AgentProcess extends ProcessBase {
  private agent: Agent | undefined;

  constructor(
    id: string,
    private readonly log: Logger,
    private readonly endpoints: AgentEndpointsContext,
  ) {
    super(id);
  }

  /** Connects the core (created with this process as its transport). */
  bind(agent: Agent): void {
    this.agent = agent;
  }

  /** How the agent core sends messages: encoded here, sent by this process. */
  readonly transport: AgentTransport = {
    send: (to, type, message) => {
      const pid = parseUpid(to);
      if (!pid.ok) {
        this.log.error(`Cannot send ${type} to '${to}': ${pid.error.message}`);
        return;
      }
      this.send(pid.value, type, codecFor(type).encodeProtobuf(message));
    },
    link: (to) => {
      const pid = parseUpid(to);
      if (pid.ok) this.link(pid.value);
    },
  };

  // ---- lifecycle ------------------------------------------------------------

  protected override initialize(): void {
    const core = () => this.agent;
    const on = <K extends MessageTypeName>(
      type: K,
      handle: (agent: Agent, from: string, message: MessageTypeMap[K]) => void,
    ) => {
      this.install(type, decoder(type), (from, message) => {
        const agent = core();
        if (agent !== undefined) handle(agent, from.toString(), message);
      });
    };
    on("mesos.internal.SlaveRegisteredMessage", (a, f, m) => a.registered(f, m));
    on("mesos.internal.SlaveReregisteredMessage", (a, f, m) => a.reregistered(f, m));
    on("mesos.internal.PingSlaveMessage", (a, f, m) => a.ping(f, m));
    on("mesos.internal.RunTaskMessage", (a, f, m) => a.runTask(f, m));
    on("mesos.internal.RunTaskGroupMessage", (a, f, m) => a.runTaskGroup(f, m));
    on("mesos.internal.KillTaskMessage", (a, f, m) => a.killTask(f, m));
    on("mesos.internal.ShutdownFrameworkMessage", (a, f, m) => a.shutdownFramework(f, m));
    on("mesos.internal.ShutdownExecutorMessage", (a, f, m) => a.shutdownExecutor(f, m));
    on("mesos.internal.FrameworkToExecutorMessage", (a, f, m) => a.frameworkMessage(f, m));
    on("mesos.internal.UpdateFrameworkMessage", (a, f, m) => a.updateFramework(f, m));
    on("mesos.internal.StatusUpdateAcknowledgementMessage", (a, f, m) =>
      a.statusUpdateAcknowledgement(f, m),
    );
    on("mesos.internal.ShutdownMessage", (a, f, m) => a.shutdown(f, m.message));
    on("mesos.internal.CheckpointResourcesMessage", (a, f, m) => a.checkpointResources(f, m));
    on("mesos.internal.ApplyOperationMessage", (a, f, m) => a.applyOperation(f, m));
    on("mesos.internal.AcknowledgeOperationStatusMessage", (a, f, m) =>
      a.operationStatusAcknowledgement(f, m),
    );
    on("mesos.internal.ReconcileOperationsMessage", (a, f, m) => a.reconcileOperations(f, m));
    on("mesos.internal.DrainSlaveMessage", (a, f, m) => a.drain(f, m));
    this.installRoutes();
  }

  protected override exited(pid: Upid): void {
    this.agent?.exited(pid.toString());
  }

  private installRoutes(): void {
    const agent = () => {
      if (this.agent === undefined) throw new Error("agent process is not bound");
      return this.agent;
    };
    this.route("/api/v1/executor", { help: EXECUTOR_API_HELP }, (request) =>
      handleExecutorCall(agent(), request),
    );
    // /state, /health and /version answer any method, as Mesos' agent does not check it.
    this.route(
      "/state",
      { help: "Information about the agent: resources, frameworks, executors and tasks." },
      // As a Mesos agent: 503 until recovery has finished (the agent is bound after it starts).
      (request) =>
        this.agent === undefined || agentRecovering(this.agent)
          ? serviceUnavailable(RECOVERING_MESSAGE)
          : jsonResponse(
              request,
              JSON.stringify(
                agentStateJson(agent(), this.endpoints.state(), requestViewOf(request)),
              ),
            ),
    );
    // /health, /flags and /version: the implementation the master shares.
    this.route("/health", { help: "Answers 200 OK while the agent is up." }, healthHandler);
    this.route(
      "/flags",
      // Any method: the handler refuses non-GET only with --acls, as Mesos does.
      { help: 'The agent\'s flags, as `{"flags": {name: value}}`.' },
      flagsHandler(this.endpoints.state().flags),
    );
    this.route(
      "/version",
      { help: "The Mesos version this agent is compatible with, and our own." },
      (request) => jsonResponse(request, JSON.stringify(this.endpoints.version())),
    );
  }
}

/**
 * The `master` process: the edge between the master core and the world.
 * It decodes `mesos.internal.*` messages from agents into core events,
 * encodes the core's messages to agents, turns broken agent connections into
 * `agentExited`, and serves the master's HTTP routes. Every event that
 * enters here bumps the state version first (see http/state-cache.ts), and
 * message counters are counted here.
 */
import {
  COMMON_HELP,
  flagsHandler,
  healthHandler,
  versionHandler,
} from "../common/http/common-endpoints.js";
import type { OperatorServices } from "../common/http/operator-processes.js";
import { type MessageDecoder, ProcessBase } from "../common/process/process-base.js";
import { parseUpid, type Upid } from "../common/process/upid.js";
import { codecFor, type MessageTypeMap, type MessageTypeName } from "../common/protocol/index.js";
import type { MasterIo } from "./core/io.js";
import type { Master } from "./core/master.js";
import { operationStatusUpdate, updateAgent } from "./core/operation-tracking.js";
import { redirectHandler } from "./http/endpoints.js";
import {
  frameworksJson,
  jsonRead,
  rolesHandler,
  slavesJson,
  stateHandler,
  stateSummaryJson,
  tasksJson,
  teardownHandler,
  weightsHandler,
} from "./http/legacy-endpoints.js";
import {
  MAINTENANCE_HELP,
  machineHandler,
  refuseFromDownMachine,
  scheduleHandler,
  statusHandler,
} from "./http/maintenance.js";
import { OPERATOR_API_HELP, operatorApiHandler } from "./http/operator-api.js";
import type { OperatorEvents } from "./http/operator-events.js";
import { QUOTA_HELP, quotaHandler } from "./http/quota.js";
import {
  RESERVATION_ENDPOINTS,
  type ReservationEndpoint,
  reservationHandler,
  reservationHelp,
} from "./http/reservations.js";
import type { RoleWeights } from "./http/roles.js";
import { SCHEDULER_API_HELP, schedulerApiHandler } from "./http/scheduler-api.js";
import type { StateDocuments } from "./http/state-documents.js";
import type { StateContext } from "./http/state-json.js";
import { installWebui } from "./http/webui.js";
import type { MasterMetrics, MessageCounter } from "./metrics.js";

/** A message decoder from the schema, for `install`. */
function decoder<K extends MessageTypeName>(type: K): MessageDecoder<MessageTypeMap[K]> {
  const codec = codecFor(type);
  return (bytes) => {
    const result = codec.decodeProtobuf(bytes);
    return result.ok ? { ok: true, value: result.value } : { ok: false, error: result.error };
  };
}

/** Messages from agents the master does not act on (yet); accepted quietly. */
const IGNORED_MESSAGES: readonly [MessageTypeName, MessageCounter | undefined][] = [
  ["mesos.internal.CheckpointResourcesMessage", undefined],
];

/** Everything the routes need besides the core. */
export interface MasterEdges {
  readonly state: StateContext;
  readonly ownVersion: string;
  readonly services: OperatorServices;
  readonly documents: StateDocuments;
  readonly operatorEvents: OperatorEvents;
  readonly weights: RoleWeights;
  readonly metrics: MasterMetrics;
}

const STATE_HELP =
  "Information about the state of the master: agents, frameworks, tasks, executors, offers.\n" +
  "The JSON document of Mesos' /master/state (v0 names: slaves, slave_id). Query: jsonp=fn.";

/** The master's libprocess-style process (id `master`). */
export class MasterProcess extends ProcessBase {
  private core: Master | undefined;
  private edges: MasterEdges | undefined;

  constructor() {
    super("master");
  }

  /** The MasterIo the core uses to reach agents through this process. */
  io(): MasterIo {
    return {
      sendToAgent: (pid, type, message) => {
        const to = parseUpid(pid);
        if (!to.ok) {
          this.logger.warn(`Not sending ${type} to '${pid}': ${to.error.message}`);
          return;
        }
        this.send(to.value, type, codecFor(type).encodeProtobuf(message));
      },
      linkAgent: (pid) => {
        const to = parseUpid(pid);
        if (to.ok) this.link(to.value);
      },
    };
  }

  /** Something may change master state now. */
  private changed(): void {
    this.edges?.documents.version.bump();
  }

  /** Installs a message handler that bumps the state version and counts the message first. */
  private handle<K extends MessageTypeName>(
    type: K,
    counter: MessageCounter | undefined,
    fn: (from: Upid, message: MessageTypeMap[K]) => void,
  ): void {
    this.install(type, decoder(type), (from, message) => {
      this.changed();
      if (counter !== undefined) this.edges?.metrics.message(counter);
      fn(from, message);
    });
  }

  /** Connects the core (handlers and routes) once both exist. */
  attachCore(core: Master, edges: MasterEdges): void {
    this.core = core;
    this.edges = edges;
    // Agents of machines DOWN for maintenance may not come back until the machine is UP.
    this.handle("mesos.internal.RegisterSlaveMessage", "register_slave", (from, message) => {
      if (!refuseFromDownMachine(core, from.toString(), message.slave.hostname)) {
        core.registerAgent(from.toString(), message);
      }
    });
    this.handle("mesos.internal.ReregisterSlaveMessage", "reregister_slave", (from, message) => {
      if (!refuseFromDownMachine(core, from.toString(), message.slave.hostname, true)) {
        core.reregisterAgent(from.toString(), message);
      }
    });
    this.handle("mesos.internal.UnregisterSlaveMessage", "unregister_slave", (from, message) =>
      core.unregisterAgent(from.toString(), message),
    );
    this.handle("mesos.internal.PongSlaveMessage", undefined, (from) => core.pong(from.toString()));
    this.handle("mesos.internal.StatusUpdateMessage", undefined, (_from, message) =>
      core.statusUpdate(message),
    );
    this.handle("mesos.internal.ExitedExecutorMessage", "exited_executor", (from, message) =>
      core.exitedExecutor(from.toString(), message),
    );
    this.handle(
      "mesos.internal.ExecutorToFrameworkMessage",
      "executor_to_framework",
      (from, message) => core.executorToFramework(from.toString(), message),
    );
    this.handle("mesos.internal.UpdateOperationStatusMessage", "operation_status_update", (_f, m) =>
      operationStatusUpdate(core, m),
    );
    this.handle("mesos.internal.UpdateSlaveMessage", "update_slave", (from, message) =>
      updateAgent(core, from.toString(), message),
    );
    for (const [type, counter] of IGNORED_MESSAGES) {
      this.install(
        type,
        (bytes) => ({ ok: true, value: bytes }),
        (from) => {
          if (counter !== undefined) edges.metrics.message(counter);
          this.logger.verbose(1, `Ignoring ${type} from ${from}: not supported yet`);
        },
      );
    }
    this.routes_(core, edges);
  }

  private routes_(core: Master, edges: MasterEdges): void {
    const { state, documents, weights, metrics } = edges;
    const changed = () => this.changed();
    this.route(
      "/api/v1/scheduler",
      { help: SCHEDULER_API_HELP },
      schedulerApiHandler(core, {
        changed,
        call: (type, frameworkId, resubscribe) =>
          metrics.schedulerCall(type, frameworkId, resubscribe),
        event: (frameworkId, type, offers) => metrics.schedulerEvent(frameworkId, type, offers),
      }),
    );
    this.route(
      "/api/v1",
      { help: OPERATOR_API_HELP },
      operatorApiHandler({
        master: core,
        services: edges.services,
        documents,
        events: edges.operatorEvents,
        weights,
        flags: state.flags,
        build: state.build,
        electedTime: state.electedTime,
        changed,
      }),
    );
    const get = { methods: ["GET"] };
    // Mesos serves its read endpoints whatever the method (no check in their
    // handlers); a tool that POSTs to /master/state gets the state.
    const read = {};
    const state_ = stateHandler(documents);
    this.route("/state", { ...read, help: STATE_HELP }, state_);
    this.route("/state.json", { ...read, help: `${STATE_HELP}\n(Old alias of /state.)` }, state_);
    this.route(
      "/state-summary",
      {
        ...read,
        help:
          "Summary of agents and frameworks with task counts per state.\n" +
          "Agents with TASK_* counts and framework_ids; frameworks with TASK_* counts and slave_ids. Query: jsonp=fn.",
      },
      jsonRead(() => stateSummaryJson(core, state.cluster)),
    );
    this.route(
      "/frameworks",
      {
        ...read,
        help:
          "The frameworks, completed frameworks and their tasks.\n" +
          "Query: framework_id=ID (only that framework), jsonp=fn.",
      },
      jsonRead((r) => frameworksJson(core, r.query.get("framework_id"))),
    );
    this.route(
      "/slaves",
      {
        ...read,
        help:
          "The registered agents, with full resource lists (*_full).\n" +
          "Query: slave_id=ID (only that agent), jsonp=fn.",
      },
      jsonRead((r) => slavesJson(core, r.query.get("slave_id"))),
    );
    const tasksHelp =
      "A page of tasks (active, unreachable, completed), newest first by default.\n" +
      "Query: limit=N (default 100), offset=N, order=asc|desc, framework_id=ID, task_id=ID, jsonp=fn.";
    const tasks = jsonRead((r) => tasksJson(core, r.query));
    this.route("/tasks", { ...read, help: tasksHelp }, tasks);
    this.route("/tasks.json", { ...read, help: `${tasksHelp}\n(Old alias of /tasks.)` }, tasks);
    const rolesHelp =
      "The known roles with their weight, quota, frameworks and resources.\nQuery: jsonp=fn.";
    this.route("/roles", { ...read, help: rolesHelp }, rolesHandler(core, weights));
    this.route(
      "/roles.json",
      { ...read, help: `${rolesHelp}\n(Old alias of /roles.)` },
      rolesHandler(core, weights),
    );
    this.route(
      "/weights",
      {
        methods: ["GET", "PUT"],
        help:
          "Role weights: GET lists them, PUT replaces the listed ones.\n" +
          'PUT body: a JSON array [{"role": "r", "weight": 2.0}]. Query (GET): jsonp=fn.',
      },
      weightsHandler(core, weights, changed),
    );
    this.route(
      "/quota",
      { methods: ["GET", "POST", "DELETE"], help: QUOTA_HELP },
      quotaHandler(core, changed),
    );
    this.route(
      "/maintenance/schedule",
      { methods: ["GET", "POST"], help: MAINTENANCE_HELP.schedule },
      scheduleHandler(core, changed),
    );
    this.route(
      "/maintenance/status",
      { ...get, help: MAINTENANCE_HELP.status },
      statusHandler(core),
    );
    this.route(
      "/machine/down",
      { methods: ["POST"], help: MAINTENANCE_HELP.down },
      machineHandler(core, "down", changed),
    );
    this.route(
      "/machine/up",
      { methods: ["POST"], help: MAINTENANCE_HELP.up },
      machineHandler(core, "up", changed),
    );
    for (const path of Object.keys(RESERVATION_ENDPOINTS) as ReservationEndpoint[]) {
      this.route(
        path,
        { methods: ["POST"], help: reservationHelp(path) },
        reservationHandler(core, path, changed),
      );
    }
    this.route(
      "/teardown",
      {
        methods: ["POST"],
        help:
          "Tears a framework down: its tasks are killed and it is removed.\n" +
          "POST form body: frameworkId=ID.",
      },
      teardownHandler(core, changed),
    );
    this.route("/health", { ...read, help: COMMON_HELP.health }, healthHandler);
    this.route(
      "/version",
      { ...read, help: COMMON_HELP.version },
      versionHandler(state.build, edges.ownVersion),
    );
    this.route(
      "/redirect",
      {
        ...read,
        help: "Redirects (307) to the leading master.\nA standalone master leads: itself.",
      },
      redirectHandler(core.config.info),
    );
    // Any method: the handler refuses non-GET only with --acls, as Mesos does.
    this.route("/flags", { ...read, help: COMMON_HELP.flags }, flagsHandler(state.flags));
    installWebui(this, { dir: state.flags.webui_dir ?? "", logger: this.logger });
  }

  protected override exited(pid: Upid): void {
    this.changed();
    this.core?.agentExited(pid.toString());
  }
}

/**
 * The `master` process: the edge between the master core and the world.
 * It decodes `mesos.internal.*` messages from agents into core events,
 * encodes the core's messages to agents, turns broken agent connections into
 * `agentExited`, and serves the master's HTTP routes.
 */
import { type MessageDecoder, ProcessBase } from "../common/process/process-base.js";
import { parseUpid, type Upid } from "../common/process/upid.js";
import { codecFor, type MessageTypeMap, type MessageTypeName } from "../common/protocol/index.js";
import type { MasterIo } from "./core/io.js";
import type { Master } from "./core/master.js";
import {
  flagsHandler,
  healthHandler,
  redirectHandler,
  stateHandler,
  versionHandler,
} from "./http/endpoints.js";
import { SCHEDULER_API_HELP, schedulerApiHandler } from "./http/scheduler-api.js";
import type { StateContext } from "./http/state-json.js";
import { installWebui } from "./http/webui.js";

/** A message decoder from the schema, for `install`. */
function decoder<K extends MessageTypeName>(type: K): MessageDecoder<MessageTypeMap[K]> {
  const codec = codecFor(type);
  return (bytes) => {
    const result = codec.decodeProtobuf(bytes);
    return result.ok ? { ok: true, value: result.value } : { ok: false, error: result.error };
  };
}

/** Messages from agents the master does not act on (yet); accepted quietly. */
const IGNORED_MESSAGES: readonly MessageTypeName[] = [
  "mesos.internal.UpdateSlaveMessage",
  "mesos.internal.UpdateOperationStatusMessage",
  "mesos.internal.CheckpointResourcesMessage",
];

/** The master's libprocess-style process (id `master`). */
export class MasterProcess extends ProcessBase {
  private core: Master | undefined;

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

  /** Connects the core (handlers and routes) once both exist. */
  attachCore(core: Master, state: StateContext, ownVersion: string): void {
    this.core = core;
    this.install(
      "mesos.internal.RegisterSlaveMessage",
      decoder("mesos.internal.RegisterSlaveMessage"),
      (from, message) => core.registerAgent(from.toString(), message),
    );
    this.install(
      "mesos.internal.ReregisterSlaveMessage",
      decoder("mesos.internal.ReregisterSlaveMessage"),
      (from, message) => core.reregisterAgent(from.toString(), message),
    );
    this.install(
      "mesos.internal.UnregisterSlaveMessage",
      decoder("mesos.internal.UnregisterSlaveMessage"),
      (from, message) => core.unregisterAgent(from.toString(), message),
    );
    this.install(
      "mesos.internal.PongSlaveMessage",
      decoder("mesos.internal.PongSlaveMessage"),
      (from) => core.pong(from.toString()),
    );
    this.install(
      "mesos.internal.StatusUpdateMessage",
      decoder("mesos.internal.StatusUpdateMessage"),
      (_from, message) => core.statusUpdate(message),
    );
    this.install(
      "mesos.internal.ExitedExecutorMessage",
      decoder("mesos.internal.ExitedExecutorMessage"),
      (from, message) => core.exitedExecutor(from.toString(), message),
    );
    this.install(
      "mesos.internal.ExecutorToFrameworkMessage",
      decoder("mesos.internal.ExecutorToFrameworkMessage"),
      (from, message) => core.executorToFramework(from.toString(), message),
    );
    for (const type of IGNORED_MESSAGES) {
      this.install(
        type,
        (bytes) => ({ ok: true, value: bytes }),
        (from) => this.logger.verbose(1, `Ignoring ${type} from ${from}: not supported yet`),
      );
    }
    this.routes_(core, state, ownVersion);
  }

  private routes_(core: Master, state: StateContext, ownVersion: string): void {
    this.route("/api/v1/scheduler", { help: SCHEDULER_API_HELP }, schedulerApiHandler(core));
    const stateHelp =
      "Information about the state of the master: agents, frameworks, tasks, offers (JSON).";
    const handler = stateHandler(state);
    this.route("/state", { methods: ["GET"], help: stateHelp }, handler);
    this.route("/state.json", { methods: ["GET"], help: `${stateHelp} (old alias)` }, handler);
    this.route(
      "/health",
      { methods: ["GET"], help: "Health check of the master: 200 while it serves." },
      healthHandler,
    );
    this.route(
      "/version",
      { methods: ["GET"], help: "The Mesos version this master follows, and mesos-ts' own." },
      versionHandler(state.build, ownVersion),
    );
    this.route(
      "/redirect",
      { methods: ["GET"], help: "Redirects (307) to the leading master." },
      redirectHandler(core.config.info),
    );
    this.route(
      "/flags",
      { methods: ["GET"], help: "The flags this master runs with." },
      flagsHandler(state.flags),
    );
    installWebui(this, { dir: state.flags.webui_dir ?? "", logger: this.logger });
  }

  protected override exited(pid: Upid): void {
    this.core?.agentExited(pid.toString());
  }
}

/**
 * The `master` process of a master that does not lead (a standby). As in
 * Mesos, it answers the endpoints that only the leader can answer with a
 * 307 to the leader (`Location: //<leader-host>:<port><path>`), or 503
 * while no leader is known, and answers `/health`, `/flags`, `/version`
 * locally (`/metrics/snapshot` and `/files` belong to the host's own
 * processes and stay local too). Messages from agents and schedulers are
 * dropped: they follow the leader through ZooKeeper.
 */

import type { BuildInfo } from "../../common/http/common-endpoints.js";
import {
  COMMON_HELP,
  flagsHandler,
  healthHandler,
  versionHandler,
} from "../../common/http/common-endpoints.js";
import type { HttpRequest } from "../../common/http/request.js";
import {
  type HttpResponse,
  notFound,
  serviceUnavailable,
  temporaryRedirect,
} from "../../common/http/response.js";
import { ProcessBase } from "../../common/process/process-base.js";
import type { MasterInfo } from "../../common/protocol/generated/mesos-v1.js";
import { installWebui } from "../http/webui.js";

/** Paths (below the `master` process) a standby redirects to the leader. */
export const LEADER_ONLY_PATHS: readonly string[] = [
  "/state",
  "/state.json",
  "/state-summary",
  "/frameworks",
  "/slaves",
  "/tasks",
  "/tasks.json",
  "/roles",
  "/roles.json",
  "/teardown",
  "/weights",
  "/quota",
  "/reserve",
  "/unreserve",
  "/create-volumes",
  "/destroy-volumes",
  "/maintenance/schedule",
  "/maintenance/status",
  "/machine/down",
  "/machine/up",
  "/api/v1",
  "/api/v1/scheduler",
];

/** `//host:port` of the leader, as Mesos writes it (the host name, else the IP). */
export function leaderBase(info: MasterInfo): string {
  const host = info.hostname ?? info.address?.hostname ?? info.address?.ip ?? "";
  return `//${host.includes(":") ? `[${host}]` : host}:${info.port}`;
}

export interface StandbyOptions {
  readonly flags: Record<string, string>;
  readonly build: BuildInfo;
  readonly ownVersion: string;
  /** A message for the master arrived and was dropped (`master/dropped_messages`). */
  readonly onDropped?: () => void;
}

/** Messages agents send the master: a standby drops them, counting each, as Mesos. */
const MASTER_MESSAGES: readonly string[] = [
  "mesos.internal.AuthenticateMessage",
  "mesos.internal.RegisterSlaveMessage",
  "mesos.internal.ReregisterSlaveMessage",
  "mesos.internal.UnregisterSlaveMessage",
  "mesos.internal.PongSlaveMessage",
  "mesos.internal.StatusUpdateMessage",
  "mesos.internal.ExitedExecutorMessage",
  "mesos.internal.ExecutorToFrameworkMessage",
  "mesos.internal.UpdateOperationStatusMessage",
  "mesos.internal.UpdateSlaveMessage",
  "mesos.internal.CheckpointResourcesMessage",
];

export class StandbyMasterProcess extends ProcessBase {
  private leader: MasterInfo | undefined;
  private recovering = false;
  private recoveringAnswer:
    | ((request: HttpRequest) => HttpResponse | Promise<HttpResponse>)
    | undefined;

  constructor(private readonly options: StandbyOptions) {
    super("master");
  }

  /** The leader to redirect to (undefined: none elected). */
  setLeader(leader: MasterInfo | undefined): void {
    this.leader = leader;
  }

  /**
   * This master was elected (`self`) and waits to recover the registry:
   * `/master/redirect` points at this master and `answer` serves the
   * leader-only paths (see recovering-view.ts); without one they answer 503
   * "Master has not finished recovery".
   */
  setRecovering(
    self: MasterInfo,
    answer?: (request: HttpRequest) => HttpResponse | Promise<HttpResponse>,
  ): void {
    this.leader = self;
    this.recovering = true;
    this.recoveringAnswer = answer;
  }

  protected override initialize(): void {
    for (const type of MASTER_MESSAGES) {
      this.install(
        type,
        (bytes) => ({ ok: true, value: bytes }),
        (from) => {
          this.logger.verbose(1, `Dropping '${type}' message from ${from} since not elected yet`);
          this.options.onDropped?.();
        },
      );
    }
    const redirect = (request: HttpRequest): HttpResponse | Promise<HttpResponse> =>
      this.redirect(request);
    for (const path of LEADER_ONLY_PATHS) {
      this.route(
        path,
        { help: "Answered by the leading master: 307 to it from a standby." },
        redirect,
      );
    }
    this.route(
      "/redirect",
      { methods: ["GET"], help: "Redirects (307) to the leading master." },
      (request) => {
        if (this.leader === undefined) return serviceUnavailable("No leader elected");
        // Below it (even a bare trailing `/`) is 404, as on the leader: no redirect loop.
        if (request.remainder !== "" || request.path.endsWith("/")) return notFound();
        return temporaryRedirect(leaderBase(this.leader));
      },
    );
    const get = { methods: ["GET"] };
    this.route("/health", { ...get, help: COMMON_HELP.health }, healthHandler);
    this.route(
      "/version",
      { ...get, help: COMMON_HELP.version },
      versionHandler(this.options.build, this.options.ownVersion),
    );
    // Any method: the handler refuses non-GET only with --acls, as Mesos does.
    this.route("/flags", { help: COMMON_HELP.flags }, flagsHandler(this.options.flags));
    // A browser pointed at a standby gets the web UI, which follows /master/redirect to the leader.
    installWebui(this, { dir: this.options.flags.webui_dir ?? "", logger: this.logger });
  }

  private redirect(request: HttpRequest): HttpResponse | Promise<HttpResponse> {
    if (this.recovering) {
      return (
        this.recoveringAnswer?.(request) ?? serviceUnavailable("Master has not finished recovery")
      );
    }
    const leader = this.leader;
    if (leader === undefined) {
      this.logger.warn(
        `Not the leading master and no leader is known: cannot redirect ${request.path}`,
      );
      return serviceUnavailable("No leader elected");
    }
    const query = request.rawQuery === "" ? "" : `?${request.rawQuery}`;
    const base = leaderBase(leader);
    this.logger.info(
      `Redirecting request for ${request.path}${query} to the leading master ${base}`,
    );
    return temporaryRedirect(`${base}${request.path}${query}`);
  }
}

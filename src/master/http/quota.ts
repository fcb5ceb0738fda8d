/**
 * Quota as operators set it (Mesos 1.9+ semantics): per-role guarantees and
 * limits, through `/master/quota` (GET the `QuotaStatus`; POST a legacy
 * `QuotaRequest`, whose guarantee is also the limit; DELETE
 * `/master/quota/<role>`) and the v1 calls GET_QUOTA, UPDATE_QUOTA and the
 * deprecated SET_QUOTA / REMOVE_QUOTA.
 *
 * Every change is validated first (all or nothing, one-line reasons in
 * Mesos' wording), written to the registry (`update-quota`), and only then
 * handed to the allocator's `updateQuota` and answered; offers are rescinded
 * so that limits hold and guarantees can be met at once. A failed registry
 * write answers 503 and changes nothing. Changes run one at a time, so a
 * check never sees a state another change is about to replace.
 *
 * One `RoleQuotas` per master core (see `roleQuotas`); a restarted or
 * newly elected master gets its quotas back from the registry (`restore`).
 */

import { forbiddenMessage, requestAuthorized } from "../../common/auth/request-auth.js";
import type { HttpRequest } from "../../common/http/request.js";
import {
  badRequest,
  conflict,
  forbidden,
  type HttpResponse,
  methodNotAllowed,
  ok,
  serviceUnavailable,
} from "../../common/http/response.js";
import { jsonResponse } from "../../common/http/v1-api.js";
import type { Resource, Value_Scalar } from "../../common/protocol/generated/mesos-v1.js";
import type {
  QuotaConfig,
  QuotaInfo,
  QuotaRequest,
  QuotaStatus,
} from "../../common/protocol/generated/mesos-v1-quota.js";
import { codecFor } from "../../common/protocol/index.js";
import {
  type Resource as CoreResource,
  formatResource,
  formatScalar,
  validateResource,
  validateRole,
} from "../../common/resources/index.js";
import type { Master } from "../core/master.js";
import { rescindOffer } from "../core/offers.js";
import type { OfferRecord } from "../core/records.js";

/** Resource name -> amount. */
export type Amounts = Record<string, number>;

/** One role's quota: absent names have no guarantee / no limit. */
export interface RoleQuota {
  readonly guarantees: Amounts;
  readonly limits: Amounts;
}

/** Help text of `/master/quota`. */
export const QUOTA_HELP =
  "Gets or updates quota (per-role guarantees and limits).\n" +
  "GET: the QuotaStatus JSON (infos and configs). POST: a QuotaRequest JSON " +
  '{"role": "r", "guarantee": [resources], "force": false}; the guarantee is also the ' +
  "limit. DELETE /master/quota/<role>: removes the role's quota. Prefer the v1 calls " +
  "GET_QUOTA and UPDATE_QUOTA (guarantees and limits).";

const requestCodec = codecFor<QuotaRequest>("mesos.v1.quota.QuotaRequest");

/** Mesos' bounds on quota values (1 exabyte in MB for mem/disk, 1 trillion otherwise). */
const EXABYTE_MB = 1024 ** 4;
const OTHER_MAX = 1e12;

const perMaster = new WeakMap<Master, RoleQuotas>();

/** The quotas of a master core (created on first use). */
export function roleQuotas(m: Master): RoleQuotas {
  let q = perMaster.get(m);
  if (q === undefined) {
    q = new RoleQuotas(m);
    perMaster.set(m, q);
  }
  return q;
}

/** Outcome of a change: applied, or the HTTP status and one-line reason (503: registry failed). */
export type QuotaResult =
  | { ok: true }
  | { ok: false; status: 400 | 403 | 409 | 503; message: string };

/**
 * The caller's right to change a role's quota: undefined when allowed, else
 * the 403 reason. Asked once the change is valid, as Mesos authorizes after
 * validating (an invalid change is a 400 whoever asks).
 */
export type QuotaAuthorizer = (role: string) => string | undefined;

const fail = (message: string, status: 400 | 403 | 409 | 503 = 400): QuotaResult => ({
  ok: false,
  status,
  message,
});

/** The quotas in force and the rules for changing them. */
export class RoleQuotas {
  private readonly quotas = new Map<string, RoleQuota>();
  /** The change in progress (validate, write, apply); the next one waits for it. */
  private running: Promise<unknown> = Promise.resolve();

  constructor(private readonly m: Master) {}

  /** Runs changes one after the other. */
  private serially(change: () => QuotaResult | Promise<QuotaResult>): Promise<QuotaResult> {
    const run = this.running.then(change);
    this.running = run.catch(() => undefined);
    return run;
  }

  get(role: string): RoleQuota | undefined {
    return this.quotas.get(role);
  }

  /** Roles with a quota, sorted. */
  roles(): string[] {
    return [...this.quotas.keys()].sort();
  }

  /** The `QuotaStatus` (legacy `infos` with guarantees, and `configs`). */
  status(): QuotaStatus {
    const infos: QuotaInfo[] = [];
    const configs: QuotaConfig[] = [];
    for (const role of this.roles()) {
      const q = this.quotas.get(role) as RoleQuota;
      const guarantee = Object.entries(q.guarantees).map(
        ([name, value]): Resource => ({ name, type: "SCALAR", scalar: { value } }),
      );
      // As protobuf JSON: an empty repeated field is left out (a limits-only quota).
      infos.push(guarantee.length > 0 ? { role, guarantee } : { role });
      const config: QuotaConfig = { role };
      if (Object.keys(q.guarantees).length > 0) config.guarantees = scalars(q.guarantees);
      if (Object.keys(q.limits).length > 0) config.limits = scalars(q.limits);
      configs.push(config);
    }
    return { infos, configs };
  }

  /** The legacy set (POST /master/quota, SET_QUOTA): guarantee = limit, one role without quota. */
  set(request: QuotaRequest, authorize?: QuotaAuthorizer): Promise<QuotaResult> {
    return this.serially(() => this.setNow(request, authorize));
  }

  private setNow(
    request: QuotaRequest,
    authorize: QuotaAuthorizer | undefined,
  ): QuotaResult | Promise<QuotaResult> {
    // Mesos' order: the resources as resources first, then the request as a
    // QuotaInfo (a missing role is the empty role), the whitelist, an
    // existing quota, and nesting.
    // A decoded `"ranges": {"range": []}` has lost its empty list; as a
    // message it is still a (valid, empty) ranges value.
    const guarantee = (request.guarantee ?? []).map((r) =>
      r.ranges !== undefined && r.ranges.range === undefined ? { ...r, ranges: { range: [] } } : r,
    );
    for (const r of guarantee) {
      const invalid = validateResource(r as CoreResource);
      if (invalid !== undefined) {
        return fail(
          `Failed to validate set quota request: QuotaInfo with invalid resource: Resource '${describe(r)}' is invalid: ${invalid}`,
        );
      }
    }
    const role = request.role ?? "";
    const roleError = validateRole(role);
    if (roleError !== undefined) {
      return fail(
        `Failed to validate set quota request: QuotaInfo with invalid role: ${roleError}`,
      );
    }
    if (guarantee.length === 0) {
      return fail("Failed to validate set quota request: QuotaInfo with empty 'guarantee'");
    }
    const amounts: Amounts = {};
    for (const r of guarantee) {
      const error = legacyResourceError(r, amounts);
      if (error !== undefined) return fail(`Failed to validate set quota request: ${error}`);
      amounts[r.name] = r.scalar?.value ?? 0;
    }
    if (!this.whitelisted(role)) {
      return fail(`Failed to validate set quota request: Unknown role '${role}'`);
    }
    if (this.quotas.has(role)) {
      return fail(
        `Failed to validate set quota request: Cannot set quota for role '${role}' which already has quota`,
      );
    }
    if (role.includes("/")) {
      return fail(`Setting quota on nested role '${role}' is not supported yet`);
    }
    const refused = authorize?.(role);
    if (refused !== undefined) return fail(refused, 403);
    const quota: RoleQuota = { guarantees: amounts, limits: { ...amounts } };
    if (request.force !== true) {
      const over = this.overcommit(new Map([[role, quota]]));
      if (over !== undefined) {
        // Mesos capitalizes the reason here (not in UPDATE_QUOTA's).
        return fail(
          `Quota guarantees overcommit the cluster (use 'force' to bypass this check): T${over.slice(1)}`,
          409,
        );
      }
    }
    return this.commit(new Map([[role, quota]]));
  }

  /**
   * The legacy remove (REMOVE_QUOTA, or DELETE /master/quota/<role> whose
   * request `path` the refusals then name, as Mesos does).
   */
  remove(role: string, path?: string, authorize?: QuotaAuthorizer): Promise<QuotaResult> {
    return this.serially(() => this.removeNow(role, path, authorize));
  }

  private removeNow(
    role: string,
    path: string | undefined,
    authorize: QuotaAuthorizer | undefined,
  ): QuotaResult | Promise<QuotaResult> {
    const forPath = path === undefined ? "" : ` for path '${path}'`;
    if (!this.whitelisted(role)) {
      return fail(`Failed to validate remove quota request${forPath}: Unknown role '${role}'`);
    }
    if (!this.quotas.has(role)) {
      return fail(`Failed to remove quota${forPath}: Role '${role}' has no quota set`);
    }
    const refused = authorize?.(role);
    if (refused !== undefined) return fail(refused, 403);
    return this.commit(new Map([[role, { guarantees: {}, limits: {} }]]));
  }

  /** UPDATE_QUOTA: all configs are checked, then all applied (an empty config removes). */
  update(
    configs: readonly QuotaConfig[],
    force: boolean,
    authorize?: QuotaAuthorizer,
  ): Promise<QuotaResult> {
    return this.serially(() => this.updateNow(configs, force, authorize));
  }

  private updateNow(
    configs: readonly QuotaConfig[],
    force: boolean,
    authorize: QuotaAuthorizer | undefined,
  ): QuotaResult | Promise<QuotaResult> {
    const next = new Map<string, RoleQuota>();
    for (const config of configs) {
      const role = config.role ?? "";
      if (!this.whitelisted(role)) {
        return fail(`Invalid QuotaConfig: '${role}' is not on the roles whitelist`);
      }
      if (role.includes("/")) {
        return fail(`Updating quota on nested role '${role}' is not supported yet`);
      }
      const error = configError(config);
      if (error !== undefined) return fail(`Invalid QuotaConfig: ${error}`);
      next.set(role, {
        guarantees: amountsOf(config.guarantees),
        limits: amountsOf(config.limits),
      });
    }
    for (const [role, quota] of next) {
      const consumed = this.m.allocator.roleAccounting(role)?.quotaConsumed ?? {};
      const over = exceeding(consumed, quota.limits);
      if (over !== undefined && !force) {
        return fail(
          `Invalid QuotaConfig: Role '${role}' is already consuming '${format(consumed)}'; this is more than the requested limits '${format(quota.limits)}' (use 'force' flag to bypass this check)`,
        );
      }
    }
    if (!force) {
      const over = this.overcommit(next);
      if (over !== undefined) {
        return fail(`Invalid QuotaConfig: ${over} (use 'force' flag to bypass this check)`);
      }
    }
    for (const config of configs) {
      const refused = authorize?.(config.role ?? "");
      if (refused !== undefined) return fail(refused, 403);
    }
    return this.commit(next);
  }

  /** Writes validated changes to the registry; applies them once stored. */
  private async commit(changes: ReadonlyMap<string, RoleQuota>): Promise<QuotaResult> {
    const configs = [...changes].map(([role, q]) => configOf(role, q));
    try {
      await this.m.registrar.apply({ kind: "update-quota", configs });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.m.logger.error(`Failed to store quota in the registry: ${reason}`);
      return fail(`Failed to store quota in the registry: ${oneLine(reason)}`, 503);
    }
    if (this.m.stopped) return fail("The master is stopping", 503);
    this.apply(changes);
    return { ok: true };
  }

  private whitelisted(role: string): boolean {
    const whitelist = this.m.config.roleWhitelist;
    return whitelist === undefined || role === "*" || whitelist.has(role);
  }

  /** Why the guarantees (with `changes`) exceed the cluster's capacity, if they do. */
  private overcommit(changes: ReadonlyMap<string, RoleQuota>): string | undefined {
    const total: Amounts = {};
    for (const [role, q] of this.quotas) {
      if (!changes.has(role)) addAmounts(total, q.guarantees);
    }
    for (const q of changes.values()) addAmounts(total, q.guarantees);
    const capacity: Amounts = {};
    for (const agent of this.m.agents.values()) {
      for (const [name, value] of agent.totalResources.nonRevocable().scalarQuantities()) {
        capacity[name] = (capacity[name] ?? 0) + value;
      }
    }
    for (const [name, value] of Object.entries(total)) {
      if (value > (capacity[name] ?? 0) + 1e-9) {
        return `total quota guarantees '${format(total)}' exceed cluster capacity '${format(capacity)}'`;
      }
    }
    return undefined;
  }

  /**
   * Quotas recovered from the registry: applied as they are, without checks,
   * writes or rescinds (the allocator gets them too).
   */
  restore(configs: readonly QuotaConfig[]): void {
    for (const config of configs) {
      const quota = { guarantees: amountsOf(config.guarantees), limits: amountsOf(config.limits) };
      this.record(config.role, quota);
    }
  }

  /** Stores one role's quota and tells the allocator; true when it was a removal. */
  private record(role: string, quota: RoleQuota): boolean {
    const empty =
      Object.keys(quota.guarantees).length === 0 && Object.keys(quota.limits).length === 0;
    if (empty) this.quotas.delete(role);
    else this.quotas.set(role, quota);
    this.m.allocator.updateQuota(role, {
      guarantees: scalars(quota.guarantees),
      limits: scalars(quota.limits),
    });
    return empty;
  }

  /** Records the quotas, tells the allocator, and rescinds offers as Mesos does. */
  private apply(changes: ReadonlyMap<string, RoleQuota>): void {
    for (const [role, quota] of changes) {
      const empty = this.record(role, quota);
      this.m.logger.info(
        empty
          ? `Removed quota of role '${role}'`
          : `Set quota of role '${role}': guarantees '${format(quota.guarantees)}', limits '${format(quota.limits)}'`,
      );
    }
    for (const [role, quota] of changes) this.rescind(role, quota);
  }

  /**
   * Rescinds the role's own offers while its consumption plus offers exceed
   * its limits, then other roles' offers until what the role has plus what
   * was rescinded covers its guarantees.
   */
  private rescind(role: string, quota: RoleQuota): void {
    const inSubtree = (offer: OfferRecord) =>
      offer.role === role || offer.role.startsWith(`${role}/`);
    const have: Amounts = { ...(this.m.allocator.roleAccounting(role)?.quotaConsumed ?? {}) };
    const offers = [...this.m.offers.values()];
    for (const offer of offers) if (inSubtree(offer)) addAmounts(have, scalarAmounts(offer));
    for (const offer of offers) {
      if (exceeding(have, quota.limits) === undefined) break;
      if (!inSubtree(offer)) continue;
      subtractAmounts(have, scalarAmounts(offer));
      rescindOffer(this.m, offer);
    }
    for (const offer of offers) {
      if (covers(have, quota.guarantees)) break;
      if (inSubtree(offer) || !this.m.offers.has(offer.id)) continue;
      addAmounts(have, scalarAmounts(offer));
      rescindOffer(this.m, offer);
    }
  }
}

/** A role's quota as a `QuotaConfig` (no guarantees and no limits: a removal). */
function configOf(role: string, q: RoleQuota): QuotaConfig {
  return {
    role,
    ...(Object.keys(q.guarantees).length > 0 ? { guarantees: scalars(q.guarantees) } : {}),
    ...(Object.keys(q.limits).length > 0 ? { limits: scalars(q.limits) } : {}),
  };
}

/**
 * Why one legacy guarantee resource (already valid as a resource) cannot be
 * quota, if it cannot. A `role` other than `*` is a (pre-refinement) reservation.
 */
function legacyResourceError(r: Resource, seen: Amounts): string | undefined {
  if ((r.reservations?.length ?? 0) > 0 || (r.role !== undefined && r.role !== "*")) {
    return "QuotaInfo must not contain any ReservationInfo";
  }
  if (r.disk !== undefined) return "QuotaInfo must not contain DiskInfo";
  if (r.revocable !== undefined) return "QuotaInfo must not contain RevocableInfo";
  if (r.type !== "SCALAR" || r.scalar === undefined) {
    return "QuotaInfo must not include non-scalar resources";
  }
  if (r.name in seen) return `QuotaInfo contains duplicate resource name '${r.name}'`;
  return undefined;
}

/** A resource as Mesos prints it, even a malformed one. */
function describe(r: Resource): string {
  try {
    return formatResource(r as CoreResource);
  } catch {
    return r.name;
  }
}

/** Why a `QuotaConfig` is invalid (Mesos' checks, in its order), if it is. */
function configError(config: QuotaConfig): string | undefined {
  if (config.role === undefined) return "'QuotaConfig.role' must be set";
  const roleError = validateRole(config.role);
  if (roleError !== undefined) return `Invalid 'QuotaConfig.role': ${roleError}`;
  for (const [field, map] of [
    ["guarantees", config.guarantees],
    ["limits", config.limits],
  ] as const) {
    for (const [name, scalar] of sortedEntries(map)) {
      const error = tooLargeError(name, scalar.value);
      if (error !== undefined) return `Invalid 'QuotaConfig.${field}': ${error}`;
    }
  }
  for (const [what, map] of [
    ["guarantee", config.guarantees],
    ["limit", config.limits],
  ] as const) {
    for (const [name, scalar] of sortedEntries(map)) {
      const error = scalarValueError(scalar.value);
      if (error !== undefined) {
        return `Invalid ${what} configuration {'${name}': ${scalarText(scalar.value)}}: ${error}`;
      }
    }
  }
  if (exceeding(amountsOf(config.guarantees), amountsOf(config.limits)) !== undefined) {
    return `'QuotaConfig.guarantees' ${mapText(config.guarantees)} is not contained within the 'QuotaConfig.limits' ${mapText(config.limits)}`;
  }
  return undefined;
}

function sortedEntries(
  map: Readonly<Record<string, Value_Scalar>> | undefined,
): [string, Value_Scalar][] {
  return Object.entries(map ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Mesos' bounds: 1 exabyte (in MB) for mem and disk, 1 trillion for anything else. */
function tooLargeError(name: string, value: number): string | undefined {
  if (name === "mem" || name === "disk") {
    if (value > EXABYTE_MB) {
      return `{'${name}': ${scalarText(value)}} is invalid: values greater than 1 exabyte (${EXABYTE_MB}) are not supported`;
    }
  } else if (value > OTHER_MAX) {
    return `{'${name}': ${scalarText(value)}} is invalid: values greater than 1 trillion (${OTHER_MAX}) are not supported`;
  }
  return undefined;
}

/** Mesos' check of an input scalar: finite, normal or zero, not negative. */
function scalarValueError(value: number): string | undefined {
  if (Number.isNaN(value)) return "NaN not supported";
  if (!Number.isFinite(value)) return "Infinite values not supported";
  if (value !== 0 && Math.abs(value) < 2.2250738585072014e-308) {
    return "Subnormal values not supported";
  }
  if (value < 0) return "Negative values not supported";
  return undefined;
}

/** A scalar as Mesos prints one (C++ names for the non-finite ones). */
function scalarText(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  return formatScalar(value);
}

/** A quantity map as Mesos prints a protobuf map: `{ cpus: 2, mem: 512 }` (sorted here). */
function mapText(map: Readonly<Record<string, Value_Scalar>> | undefined): string {
  return `{ ${sortedEntries(map)
    .map(([name, scalar]) => `${name}: ${scalarText(scalar.value)}`)
    .join(", ")} }`;
}

function amountsOf(map: Readonly<Record<string, Value_Scalar>> | undefined): Amounts {
  const out: Amounts = {};
  for (const [name, scalar] of Object.entries(map ?? {})) out[name] = scalar.value;
  return out;
}

function scalars(amounts: Amounts): Record<string, Value_Scalar> {
  const out: Record<string, Value_Scalar> = {};
  for (const [name, value] of Object.entries(amounts)) out[name] = { value };
  return out;
}

function scalarAmounts(offer: OfferRecord): Amounts {
  const out: Amounts = {};
  for (const [name, value] of offer.resources.scalarQuantities()) out[name] = value;
  return out;
}

function addAmounts(into: Amounts, more: Readonly<Amounts>): void {
  for (const [name, value] of Object.entries(more)) into[name] = (into[name] ?? 0) + value;
}

function subtractAmounts(from: Amounts, less: Readonly<Amounts>): void {
  for (const [name, value] of Object.entries(less)) from[name] = (from[name] ?? 0) - value;
}

/** The first name where `amounts` goes over `limits` (absent limit: none). */
function exceeding(amounts: Readonly<Amounts>, limits: Readonly<Amounts>): string | undefined {
  for (const [name, value] of Object.entries(amounts)) {
    const limit = limits[name];
    if (limit !== undefined && value > limit + 1e-9) return name;
  }
  return undefined;
}

function covers(amounts: Readonly<Amounts>, wanted: Readonly<Amounts>): boolean {
  for (const [name, value] of Object.entries(wanted)) {
    if ((amounts[name] ?? 0) + 1e-9 < value) return false;
  }
  return true;
}

/** `cpus:2; mem:1024` */
function format(amounts: Readonly<Amounts>): string {
  const parts = Object.entries(amounts)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}:${formatScalar(value)}`);
  return parts.length === 0 ? "{}" : parts.join("; ");
}

/** `/master/quota`: GET status, POST a legacy request, DELETE `/master/quota/<role>`. */
export function quotaHandler(
  m: Master,
  changed: () => void,
): (request: HttpRequest) => HttpResponse | Promise<HttpResponse> {
  return (request) => {
    const quotas = roleQuotas(m);
    switch (request.method) {
      case "GET":
        return jsonResponse(request, JSON.stringify(quotas.status()));
      case "POST": {
        const body = new TextDecoder().decode(request.body);
        let parsed: unknown;
        try {
          parsed = JSON.parse(body);
        } catch (e) {
          return badRequest(
            `Failed to parse set quota request JSON '${oneLine(body)}': ${(e as Error).message}`,
          );
        }
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
          return badRequest(
            `Failed to parse set quota request JSON '${oneLine(body)}': Unexpected JSON type parsed`,
          );
        }
        const decoded = requestCodec.decodeJson(parsed);
        if (!decoded.ok) {
          return badRequest(
            `Failed to validate set quota request JSON '${oneLine(body)}': ${oneLine(decoded.error.stout)}`,
          );
        }
        changed();
        return quotas.set(decoded.value, quotaAuthorizer(request)).then(reply);
      }
      case "DELETE": {
        // Mesos takes everything after `/master/quota/` as the role, so a
        // nested role (`a/b`) is named by its full path.
        const path = decodePath(request.path);
        const tokens = path.split("/").filter((t) => t !== "");
        if (tokens.length < 3) {
          return badRequest(
            `Failed to parse remove quota request for path '${path}': expected 3 tokens, found ${tokens.length} tokens`,
          );
        }
        const role = path.replace(/^\/*[^/]+\/+[^/]+\/+/, "");
        changed();
        return quotas.remove(role, path, quotaAuthorizer(request)).then(reply);
      }
      default:
        return methodNotAllowed(["GET", "POST", "DELETE"], request.method);
    }
  };
}

/** The `update_quotas` ACL for the caller of `request`. */
export function quotaAuthorizer(request: HttpRequest): QuotaAuthorizer {
  return (role) =>
    requestAuthorized(request, "update_quotas", role)
      ? undefined
      : forbiddenMessage(request, `update the quota of role '${role}'`);
}

/** A change's outcome as an HTTP response. */
export function reply(result: QuotaResult): HttpResponse {
  if (result.ok) return ok();
  if (result.status === 503) return serviceUnavailable(result.message);
  if (result.status === 403) return forbidden(result.message);
  return result.status === 409 ? conflict(result.message) : badRequest(result.message);
}

/** The request path percent-decoded (as libprocess hands it over), or as sent if malformed. */
function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}...` : flat;
}

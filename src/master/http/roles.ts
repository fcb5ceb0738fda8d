/**
 * Roles and weights as operators see them: `/master/roles`, `/master/weights`,
 * GET_ROLES, GET_WEIGHTS and UPDATE_WEIGHTS. Known roles are the roles of
 * frameworks, of weights, of reservations and of the `--roles` whitelist,
 * as in Mesos.
 *
 * Weights live in the registry: an update is answered once it is stored
 * (503 and no change when the write fails), and a restarted or newly
 * elected master takes the stored weights over `--weights` (see `recover`).
 */
import {
  badRequest,
  type HttpResponse,
  ok,
  serviceUnavailable,
} from "../../common/http/response.js";
import type { Logger } from "../../common/observability/logger.js";
import type { Registry } from "../../common/protocol/generated/mesos-internal.js";
import type { Resource, WeightInfo } from "../../common/protocol/generated/mesos-v1.js";
import { Resources, validateRole } from "../../common/resources/index.js";
import type { HierarchicalAllocator } from "../allocator/index.js";
import type { Master } from "../core/master.js";
import { rescindOffer } from "../core/offers.js";
import type { Registrar } from "../registrar/registrar.js";
import { roleQuotas } from "./quota.js";

/** A refused weights update: 400 (invalid) or 503 (the registry write failed). */
export interface WeightsError {
  readonly status: 400 | 503;
  readonly message: string;
}

/** The answer to a weights update. */
export function weightsReply(error: WeightsError | undefined): HttpResponse {
  if (error === undefined) return ok();
  return error.status === 503 ? serviceUnavailable(error.message) : badRequest(error.message);
}

/**
 * After a stored weights update: when a framework uses one of the updated
 * roles, every outstanding offer is rescinded (as Mesos does) so that the
 * next allocation already follows the new weights.
 */
export function rescindOffersAfterWeights(m: Master, infos: readonly WeightInfo[]): void {
  const updated = new Set(infos.map((w) => (w.role ?? "").trim()));
  const used = [...m.frameworks.values()].some((f) => f.roles().some((r) => updated.has(r)));
  if (!used) return;
  for (const offer of [...m.offers.values()]) rescindOffer(m, offer);
}

/**
 * Validates a weights update as Mesos does (trimmed role names, known roles,
 * positive weights). The security layer runs it too: a refused update is
 * answered 400 before the caller's right to update those roles is checked.
 */
export function checkWeights(
  infos: readonly WeightInfo[],
  whitelist: ReadonlySet<string> | undefined,
): { ok: true; value: WeightInfo[] } | { ok: false; error: WeightsError } {
  const invalid = (message: string) => ({
    ok: false as const,
    error: { status: 400 as const, message },
  });
  const checked: WeightInfo[] = [];
  for (const info of infos) {
    const role = (info.role ?? "").trim();
    const roleError = validateRole(role);
    if (roleError !== undefined) {
      return invalid(
        `Failed to validate update weights request JSON: Invalid role '${role}': ${roleError}`,
      );
    }
    if (whitelist !== undefined && role !== "*" && !whitelist.has(role)) {
      return invalid(`Failed to validate update weights request JSON: Unknown role '${role}'`);
    }
    if (!(info.weight > 0)) {
      return invalid(
        `Failed to validate update weights request JSON for role '${role}': Invalid weight '${info.weight}': Weights must be positive`,
      );
    }
    checked.push({ role, weight: info.weight });
  }
  return { ok: true, value: checked };
}

/** The role weights in force: `--weights` or the registry's, then UPDATE_WEIGHTS calls. */
export class RoleWeights {
  private readonly weights = new Map<string, number>();
  /** The update in progress; the next one waits for it. */
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    initial: readonly WeightInfo[],
    private readonly allocator: HierarchicalAllocator,
    private readonly registrar?: Registrar,
  ) {
    for (const w of initial) this.weights.set(w.role ?? "*", w.weight);
  }

  /**
   * After the registry is read (start-up, or election): weights stored there
   * replace `--weights` (with a warning when the flag is set, as in Mesos);
   * without stored weights, the flag's weights are written to the registry.
   */
  recover(registry: Registry, logger: Logger, flag: string | undefined): void {
    const stored = registry.weights ?? [];
    if (stored.length > 0) {
      if (this.weights.size > 0) {
        logger.warn(
          `Ignoring --weights flag '${flag ?? ""}' and recovering the weights from registry`,
        );
      }
      const dropped = [...this.weights.keys()];
      this.weights.clear();
      for (const w of stored) this.weights.set(w.info.role ?? "*", w.info.weight);
      // Roles only the flag weighted go back to the default weight.
      const reset = dropped
        .filter((role) => !this.weights.has(role))
        .map((role) => ({ role, weight: 1 }));
      this.allocator.updateWeights([
        ...reset,
        ...(this.list() as { role: string; weight: number }[]),
      ]);
      return;
    }
    if (this.weights.size === 0 || this.registrar === undefined) return;
    this.registrar
      .apply({ kind: "update-weights", weights: this.list() })
      .catch((error: unknown) => {
        logger.error(`Failed to store the --weights in the registry: ${String(error)}`);
      });
  }

  get(role: string): number {
    return this.weights.get(role) ?? 1;
  }

  /** The configured weights, `[{weight, role}]`, sorted by role. */
  list(): WeightInfo[] {
    return [...this.weights]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([role, weight]) => ({ weight, role }));
  }

  roles(): string[] {
    return [...this.weights.keys()];
  }

  /**
   * Checks new weights, stores them in the registry and applies them (all
   * or none). Resolves to the reason when refused: 400 for an invalid weight
   * (Mesos' wording), 503 when the registry write failed.
   */
  update(
    infos: readonly WeightInfo[],
    whitelist: ReadonlySet<string> | undefined,
  ): Promise<WeightsError | undefined> {
    const run = this.running.then(() => this.updateNow(infos, whitelist));
    this.running = run.catch(() => undefined);
    return run;
  }

  private async updateNow(
    infos: readonly WeightInfo[],
    whitelist: ReadonlySet<string> | undefined,
  ): Promise<WeightsError | undefined> {
    const result = checkWeights(infos, whitelist);
    if (!result.ok) return result.error;
    const checked = result.value;
    if (this.registrar !== undefined) {
      try {
        await this.registrar.apply({ kind: "update-weights", weights: checked });
      } catch (error) {
        const reason = (error instanceof Error ? error.message : String(error)).replace(
          /\s+/g,
          " ",
        );
        return { status: 503, message: `Failed to store weights in the registry: ${reason}` };
      }
    }
    for (const w of checked) this.weights.set(w.role as string, w.weight);
    this.allocator.updateWeights(checked as { role: string; weight: number }[]);
    return undefined;
  }
}

/** One role's accounting. */
export interface RoleView {
  name: string;
  weight: number;
  frameworks: string[];
  allocated: Resources;
  offered: Resources;
  reserved: Resources;
}

/** `a/b/c` -> `a/b`, `a`. */
function ancestors(role: string): string[] {
  const out: string[] = [];
  for (let i = role.lastIndexOf("/"); i > 0; i = role.lastIndexOf("/", i - 1)) {
    out.push(role.slice(0, i));
  }
  return out;
}

/** Whether `role` is `root` or nested below it. */
function inSubtree(role: string, root: string): boolean {
  return role === root || role.startsWith(`${root}/`);
}

/**
 * Every known role, sorted by name, as Mesos counts them: the `--roles`
 * whitelist when there is one, else the roles of weights, quotas,
 * frameworks and reservations; with their ancestors. Each role's resources
 * are those of its whole subtree.
 */
export function roleViews(m: Master, weights: RoleWeights): RoleView[] {
  const views = new Map<string, RoleView>();
  const view = (name: string): RoleView => {
    let v = views.get(name);
    if (v === undefined) {
      v = {
        name,
        weight: weights.get(name),
        frameworks: [],
        allocated: Resources.empty(),
        offered: Resources.empty(),
        reserved: Resources.empty(),
      };
      views.set(name, v);
      for (const ancestor of ancestors(name)) view(ancestor);
    }
    return v;
  };
  // With a `--roles` whitelist, Mesos knows exactly its roles (and their
  // ancestors); without one, every role in use or configured.
  const whitelist = m.config.roleWhitelist;
  const known = (role: string) => whitelist === undefined || whitelist.has(role);
  for (const role of whitelist ?? []) view(role);
  for (const role of weights.roles()) if (known(role)) view(role);
  for (const role of roleQuotas(m).roles()) if (known(role)) view(role);
  for (const f of m.frameworks.values()) {
    for (const role of f.roles()) if (known(role)) view(role).frameworks.push(f.id);
  }
  const exact: {
    role: string;
    into: "allocated" | "offered" | "reserved";
    resources: Resources;
  }[] = [];
  for (const agent of m.agents.values()) {
    for (const [role, resources] of agent.totalResources.reservations()) {
      if (known(role)) view(role);
      exact.push({ role, into: "reserved", resources });
    }
    for (const [role, resources] of agent.usedResources().allocations()) {
      if (known(role)) view(role);
      exact.push({ role, into: "allocated", resources });
    }
  }
  for (const offer of m.offers.values()) {
    if (known(offer.role)) view(offer.role);
    exact.push({ role: offer.role, into: "offered", resources: offer.resources });
  }
  for (const v of views.values()) {
    for (const e of exact) if (inSubtree(e.role, v.name)) v[e.into].add(e.resources);
  }
  return [...views.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Resource quantities as Mesos' JSON object (`{"cpus": 2, "mem": 512}`). */
export function quantitiesJson(resources: Resources): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of [...resources.scalarQuantities()].sort()) out[name] = value;
  return out;
}

/** The `/master/roles` document. */
export function rolesJson(m: Master, weights: RoleWeights): Record<string, unknown> {
  return {
    roles: roleViews(m, weights).map((v) => ({
      name: v.name,
      weight: v.weight,
      quota: {
        role: v.name,
        guarantee: { ...roleQuotas(m).get(v.name)?.guarantees },
        limit: { ...roleQuotas(m).get(v.name)?.limits },
        consumed: { ...m.allocator.roleAccounting(v.name)?.quotaConsumed },
      },
      resources: quantitiesJson(v.allocated.plus(v.offered)),
      allocated: quantitiesJson(v.allocated),
      offered: quantitiesJson(v.offered),
      reserved: quantitiesJson(v.reserved),
      frameworks: v.frameworks,
    })),
  };
}

/** The quantities GET_ROLES reports, as Mesos does (other names are left out). */
const GET_ROLES_NAMES = new Set(["cpus", "mem", "disk", "gpus"]);

/**
 * GET_ROLES' `roles`: `{name, weight, frameworks, resources}`, where
 * `resources` are the subtree's allocated plus offered cpus, mem, disk and
 * gpus as plain scalars.
 */
export function rolesMessage(
  m: Master,
  weights: RoleWeights,
): { name: string; weight: number; frameworks: { value: string }[]; resources: Resource[] }[] {
  return roleViews(m, weights).map((v) => ({
    name: v.name,
    weight: v.weight,
    frameworks: v.frameworks.map((value) => ({ value })),
    resources: Object.entries(quantitiesJson(v.allocated.plus(v.offered)))
      .filter(([name]) => GET_ROLES_NAMES.has(name))
      .map(([name, value]): Resource => ({ name, type: "SCALAR", scalar: { value } })),
  }));
}

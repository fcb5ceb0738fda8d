/**
 * Roles and weights as operators see them: `/master/roles`, `/master/weights`,
 * GET_ROLES, GET_WEIGHTS and UPDATE_WEIGHTS. Known roles are the roles of
 * frameworks, of weights, of reservations and of the `--roles` whitelist,
 * as in Mesos.
 */
import type { Resource, WeightInfo } from "../../common/protocol/generated/mesos-v1.js";
import { Resources, validateRole } from "../../common/resources/index.js";
import type { HierarchicalAllocator } from "../allocator/index.js";
import type { Master } from "../core/master.js";
import { roleQuotas } from "./quota.js";

/** The role weights in force: the `--weights` flag, then UPDATE_WEIGHTS calls. */
export class RoleWeights {
  private readonly weights = new Map<string, number>();

  constructor(
    initial: readonly WeightInfo[],
    private readonly allocator: HierarchicalAllocator,
  ) {
    for (const w of initial) this.weights.set(w.role ?? "*", w.weight);
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
   * Checks and applies new weights (all or none). Returns the 400 reason
   * when one is invalid, in Mesos' wording.
   */
  update(
    infos: readonly WeightInfo[],
    whitelist: ReadonlySet<string> | undefined,
  ): string | undefined {
    const checked: WeightInfo[] = [];
    for (const info of infos) {
      const role = (info.role ?? "").trim();
      const roleError = validateRole(role);
      if (roleError !== undefined) {
        return `Failed to validate update weights request JSON: Invalid role '${role}': ${roleError}`;
      }
      if (whitelist !== undefined && role !== "*" && !whitelist.has(role)) {
        return `Failed to validate update weights request JSON: Unknown role '${role}'`;
      }
      if (!(info.weight > 0)) {
        return `Failed to validate update weights request JSON for role '${role}': Invalid weight '${info.weight}': Weights must be positive`;
      }
      checked.push({ role, weight: info.weight });
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

/** Every known role with its frameworks and resources, sorted by name. */
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
    }
    return v;
  };
  for (const role of m.config.roleWhitelist ?? []) view(role);
  for (const role of weights.roles()) view(role);
  for (const role of roleQuotas(m).roles()) view(role);
  for (const f of m.frameworks.values()) {
    for (const role of f.roles()) view(role).frameworks.push(f.id);
  }
  for (const agent of m.agents.values()) {
    for (const [role, resources] of agent.totalResources.reservations()) {
      view(role).reserved.add(resources);
    }
    for (const [role, resources] of agent.usedResources().allocations()) {
      view(role).allocated.add(resources);
    }
  }
  for (const offer of m.offers.values()) view(offer.role).offered.add(offer.resources);
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

/** GET_ROLES' `roles`: `{name, weight, frameworks, resources}`. */
export function rolesMessage(
  m: Master,
  weights: RoleWeights,
): { name: string; weight: number; frameworks: { value: string }[]; resources: Resource[] }[] {
  return roleViews(m, weights).map((v) => ({
    name: v.name,
    weight: v.weight,
    frameworks: v.frameworks.map((value) => ({ value })),
    resources: v.allocated.plus(v.offered).toArray() as Resource[],
  }));
}

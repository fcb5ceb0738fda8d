/**
 * The tree of roles the allocator knows about (`eng/web` is a child of
 * `eng`), with what each role subtree has reserved, been offered or
 * allocated, and its weight and quota.
 *
 * A role is kept while it has a framework, a reservation, a non-default
 * weight or quota, or a descendant that does; otherwise it is dropped, so
 * the tree never grows with roles that come and go.
 */

import {
  addInto,
  isEmptyQuantities,
  type Quantities,
  type QuantitiesView,
  subtractInto,
} from "./quantities.js";
import type { Limits } from "./resource-math.js";
import { DEFAULT_WEIGHT } from "./sorter/sorter.js";

export class RoleNode {
  readonly children = new Map<string, RoleNode>();
  readonly frameworks = new Set<string>();
  weight = DEFAULT_WEIGHT;
  guarantees: Quantities = [];
  limits: Map<number, number> = new Map();
  /** Reserved scalars of this role and its descendants, on all agents. */
  readonly reserved: Quantities = [];
  /** Offered or allocated reserved scalars (subtree). */
  readonly offeredOrAllocatedReserved: Quantities = [];
  /** Offered or allocated unreserved non-revocable scalars (subtree). */
  readonly offeredOrAllocatedUnreserved: Quantities = [];
  /** Allocated (in use by tasks) unreserved non-revocable scalars (subtree). */
  readonly allocatedUnreserved: Quantities = [];

  constructor(
    readonly role: string,
    readonly parent: RoleNode | null,
  ) {}

  /** True when quota guarantees or limits are set. */
  hasQuota(): boolean {
    return this.limits.size > 0 || !isEmptyQuantities(this.guarantees);
  }

  /** What the allocator charges against quota: offered or allocated, plus reservations. */
  quotaOfferedOrConsumed(): Quantities {
    const q = this.offeredOrAllocatedUnreserved.slice();
    addInto(q, this.reserved);
    return q;
  }

  /** Quota consumption as reported: allocated plus reservations. */
  quotaConsumed(): Quantities {
    const q = this.allocatedUnreserved.slice();
    addInto(q, this.reserved);
    return q;
  }

  isEmpty(): boolean {
    return (
      this.children.size === 0 &&
      this.frameworks.size === 0 &&
      isEmptyQuantities(this.reserved) &&
      !this.hasQuota() &&
      this.weight === DEFAULT_WEIGHT
    );
  }
}

export class RoleTree {
  readonly root = new RoleNode("", null);
  private readonly roles = new Map<string, RoleNode>();
  private readonly quotaRoles = new Set<RoleNode>();
  /** Bumped when a role appears or goes, or a quota changes (for cheap metric refreshes). */
  changes = 0;

  get(role: string): RoleNode | undefined {
    return this.roles.get(role);
  }

  all(): IterableIterator<RoleNode> {
    return this.roles.values();
  }

  /** Roles with a non-default quota. */
  withQuota(): ReadonlySet<RoleNode> {
    return this.quotaRoles;
  }

  trackFramework(frameworkId: string, role: string): void {
    this.getOrCreate(role).frameworks.add(frameworkId);
  }

  untrackFramework(frameworkId: string, role: string): void {
    const node = this.roles.get(role);
    if (node === undefined) return;
    node.frameworks.delete(frameworkId);
    this.tryRemove(node);
  }

  trackReservations(byRole: ReadonlyMap<string, QuantitiesView>): void {
    for (const [role, q] of byRole) {
      for (let n: RoleNode | null = this.getOrCreate(role); n !== null; n = n.parent) {
        addInto(n.reserved, q);
      }
    }
  }

  untrackReservations(byRole: ReadonlyMap<string, QuantitiesView>): void {
    for (const [role, q] of byRole) {
      const node = this.roles.get(role);
      if (node === undefined) continue;
      for (let n: RoleNode | null = node; n !== null; n = n.parent) subtractInto(n.reserved, q);
      this.tryRemove(node);
    }
  }

  /** Resources of `role` were offered (or allocated from the start). */
  trackOfferedOrAllocated(
    role: string,
    reserved: QuantitiesView,
    unreserved: QuantitiesView,
  ): void {
    for (let n: RoleNode | null = this.getOrCreate(role); n !== null; n = n.parent) {
      addInto(n.offeredOrAllocatedReserved, reserved);
      addInto(n.offeredOrAllocatedUnreserved, unreserved);
    }
  }

  untrackOfferedOrAllocated(
    role: string,
    reserved: QuantitiesView,
    unreserved: QuantitiesView,
  ): void {
    for (let n: RoleNode | null = this.roles.get(role) ?? null; n !== null; n = n.parent) {
      subtractInto(n.offeredOrAllocatedReserved, reserved);
      subtractInto(n.offeredOrAllocatedUnreserved, unreserved);
    }
  }

  /** Unreserved non-revocable resources of `role` are now used by tasks. */
  trackAllocated(role: string, unreserved: QuantitiesView): void {
    for (let n: RoleNode | null = this.getOrCreate(role); n !== null; n = n.parent) {
      addInto(n.allocatedUnreserved, unreserved);
    }
  }

  untrackAllocated(role: string, unreserved: QuantitiesView): void {
    for (let n: RoleNode | null = this.roles.get(role) ?? null; n !== null; n = n.parent) {
      subtractInto(n.allocatedUnreserved, unreserved);
    }
  }

  updateQuota(role: string, guarantees: Quantities, limits: Limits): void {
    const node = this.getOrCreate(role);
    node.guarantees = guarantees;
    node.limits = new Map(limits);
    if (node.hasQuota()) this.quotaRoles.add(node);
    else this.quotaRoles.delete(node);
    this.changes++;
    this.tryRemove(node);
  }

  updateWeight(role: string, weight: number): void {
    this.getOrCreate(role).weight = weight;
    const node = this.roles.get(role);
    if (node !== undefined) this.tryRemove(node);
  }

  /** The node for `role`, creating it and missing ancestors. */
  getOrCreate(role: string): RoleNode {
    const existing = this.roles.get(role);
    if (existing !== undefined) return existing;
    let current = this.root;
    for (const label of role.split("/")) {
      let child = current.children.get(label);
      if (child === undefined) {
        const path = current === this.root ? label : `${current.role}/${label}`;
        child = new RoleNode(path, current);
        current.children.set(label, child);
        this.roles.set(path, child);
        this.changes++;
      }
      current = child;
    }
    return current;
  }

  /** Drops `node` and then its ancestors while they are empty. */
  private tryRemove(node: RoleNode): void {
    let current: RoleNode | null = node;
    while (current !== null && current !== this.root && current.isEmpty()) {
      const parent: RoleNode = current.parent as RoleNode;
      parent.children.delete(current.role.slice(current.role.lastIndexOf("/") + 1));
      this.roles.delete(current.role);
      this.quotaRoles.delete(current);
      this.changes++;
      current = parent;
    }
  }
}

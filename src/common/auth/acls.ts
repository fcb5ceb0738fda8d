/**
 * The ACL format of Mesos' local authorizer (`--acls`): one list of rules
 * per action, each rule a subject entity (`principals`) and an object
 * entity whose key depends on the action (`roles`, `users`, `paths`, ...).
 * An entity is `{"values": [...]}` (SOME), `{"type": "ANY"}` or
 * `{"type": "NONE"}`. Parsing checks what Mesos checks at start-up and
 * answers one-line errors. Unknown keys (a list, rule or entity field Mesos'
 * ACLs message does not have) are ignored, as stout's JSON-to-protobuf
 * conversion skips fields it cannot find.
 */
import { err, ok, type Result } from "../errors/result.js";

/** Kind of an entity: listed values, anything, or nothing. */
export type EntityType = "SOME" | "ANY" | "NONE";

/** A subject or object of a rule (or of a request). */
export interface AclEntity {
  readonly type: EntityType;
  readonly values: readonly string[];
}

/** One rule of an action's list. */
export interface AclRule {
  readonly principals: AclEntity;
  readonly objects: AclEntity;
}

/**
 * Every action list the local authorizer knows, with the key of its
 * object entity. The names are the JSON keys of Mesos' ACLs message.
 */
export const ACL_ACTIONS = {
  register_frameworks: "roles",
  run_tasks: "users",
  reserve_resources: "roles",
  unreserve_resources: "reserver_principals",
  create_volumes: "roles",
  destroy_volumes: "creator_principals",
  teardown_frameworks: "framework_principals",
  update_weights: "roles",
  get_endpoints: "paths",
  get_quotas: "roles",
  update_quotas: "roles",
  view_frameworks: "users",
  view_tasks: "users",
  view_executors: "users",
  access_sandboxes: "users",
  access_mesos_logs: "logs",
  view_roles: "roles",
  view_flags: "flags",
  launch_nested_containers_as_user: "users",
  launch_nested_containers_under_parent_with_user: "users",
  kill_nested_containers: "users",
  wait_nested_containers: "users",
  launch_nested_container_sessions_as_user: "users",
  launch_nested_container_sessions_under_parent_with_user: "users",
  attach_containers_input: "users",
  attach_containers_output: "users",
  view_containers: "users",
  set_log_level: "level",
  remove_nested_containers: "users",
  register_agents: "agents",
  update_maintenance_schedules: "machines",
  get_maintenance_schedules: "machines",
  start_maintenances: "machines",
  stop_maintenances: "machines",
  get_maintenance_statuses: "machines",
  drain_agents: "agents",
  deactivate_agents: "agents",
  reactivate_agents: "agents",
  mark_agents_gone: "agents",
  launch_standalone_containers: "users",
  kill_standalone_containers: "users",
  wait_standalone_containers: "users",
  remove_standalone_containers: "users",
  view_standalone_containers: "users",
  modify_resource_provider_configs: "resource_providers",
  mark_resource_providers_gone: "resource_providers",
  view_resource_providers: "resource_providers",
  prune_images: "images",
  resize_volumes: "roles",
  create_block_disks: "roles",
  destroy_block_disks: "roles",
  create_mount_disks: "roles",
  destroy_mount_disks: "roles",
  destroy_raw_disks: "roles",
} as const;

/** An action list name (`register_frameworks`, `view_tasks`, ...). */
export type AclAction = keyof typeof ACL_ACTIONS;

/** Old names still accepted, mapped to today's list. */
const ALIASES: Readonly<Record<string, AclAction>> = {
  shutdown_frameworks: "teardown_frameworks",
};

/** Objects of these lists may only be ANY or NONE (Mesos refuses values). */
const ANY_OR_NONE_ONLY: ReadonlySet<AclAction> = new Set<AclAction>([
  "access_mesos_logs",
  "view_flags",
  "set_log_level",
  "register_agents",
  "update_maintenance_schedules",
  "get_maintenance_schedules",
  "start_maintenances",
  "stop_maintenances",
  "get_maintenance_statuses",
  "drain_agents",
  "deactivate_agents",
  "reactivate_agents",
  "mark_agents_gone",
  "modify_resource_provider_configs",
  "mark_resource_providers_gone",
  "view_resource_providers",
  "prune_images",
]);

/** Endpoints `get_endpoints` may name (Mesos' authorizable endpoints). */
export const AUTHORIZABLE_ENDPOINTS: ReadonlySet<string> = new Set([
  "/containers",
  "/containerizer/debug",
  "/files/debug",
  "/logging/toggle",
  "/metrics/snapshot",
  "/monitor/statistics",
]);

/** Parsed `--acls`: `permissive` and the rules per action, in file order. */
export interface Acls {
  readonly permissive: boolean;
  readonly rules: ReadonlyMap<AclAction, readonly AclRule[]>;
}

/** ACLs that allow everything (no `--acls`). */
export const NO_ACLS: Acls = { permissive: true, rules: new Map() };

const ANY: AclEntity = { type: "ANY", values: [] };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseEntity(v: unknown, where: string): Result<AclEntity, string> {
  if (!isObject(v)) return err(`${where}: expected an object like {"values": [...]}`);
  let type: EntityType = "SOME";
  if (v.type !== undefined) {
    if (v.type !== "SOME" && v.type !== "ANY" && v.type !== "NONE") {
      return err(`${where}: 'type' must be one of SOME, ANY, NONE (got ${JSON.stringify(v.type)})`);
    }
    type = v.type;
  }
  const values: string[] = [];
  if (v.values !== undefined) {
    if (!Array.isArray(v.values) || v.values.some((x) => typeof x !== "string")) {
      return err(`${where}: 'values' must be an array of strings`);
    }
    values.push(...(v.values as string[]));
  }
  // Values are ignored for ANY and NONE, as in Mesos.
  return ok({ type, values: type === "SOME" ? values : [] });
}

/**
 * Parses the `--acls` JSON (already decoded). Errors name the action list
 * and rule index: `register_frameworks[1].roles: ...`.
 */
export function parseAcls(json: unknown): Result<Acls, string> {
  if (!isObject(json)) return err("expected a JSON object of ACL lists");
  let permissive = true;
  const rules = new Map<AclAction, AclRule[]>();
  for (const [rawKey, value] of Object.entries(json)) {
    if (rawKey === "permissive") {
      if (typeof value !== "boolean") return err("'permissive' must be true or false");
      permissive = value;
      continue;
    }
    const action = (Object.hasOwn(ALIASES, rawKey) ? ALIASES[rawKey] : rawKey) as AclAction;
    // Not a list of Mesos' ACLs message: ignored, as Mesos ignores it.
    if (!Object.hasOwn(ACL_ACTIONS, action)) continue;
    const objectKey = ACL_ACTIONS[action];
    if (!Array.isArray(value)) return err(`'${rawKey}' must be an array of rules`);
    const list = rules.get(action) ?? [];
    for (const [i, item] of value.entries()) {
      const where = `${rawKey}[${i}]`;
      if (!isObject(item)) return err(`${where}: expected an object`);
      // Other keys are ignored; naming the two a rule needs helps a misspelt one.
      const fields = `a ${rawKey} rule has 'principals' and '${objectKey}'`;
      if (item.principals === undefined)
        return err(`${where}: 'principals' is required (${fields})`);
      if (item[objectKey] === undefined)
        return err(`${where}: '${objectKey}' is required (${fields})`);
      const principals = parseEntity(item.principals, `${where}.principals`);
      if (!principals.ok) return principals;
      const objects = parseEntity(item[objectKey], `${where}.${objectKey}`);
      if (!objects.ok) return objects;
      if (ANY_OR_NONE_ONLY.has(action) && objects.value.type === "SOME") {
        return err(`${where}.${objectKey}: type must be either NONE or ANY`);
      }
      if (action === "get_endpoints" && objects.value.type === "SOME") {
        for (const path of objects.value.values) {
          if (!AUTHORIZABLE_ENDPOINTS.has(path)) {
            return err(`${where}.paths: '${path}' is not an authorizable path`);
          }
        }
      }
      list.push({ principals: principals.value, objects: objects.value });
    }
    rules.set(action, list);
  }
  return ok({ permissive, rules });
}

/** Does the rule's entity cover the request's (first-match test; Mesos' match matrix)? */
function matches(request: AclEntity, rule: AclEntity): boolean {
  if (request.type === "NONE") return rule.type === "NONE";
  if (request.type === "ANY") return rule.type === "ANY" || rule.type === "NONE";
  if (rule.type !== "SOME") return true;
  return request.values.every((v) => rule.values.includes(v));
}

/** Once a rule matched: does it allow the request (Mesos' allow matrix)? */
function allows(request: AclEntity, rule: AclEntity): boolean {
  if (request.type === "NONE") return rule.type === "NONE";
  if (request.type === "ANY") return rule.type === "ANY";
  if (rule.type === "ANY") return true;
  if (rule.type === "NONE") return false;
  return request.values.every((v) => rule.values.includes(v));
}

/** Actions whose objects are roles, where `a/%` covers every role below `a`. */
const ROLE_ACTIONS: ReadonlySet<AclAction> = new Set<AclAction>([
  "register_frameworks",
  "reserve_resources",
  "create_volumes",
  "resize_volumes",
  "update_weights",
  "get_quotas",
  "update_quotas",
  "view_roles",
  "create_block_disks",
  "destroy_block_disks",
  "create_mount_disks",
  "destroy_mount_disks",
  "destroy_raw_disks",
]);

function some(value: string): AclEntity {
  return { type: "SOME", values: [value] };
}

/**
 * The local authorizer: the first rule whose subject and object both match
 * the request decides (allowed or denied); when none matches, `permissive`
 * decides. A request without a principal (unauthenticated) is subject ANY,
 * so only rules for `{"type": "ANY"}` principals (or NONE) can match it.
 */
export class LocalAuthorizer {
  constructor(readonly acls: Acls = NO_ACLS) {}

  /** True when no rule exists for `action` and the ACLs are permissive (nothing to check). */
  unrestricted(action: AclAction): boolean {
    return this.acls.permissive && (this.acls.rules.get(action)?.length ?? 0) === 0;
  }

  /**
   * May `principal` perform `action` on `object` (a role, a user, a path...)?
   * `object` undefined means "any object" (e.g. may it view anything at all).
   */
  authorized(action: AclAction, principal: string | undefined, object?: string): boolean {
    if (this.unrestricted(action)) return true;
    const subject = principal === undefined ? ANY : some(principal);
    const target = object === undefined ? ANY : some(object);
    return this.decide(action, subject, target);
  }

  /** Every object must be allowed (a framework registering with several roles). */
  authorizedAll(action: AclAction, principal: string | undefined, objects: readonly string[]) {
    if (objects.length === 0) return this.authorized(action, principal);
    return objects.every((o) => this.authorized(action, principal, o));
  }

  /**
   * True when `principal` may perform `action` on every object: the first
   * rule whose subject covers it allows it for ANY object (or no rule
   * covers it and the ACLs are permissive). Filters skip their work then.
   */
  allowsEverything(action: AclAction, principal: string | undefined): boolean {
    if (this.unrestricted(action)) return true;
    const subject = principal === undefined ? ANY : some(principal);
    for (const rule of this.acls.rules.get(action) ?? []) {
      if (!matches(subject, rule.principals)) continue;
      return rule.objects.type === "ANY" && allows(subject, rule.principals);
    }
    return this.acls.permissive;
  }

  /** A reusable check of one principal and action over many objects (filters). */
  approver(action: AclAction, principal: string | undefined): (object: string) => boolean {
    if (this.unrestricted(action)) return () => true;
    const cache = new Map<string, boolean>();
    return (object) => {
      let v = cache.get(object);
      if (v === undefined) {
        v = this.authorized(action, principal, object);
        cache.set(object, v);
      }
      return v;
    };
  }

  private decide(action: AclAction, subject: AclEntity, object: AclEntity): boolean {
    const rules = this.acls.rules.get(action) ?? [];
    const hierarchical = ROLE_ACTIONS.has(action);
    for (const rule of rules) {
      let ruleObjects = rule.objects;
      if (hierarchical && ruleObjects.type === "SOME" && object.type === "SOME") {
        // `a/%` matches roles nested below `a` (not `a` itself), as a rule of its own.
        const recursive = ruleObjects.values.filter((v) => v.endsWith("/%"));
        if (recursive.length > 0) {
          const role = object.values[0] ?? "";
          if (recursive.some((r) => role.startsWith(r.slice(0, -1)))) ruleObjects = ANY;
          else {
            const plain = ruleObjects.values.filter((v) => !v.endsWith("/%"));
            if (plain.length === 0) continue;
            ruleObjects = { type: "SOME", values: plain };
          }
        }
      }
      if (matches(subject, rule.principals) && matches(object, ruleObjects)) {
        return allows(subject, rule.principals) && allows(object, ruleObjects);
      }
    }
    return this.acls.permissive;
  }
}

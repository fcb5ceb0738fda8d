/**
 * Role names and the role hierarchy (`a/b` is a subrole of `a`), with the
 * validation rules Mesos applies to role names.
 */

const INVALID_ROLE_CHARS = /[\t\n\v\f\r \x7f]/;

/**
 * Validates a role name. Returns undefined when valid, else a one-line reason.
 * `*` is valid (the default role, meaning "unreserved" in reservations).
 */
export function validateRole(role: string): string | undefined {
  if (role === "*") return undefined;
  if (role.startsWith("/")) return `Role '${role}' cannot start with a slash`;
  if (role.endsWith("/")) return `Role '${role}' cannot end with a slash`;
  if (role.includes("//")) return `Role '${role}' cannot contain two adjacent slashes`;
  const components = role.split("/").filter((c) => c !== "");
  if (components.length === 0) return "Role names cannot be the empty string";
  for (const component of components) {
    if (component === ".") return `Role '${role}' cannot include '.' as a component`;
    if (component === "..") return `Role '${role}' cannot include '..' as a component`;
    if (component === "*") return `Role '${role}' cannot include '*' as a component`;
    if (component.startsWith("-")) {
      return `Role component '${component}' is invalid because it starts with a dash`;
    }
    if (INVALID_ROLE_CHARS.test(component)) {
      return `Role component '${component}' is invalid because it contains backspace or whitespace`;
    }
  }
  return undefined;
}

/** True when `role` is a strict descendant of `ancestor` (`a/b/c` of `a` or `a/b`). */
export function isStrictSubroleOf(role: string, ancestor: string): boolean {
  return (
    role.length > ancestor.length &&
    role.charCodeAt(ancestor.length) === 47 /* '/' */ &&
    role.startsWith(ancestor)
  );
}

/** True when `role` equals `ancestor` or is one of its descendants. */
export function isRoleOrSubroleOf(role: string, ancestor: string): boolean {
  return role === ancestor || isStrictSubroleOf(role, ancestor);
}

/** Ancestors of a role, nearest first: `a/b/c` -> `["a/b", "a"]`. */
export function roleAncestors(role: string): string[] {
  const out: string[] = [];
  for (let i = role.length - 1; i >= 0; i--) {
    if (role.charCodeAt(i) === 47) out.push(role.slice(0, i));
  }
  return out;
}

/**
 * Offer constraints (`OfferConstraints` of SUBSCRIBE and UPDATE_FRAMEWORK):
 * per role, groups of attribute constraints. An agent is offered to the
 * framework in that role only if all the constraints of at least one group
 * hold for it. A role without constraints excludes nothing.
 *
 * A constraint selects an agent attribute by name (the first one with that
 * name) or a pseudoattribute (hostname, fault domain region or zone), and
 * applies a predicate: exists, not_exists, text_equals, text_not_equals,
 * text_matches, text_not_matches. As in Mesos, the text predicates hold for
 * any attribute that is not TEXT (schedulers filter those themselves), and
 * regexes must match the whole text. Regexes use RE2 syntax and are matched
 * in linear time (src/common/regex/linear-regex.ts).
 *
 * Agents' attributes and domains do not change while they are registered,
 * so each verdict is remembered per agent.
 */
import { compileRegex, type LinearRegex } from "../../common/regex/linear-regex.js";
import type { AgentInfo } from "./types.js";

/** `mesos.v1.scheduler.AttributeConstraint`, as the allocator reads it. */
export interface AttributeConstraintInfo {
  selector?: { pseudoattribute_type?: string; attribute_name?: string };
  predicate?: {
    exists?: object;
    not_exists?: object;
    text_equals?: { value: string };
    text_not_equals?: { value: string };
    text_matches?: { regex: string };
    text_not_matches?: { regex: string };
  };
}

/** `mesos.v1.scheduler.OfferConstraints`. */
export interface OfferConstraintsInfo {
  role_constraints?: Record<
    string,
    { groups?: { attribute_constraints?: AttributeConstraintInfo[] }[] }
  >;
}

/** Limits on each regex (`--offer_constraints_re2_max_program_size`, `--offer_constraints_re2_max_mem`). */
export interface RegexLimits {
  maxProgramSize: number;
  maxMemBytes: number;
}

/**
 * Bytes per compiled instruction used to hold a program to
 * `--offer_constraints_re2_max_mem`: RE2 gives a program at most two thirds
 * of `max_mem`, at about this size per instruction.
 */
const BYTES_PER_INSTRUCTION = 16;

/** What a selected (pseudo)attribute is: missing, a string, or an attribute of some type. */
type Selected = { kind: "none" } | { kind: "text"; value: string } | { kind: "other" };

type Predicate = (selected: Selected) => boolean;

interface Constraint {
  select(agent: AgentInfo): Selected;
  holds: Predicate;
}

function selectorOf(
  selector: AttributeConstraintInfo["selector"],
): ((agent: AgentInfo) => Selected) | string {
  const name = selector?.attribute_name;
  if (name !== undefined) {
    return (agent) => {
      for (const raw of agent.attributes ?? []) {
        const a = raw as { name?: string; type?: string; text?: { value?: string } };
        if (a.name !== name) continue;
        return a.type === "TEXT" ? { kind: "text", value: a.text?.value ?? "" } : { kind: "other" };
      }
      return { kind: "none" };
    };
  }
  const text = (value: string | undefined): Selected =>
    value === undefined ? { kind: "none" } : { kind: "text", value };
  switch (selector?.pseudoattribute_type) {
    case "HOSTNAME":
      return (agent) => text(agent.hostname ?? "");
    case "REGION":
      return (agent) => text(agent.domain?.fault_domain?.region?.name);
    case "ZONE":
      return (agent) => text(agent.domain?.fault_domain?.zone?.name);
    case undefined:
      // Mesos' wording for a selector with neither field (an unknown enum name in JSON lands here too).
      return (
        "Exactly one of 'AttributeConstraint::Selector::name' or " +
        "'AttributeConstraint::Selector::pseudoattribute_type' must be set"
      );
    default:
      return "Unknown pseudoattribute type";
  }
}

function regexOf(pattern: string, limits: RegexLimits): LinearRegex | string {
  const compiled = compileRegex(pattern, {
    maxInstructions: Math.floor((limits.maxMemBytes * 2) / 3 / BYTES_PER_INSTRUCTION),
  });
  if (!compiled.ok) {
    return `Failed to construct regex from pattern '${pattern}': ${compiled.error}`;
  }
  const size = compiled.regex.programSize;
  if (size > limits.maxProgramSize) {
    return (
      `Regex '${pattern}' is too complex: program size of ${size} is larger than ` +
      `maximum of ${limits.maxProgramSize} allowed`
    );
  }
  return compiled.regex;
}

function predicateOf(
  predicate: AttributeConstraintInfo["predicate"],
  limits: RegexLimits,
): Predicate | string {
  if (predicate?.exists !== undefined) return (s) => s.kind !== "none";
  if (predicate?.not_exists !== undefined) return (s) => s.kind === "none";
  const equals = predicate?.text_equals;
  if (equals !== undefined) {
    return (s) => s.kind === "other" || (s.kind === "text" && s.value === equals.value);
  }
  const notEquals = predicate?.text_not_equals;
  if (notEquals !== undefined) {
    return (s) => s.kind !== "text" || s.value !== notEquals.value;
  }
  const matches = predicate?.text_matches;
  if (matches !== undefined) {
    const regex = regexOf(matches.regex, limits);
    if (typeof regex === "string") return regex;
    return (s) => s.kind === "other" || (s.kind === "text" && regex.fullMatch(s.value));
  }
  const notMatches = predicate?.text_not_matches;
  if (notMatches !== undefined) {
    const regex = regexOf(notMatches.regex, limits);
    if (typeof regex === "string") return regex;
    return (s) => s.kind !== "text" || !regex.fullMatch(s.value);
  }
  return "Unknown predicate type";
}

/** A framework's offer constraints, ready to test agents against. */
export class OfferConstraintsFilter {
  /** Verdicts by role, per agent (its info object). */
  private readonly verdicts = new Map<string, WeakMap<AgentInfo, boolean>>();

  private constructor(private readonly groupsByRole: ReadonlyMap<string, Constraint[][]>) {}

  /** Builds the filter, or says (as Mesos does) why the constraints are not valid. */
  static create(
    constraints: OfferConstraintsInfo,
    limits: RegexLimits,
  ): { ok: true; filter: OfferConstraintsFilter } | { ok: false; error: string } {
    const byRole = new Map<string, Constraint[][]>();
    for (const [role, roleConstraints] of Object.entries(constraints.role_constraints ?? {})) {
      const groups = roleConstraints.groups ?? [];
      if (groups.length === 0) {
        return {
          ok: false,
          error: `'OfferConstraints::role_constraints' has an empty 'RoleConstraints::groups' for role ${role}`,
        };
      }
      const built: Constraint[][] = [];
      for (const group of groups) {
        const list = group.attribute_constraints ?? [];
        if (list.length === 0) {
          return {
            ok: false,
            error: `'OfferConstraints::RoleConstraints::groups' for role ${role} contains an empty RoleConstraints::Group`,
          };
        }
        const constraintsOfGroup: Constraint[] = [];
        for (const c of list) {
          const select = selectorOf(c.selector);
          const holds = typeof select === "string" ? select : predicateOf(c.predicate, limits);
          if (typeof select === "string" || typeof holds === "string") {
            const why = typeof select === "string" ? select : (holds as string);
            return {
              ok: false,
              error: `A role ${role} has an invalid 'AttributeConstraint': ${why}`,
            };
          }
          constraintsOfGroup.push({ select, holds });
        }
        built.push(constraintsOfGroup);
      }
      byRole.set(role, built);
    }
    return { ok: true, filter: new OfferConstraintsFilter(byRole) };
  }

  /** True when the constraints are empty: nothing is ever excluded. */
  get empty(): boolean {
    return this.groupsByRole.size === 0;
  }

  /** Whether the framework must not be offered `agent` in `role`. */
  isAgentExcluded(role: string, agent: AgentInfo): boolean {
    const groups = this.groupsByRole.get(role);
    if (groups === undefined) return false;
    let verdicts = this.verdicts.get(role);
    if (verdicts === undefined) {
      verdicts = new WeakMap();
      this.verdicts.set(role, verdicts);
    }
    let excluded = verdicts.get(agent);
    if (excluded === undefined) {
      excluded = !groups.some((group) => group.every((c) => c.holds(c.select(agent))));
      verdicts.set(agent, excluded);
    }
    return excluded;
  }
}

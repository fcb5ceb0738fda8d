import assert from "node:assert/strict";
import { test } from "node:test";
import {
  AGENT_CAPABILITIES,
  frameworkInfo,
  makeAllocator,
  res,
} from "../../bench/lib/allocator-fixtures.js";
import {
  type AttributeConstraintInfo,
  OfferConstraintsFilter,
  type OfferConstraintsInfo,
} from "../../src/master/allocator/offer-constraints.js";
import type { AgentInfo } from "../../src/master/allocator/types.js";

const LIMITS = { maxProgramSize: 100, maxMemBytes: 4096 };

function text(name: string, value: string) {
  return { name, type: "TEXT", text: { value } };
}

const rack1: AgentInfo = {
  hostname: "node-1.example",
  attributes: [text("rack", "r1"), { name: "cores", type: "SCALAR", scalar: { value: 8 } }],
  domain: { fault_domain: { region: { name: "eu" }, zone: { name: "eu-a" } } },
};
const rack2: AgentInfo = { hostname: "node-2.example", attributes: [text("rack", "r2")] };
const bare: AgentInfo = { hostname: "node-3.example", attributes: [] };

function filterOf(role: string, groups: AttributeConstraintInfo[][]): OfferConstraintsFilter {
  const built = OfferConstraintsFilter.create(
    {
      role_constraints: {
        [role]: { groups: groups.map((attribute_constraints) => ({ attribute_constraints })) },
      },
    },
    LIMITS,
  );
  assert.ok(built.ok, built.ok ? "" : built.error);
  return built.filter;
}

const attr = (name: string) => ({ attribute_name: name });

/** Which of rack1, rack2, bare the constraint lets through for role "r". */
function admitted(groups: AttributeConstraintInfo[][]): string[] {
  const f = filterOf("r", groups);
  return (
    [
      ["rack1", rack1],
      ["rack2", rack2],
      ["bare", bare],
    ] as const
  )
    .filter(([, agent]) => !f.isAgentExcluded("r", agent))
    .map(([name]) => name);
}

test("offer constraints: the predicates on attributes, as Mesos evaluates them", () => {
  assert.deepEqual(admitted([[{ selector: attr("rack"), predicate: { exists: {} } }]]), [
    "rack1",
    "rack2",
  ]);
  assert.deepEqual(admitted([[{ selector: attr("rack"), predicate: { not_exists: {} } }]]), [
    "bare",
  ]);
  assert.deepEqual(
    admitted([[{ selector: attr("rack"), predicate: { text_equals: { value: "r1" } } }]]),
    ["rack1"],
  );
  assert.deepEqual(
    admitted([[{ selector: attr("rack"), predicate: { text_not_equals: { value: "r1" } } }]]),
    ["rack2", "bare"],
  );
  assert.deepEqual(
    admitted([[{ selector: attr("rack"), predicate: { text_matches: { regex: "r[0-9]" } } }]]),
    ["rack1", "rack2"],
  );
  assert.deepEqual(
    admitted([[{ selector: attr("rack"), predicate: { text_not_matches: { regex: "r1" } } }]]),
    ["rack2", "bare"],
  );
  // A non-TEXT attribute satisfies every text predicate (the scheduler filters those itself).
  assert.deepEqual(
    admitted([[{ selector: attr("cores"), predicate: { text_equals: { value: "4" } } }]]),
    ["rack1"],
  );
  // Regexes match the whole text.
  assert.deepEqual(
    admitted([[{ selector: attr("rack"), predicate: { text_matches: { regex: "r" } } }]]),
    [],
  );
});

test("offer constraints: hostname, region and zone pseudoattributes", () => {
  const pseudo = (type: string) => ({ pseudoattribute_type: type });
  assert.deepEqual(
    admitted([
      [{ selector: pseudo("HOSTNAME"), predicate: { text_matches: { regex: "node-[12]\\..*" } } }],
    ]),
    ["rack1", "rack2"],
  );
  assert.deepEqual(
    admitted([[{ selector: pseudo("REGION"), predicate: { text_equals: { value: "eu" } } }]]),
    ["rack1"],
  );
  assert.deepEqual(admitted([[{ selector: pseudo("ZONE"), predicate: { not_exists: {} } }]]), [
    "rack2",
    "bare",
  ]);
});

test("offer constraints: groups are ORed, constraints within a group ANDed; other roles are not constrained", () => {
  const groups: AttributeConstraintInfo[][] = [
    [
      { selector: attr("rack"), predicate: { exists: {} } },
      { selector: attr("rack"), predicate: { text_equals: { value: "r2" } } },
    ],
    [{ selector: attr("rack"), predicate: { not_exists: {} } }],
  ];
  assert.deepEqual(admitted(groups), ["rack2", "bare"]);
  assert.equal(filterOf("r", groups).isAgentExcluded("other", rack1), false);
});

test("offer constraints: invalid constraints are refused with Mesos' reasons", () => {
  const error = (constraints: OfferConstraintsInfo, limits = LIMITS) => {
    const built = OfferConstraintsFilter.create(constraints, limits);
    return built.ok ? "accepted" : built.error;
  };
  assert.match(
    error({ role_constraints: { r: { groups: [] } } }),
    /empty 'RoleConstraints::groups'/,
  );
  assert.match(
    error({ role_constraints: { r: { groups: [{ attribute_constraints: [] }] } } }),
    /contains an empty RoleConstraints::Group/,
  );
  const one = (c: AttributeConstraintInfo) => ({
    role_constraints: { r: { groups: [{ attribute_constraints: [c] }] } },
  });
  assert.match(
    error(one({ predicate: { exists: {} } })),
    /: Exactly one of 'AttributeConstraint::Selector::name' or 'AttributeConstraint::Selector::pseudoattribute_type' must be set$/,
  );
  assert.match(
    error(one({ selector: { pseudoattribute_type: "UNKNOWN" }, predicate: { exists: {} } })),
    /Unknown pseudoattribute type/,
  );
  assert.match(error(one({ selector: attr("a") })), /Unknown predicate type/);
  assert.match(
    error(one({ selector: attr("a"), predicate: { text_matches: { regex: "(a" } } })),
    /^A role r has an invalid 'AttributeConstraint': Failed to construct regex from pattern '\(a': missing \)/,
  );
  assert.match(
    error(one({ selector: attr("a"), predicate: { text_matches: { regex: "a{50}" } } }), {
      maxProgramSize: 20,
      maxMemBytes: 4096,
    }),
    /Regex 'a\{50\}' is too complex: program size of \d+ is larger than maximum of 20 allowed/,
  );
  assert.equal(error({}), "accepted");
});

test("offer constraints: the allocator offers a constrained role only the agents that satisfy it", () => {
  const { allocator } = makeAllocator();
  for (const [id, rack] of [
    ["a1", "r1"],
    ["a2", "r2"],
  ] as const) {
    allocator.addAgent(
      id,
      { id: { value: id }, hostname: id, attributes: [text("rack", rack)] },
      AGENT_CAPABILITIES,
      undefined,
      res("cpus:4;mem:1024"),
    );
  }
  const r2Only = filterOf("web", [
    [{ selector: attr("rack"), predicate: { text_equals: { value: "r2" } } }],
  ]);
  allocator.addFramework("f", frameworkInfo("f", ["web"]), new Map(), true, {
    offerConstraints: r2Only,
  });
  const first = allocator.allocate().offers;
  assert.deepEqual(
    first.map((o) => o.agentId),
    ["a2"],
  );
  assert.equal(allocator.explain("f").summary.includes("excluded by offer constraints"), true);
  assert.deepEqual(allocator.offerConstraintsDebug().frameworks.f, {
    suppressed_roles: [],
    excluded_by_attribute_constraints: { web: ["a1"] },
  });
  // UPDATE_FRAMEWORK without constraints: a1 becomes offerable.
  allocator.updateFramework("f", frameworkInfo("f", ["web"]), {});
  assert.deepEqual(
    allocator.allocate().offers.map((o) => o.agentId),
    ["a1"],
  );
});

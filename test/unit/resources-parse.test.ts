import assert from "node:assert/strict";
import { test } from "node:test";
import {
  detectAgentResources,
  downgradeResource,
  type HostResourceProbe,
  parseResources,
  Resources,
  resourcesFromString,
  resourcesSummaryJson,
  toEndpointFormat,
} from "../../src/common/resources/index.js";

function ok<T>(r: { ok: true; value: T } | { ok: false; error: string }): T {
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

function err(r: { ok: boolean; error?: string }): string {
  assert.equal(r.ok, false, "expected an error");
  return r.error ?? "";
}

test("--resources text: every form parses to the expected text form", () => {
  const r = ok(
    parseResources("cpus:4;mem:2048;cpus(ads):8;ports:[31000-32000,40000-40100];bugs:{a,b,c}"),
  );
  assert.equal(
    r.toString(),
    "cpus:4; mem:2048; cpus(reservations: [(STATIC,ads)]):8; ports:[31000-32000, 40000-40100]; bugs:{a, b, c}",
  );
});

test("--resources text: whitespace around names/roles and inside values is ignored", () => {
  const r = ok(parseResources(" cpus ( ads ) : 1 . 5 ;; mem: 10;ports:[1 - 2, 3-4];"));
  assert.equal(r.toString(), "cpus(reservations: [(STATIC,ads)]):1.5; mem:10; ports:[1-4]");
});

test("--resources text: the default role applies when omitted, '*' means unreserved", () => {
  const r = ok(parseResources("cpus:1;mem(*):2", "web"));
  assert.equal(r.toString(), "cpus(reservations: [(STATIC,web)]):1; mem:2");
});

test("--resources text: scalars are rounded to 0.001 on parse", () => {
  assert.equal(ok(parseResources("cpus:0.12345")).cpus(), 0.123);
});

test("--resources text: zero amounts are accepted and dropped", () => {
  assert.equal(ok(parseResources("cpus:0;mem:1")).toString(), "mem:1");
  assert.equal(ok(parseResources("")).toString(), "{}");
});

test("--resources text: bad input gives one-line error values", () => {
  const cases: [string, RegExp][] = [
    ["cpus:abc", /^Bad value for resource 'cpus': 'abc' is not a number/],
    ["cpus:-1", /^Bad value for resource 'cpus': '-1' is negative/],
    ["cpus", /missing or extra ':' in 'cpus'/],
    ["cpus:1:2", /missing or extra ':'/],
    ["cpus(a:1", /mismatched parentheses/],
    ["cpus)a(:1", /mismatched parentheses/],
    ["ports:[1-2", /mismatched brackets/],
    ["ports:[2-1]", /begin > end/],
    ["ports:[a-b]", /non-negative integers/],
    ["bugs:{a,a}", /duplicated elements/],
    ["cpus():1", /Role names cannot be the empty string/],
    ["cpus(a b):1", /whitespace/],
    ["cpus(*/a):1", /'\*' as a component/],
    ["cpus:1;cpus:[1-2]", /same name \('cpus'\) but different types/],
    // SCALAR and SET once shared a type tag, so the set merged into the scalar and vanished.
    ["foo:1;foo:{a}", /same name \('foo'\) but different types/],
    ["foo:{a};foo:1", /same name \('foo'\) but different types/],
    ["cpus:1e-320", /subnormal values are not supported: '1e-320'/],
    [":1", /missing or extra ':'/],
    [" :1", /Empty resource name/],
    ["cpus:1; ;mem:1", /missing or extra ':' in ' '/],
  ];
  for (const [text, reason] of cases) {
    const e = err(parseResources(text));
    assert.match(e, reason, text);
    assert.ok(!e.includes("\n"), text);
  }
  assert.match(err(parseResources("cpus:1", "a//b")), /Invalid default role/);
});

test("--resources JSON: an array is parsed as Resource objects with the default role", () => {
  const text = JSON.stringify([
    { name: "cpus", type: "SCALAR", scalar: { value: 2 } },
    { name: "mem", type: "SCALAR", scalar: { value: 512 }, role: "web" },
    {
      name: "disk",
      type: "SCALAR",
      scalar: { value: 100 },
      reservations: [{ type: "STATIC", role: "db" }],
    },
    { name: "ports", type: "RANGES", ranges: { range: [{ begin: 1, end: 5 }] }, unknown_field: 1 },
  ]);
  const r = ok(parseResources(text, "dflt"));
  assert.equal(
    r.toString(),
    "cpus(reservations: [(STATIC,dflt)]):2; mem(reservations: [(STATIC,web)]):512; " +
      "disk(reservations: [(STATIC,db)]):100; ports(reservations: [(STATIC,dflt)]):[1-5]",
  );
});

test("--resources JSON: malformed objects and forbidden resources are errors", () => {
  assert.match(
    err(parseResources('[{"name":"cpus"}]')),
    /not formatted properly: '\[0\]\.type' is required/,
  );
  assert.match(err(parseResources('[{"name":"cpus","type":"BOGUS"}]')), /must be one of/);
  assert.match(err(parseResources("[1]")), /must be an object/);
  assert.match(
    err(parseResources('[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"revocable":{}}]')),
    /Revocable resources cannot be specified/,
  );
  assert.match(
    err(
      parseResources(
        '[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"role":"a","reservation":{"principal":"p"}}]',
      ),
    ),
    /Dynamic reservations cannot be specified/,
  );
  assert.match(
    err(
      parseResources(
        '[{"name":"disk","type":"SCALAR","scalar":{"value":1},"role":"a","disk":{"persistence":{"id":"x"}}}]',
      ),
    ),
    /Persistent volumes cannot be specified/,
  );
});

test("--resources: text that is not a JSON array is read as the text form", () => {
  assert.equal(ok(resourcesFromString("[ not json ]:1")).length, 1);
  assert.equal(
    ok(resourcesFromString('[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]')).length,
    1,
  );
});

test("summary JSON: always cpus/gpus/mem/disk, ranges and sets as text, revocable suffixed", () => {
  const r = ok(parseResources("cpus:2;mem:1961;ports:[31000-32000];cpus(a):1;bugs:{x,y}")).plus({
    name: "cpus",
    type: "SCALAR",
    scalar: { value: 0.5 },
    revocable: {},
  });
  assert.deepEqual(resourcesSummaryJson(r), {
    bugs: "{x, y}",
    cpus: 3,
    cpus_revocable: 0.5,
    disk: 0,
    gpus: 0,
    mem: 1961,
    ports: "[31000-32000]",
  });
  assert.equal(
    JSON.stringify(resourcesSummaryJson(Resources.empty())),
    '{"cpus":0,"disk":0,"gpus":0,"mem":0}',
  );
  assert.deepEqual(
    resourcesSummaryJson([ok(parseResources("cpus:0.1")), ok(parseResources("cpus:0.2"))]).cpus,
    0.3,
  );
});

test("endpoint JSON: unreserved gets role '*', one reservation the legacy fields, refined only the stack", () => {
  const r = ok(parseResources("cpus:1;mem(a):2"))
    .plus({
      name: "disk",
      type: "SCALAR",
      scalar: { value: 3 },
      reservations: [{ type: "DYNAMIC", role: "b" }],
    })
    .plus({
      name: "gpus",
      type: "SCALAR",
      scalar: { value: 1 },
      reservations: [
        { type: "DYNAMIC", role: "b", principal: "p", labels: { labels: [{ key: "k" }] } },
        { type: "DYNAMIC", role: "b/c" },
      ],
    });
  assert.deepEqual(r.toEndpointJson(), [
    { name: "cpus", type: "SCALAR", scalar: { value: 1 }, role: "*" },
    {
      name: "mem",
      type: "SCALAR",
      scalar: { value: 2 },
      role: "a",
      reservations: [{ type: "STATIC", role: "a" }],
    },
    {
      name: "disk",
      type: "SCALAR",
      scalar: { value: 3 },
      role: "b",
      reservation: {},
      reservations: [{ type: "DYNAMIC", role: "b" }],
    },
    {
      name: "gpus",
      type: "SCALAR",
      scalar: { value: 1 },
      reservations: [
        { type: "DYNAMIC", role: "b", principal: "p", labels: { labels: [{ key: "k" }] } },
        { type: "DYNAMIC", role: "b/c" },
      ],
    },
  ]);
  // Round trip: endpoint format reads back to the same resources.
  assert.ok(Resources.from(r.toEndpointJson()).equals(r));
});

test("endpoint JSON: dynamic reservation keeps principal and labels in the legacy field", () => {
  const out = toEndpointFormat({
    name: "cpus",
    type: "SCALAR",
    scalar: { value: 1 },
    reservations: [
      {
        type: "DYNAMIC",
        role: "a",
        principal: "p",
        labels: { labels: [{ key: "k", value: "v" }] },
      },
    ],
  });
  assert.deepEqual(out.reservation, {
    principal: "p",
    labels: { labels: [{ key: "k", value: "v" }] },
  });
  assert.equal(out.role, "a");
});

test("pre-refinement format: refined reservations cannot be downgraded", () => {
  const refined = {
    name: "cpus",
    type: "SCALAR" as const,
    scalar: { value: 1 },
    reservations: [
      { type: "DYNAMIC" as const, role: "a" },
      { type: "DYNAMIC" as const, role: "a/b" },
    ],
  };
  assert.equal(downgradeResource(refined).ok, false);
  const single = ok(
    downgradeResource({ ...refined, reservations: [{ type: "STATIC", role: "a" }] }),
  );
  assert.deepEqual(single, { name: "cpus", type: "SCALAR", scalar: { value: 1 }, role: "a" });
});

const GB = 1024 * 1024 * 1024;

function probe(cpus: number, mem: number, disk: number): HostResourceProbe {
  return {
    cpuCount: () => ({ ok: true, value: cpus }),
    totalMemoryBytes: () => ({ ok: true, value: mem }),
    filesystemSizeBytes: () => ({ ok: true, value: disk }),
  };
}

test("agent resources: detected defaults fill only the names --resources leaves out", () => {
  const r = ok(detectAgentResources({ workDir: "/w", probe: probe(8, 16 * GB, 100 * GB) }));
  assert.equal(r.toString(), "cpus:8; mem:15360; disk:97280; ports:[31000-32000]");
  const given = ok(
    detectAgentResources({
      resources: "cpus:2;ports:[1-2]",
      workDir: "/w",
      probe: probe(8, 16 * GB, 100 * GB),
    }),
  );
  assert.equal(given.toString(), "cpus:2; ports:[1-2]; mem:15360; disk:97280");
});

test("agent resources: small hosts get half of memory and disk", () => {
  const r = ok(detectAgentResources({ workDir: "/w", probe: probe(1, 1 * GB, 8 * GB) }));
  assert.equal(r.toString(), "cpus:1; mem:512; disk:4096; ports:[31000-32000]");
});

test("agent resources: 'cpus:0' disables CPU detection", () => {
  const r = ok(
    detectAgentResources({ resources: "cpus:0", workDir: "/w", probe: probe(8, 4 * GB, 20 * GB) }),
  );
  assert.equal(r.cpus(), undefined);
  assert.equal(r.mem(), 3072);
  assert.equal(r.disk(), 15360);
});

test("agent resources: unreadable host facts fall back to Mesos' defaults with a warning", () => {
  const warnings: string[] = [];
  const failing: HostResourceProbe = {
    cpuCount: () => ({ ok: false, error: "no cpus" }),
    totalMemoryBytes: () => ({ ok: false, error: "no mem" }),
    filesystemSizeBytes: () => ({ ok: false, error: "no fs" }),
  };
  const r = ok(
    detectAgentResources({
      workDir: "/w",
      probe: failing,
      logger: { info() {}, warn: (m) => warnings.push(m), error() {}, verbose() {} },
    }),
  );
  assert.equal(r.toString(), "cpus:1; mem:1024; disk:10240; ports:[31000-32000]");
  assert.equal(warnings.length, 3);
});

test("agent resources: the default role reserves detected resources; bad --resources is an error", () => {
  const r = ok(
    detectAgentResources({ defaultRole: "a", workDir: "/w", probe: probe(1, 4 * GB, 20 * GB) }),
  );
  assert.equal(r.reserved("a").size, 4);
  assert.equal(
    detectAgentResources({ resources: "cpus:x", workDir: "/w", probe: probe(1, 1, 1) }).ok,
    false,
  );
});

test("agent resources: the system probe reads this host", () => {
  const r = ok(detectAgentResources({ workDir: "/tmp" }));
  assert.ok((r.cpus() ?? 0) >= 1);
  assert.ok((r.mem() ?? 0) > 0);
  assert.ok((r.disk() ?? 0) > 0);
});

test("resources: a scalar and a set of one name stay two resources in a collection", () => {
  const r = Resources.from([
    { name: "foo", type: "SCALAR", scalar: { value: 1 } },
    { name: "foo", type: "SET", set: { item: ["a"] } },
    { name: "foo", type: "SET", set: { item: ["b"] } },
  ]);
  assert.equal(r.toString(), "foo:1; foo:{a, b}");
  assert.equal(
    r.minus({ name: "foo", type: "SET", set: { item: ["a"] } }).toString(),
    "foo:1; foo:{b}",
  );
});

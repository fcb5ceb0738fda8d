import assert from "node:assert/strict";
import { test } from "node:test";
import {
  formatResource,
  parseResources,
  type Resource,
  Resources,
  reservationRole,
  upgradeResource,
  validateResource,
} from "../../src/common/resources/index.js";

function parse(text: string, role = "*"): Resources {
  const r = parseResources(text, role);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

const cpus = (value: number, extra: Partial<Resource> = {}): Resource => ({
  name: "cpus",
  type: "SCALAR",
  scalar: { value },
  ...extra,
});

const dynamic = (role: string, principal?: string) =>
  principal === undefined
    ? { type: "DYNAMIC" as const, role }
    : { type: "DYNAMIC" as const, role, principal };

const volume = (id: string, size: number, shared = false): Resource => ({
  name: "disk",
  type: "SCALAR",
  scalar: { value: size },
  reservations: [dynamic("db", "ops")],
  disk: { persistence: { id }, volume: { mode: "RW", container_path: "data" } },
  ...(shared ? { shared: {} } : {}),
});

test("resources: addable resources merge, others stay apart", () => {
  const r = Resources.from([
    cpus(1),
    cpus(2),
    cpus(3, { reservations: [{ type: "STATIC", role: "a" }] }),
  ]);
  assert.equal(r.size, 2);
  assert.equal(r.cpus(), 6);
  assert.equal(r.unreserved().cpus(), 3);
  assert.equal(r.reserved("a").cpus(), 3);
});

test("resources: invalid and empty resources are ignored by from(), rejected by tryFrom()", () => {
  const r = Resources.from([cpus(-1), cpus(0), { name: "", type: "SCALAR", scalar: { value: 1 } }]);
  assert.ok(r.isEmpty());
  const t = Resources.tryFrom([cpus(1), cpus(-1)]);
  assert.equal(t.ok, false);
  assert.match(
    t.ok ? "" : t.error,
    /Resource 'cpus:-1' is invalid: Invalid scalar resource: value <= 0/,
  );
});

test("resources: scalars from objects are rounded to 0.001 and sums do not drift", () => {
  const r = Resources.from([cpus(0.12345), cpus(0.1), cpus(0.2)]);
  assert.equal(r.cpus(), 0.423);
  assert.deepEqual(r.toArray()[0]?.scalar, { value: 0.423 });
});

test("resources: subtracting more than present removes the resource", () => {
  const r = parse("cpus:2;mem:100").minus(parse("cpus:3"));
  assert.equal(r.toString(), "mem:100");
});

test("resources: plus/minus leave the receiver unchanged; add/subtract change it", () => {
  const a = parse("cpus:2");
  const b = a.plus(parse("cpus:1"));
  assert.equal(a.cpus(), 2);
  assert.equal(b.cpus(), 3);
  const c = a.clone().add(parse("mem:5")).subtract(parse("cpus:1"));
  assert.equal(c.toString(), "cpus:1; mem:5");
  assert.equal(a.toString(), "cpus:2");
});

test("resources: contains compares per reservation", () => {
  const r = parse("cpus:4;cpus(ads):2;ports:[31000-32000]");
  assert.ok(r.contains(parse("cpus:4;ports:[31000-31010]")));
  assert.ok(!r.contains(parse("cpus:5")));
  assert.ok(!r.contains(parse("cpus(other):1")));
  assert.ok(!r.contains(parse("ports:[30999-31000]")));
  assert.ok(r.contains(cpus(1)));
  assert.ok(!r.contains(cpus(-1)));
});

test("resources: equality ignores order and coalescing", () => {
  assert.ok(
    parse("cpus:1;mem:2;ports:[1-2,3-4]").equals(parse("ports:[1-4];mem:2;cpus:0.5;cpus:0.5")),
  );
  assert.ok(!parse("cpus:1").equals(parse("cpus:1;mem:1")));
});

test("resources: allocatableTo follows the role hierarchy", () => {
  const r = parse("cpus:1;cpus(a):2;cpus(a/b):4;cpus(c):8");
  assert.equal(r.allocatableTo("a").cpus(), 3);
  assert.equal(r.allocatableTo("a/b").cpus(), 7);
  assert.equal(r.allocatableTo("a/b/c").cpus(), 7);
  assert.equal(r.allocatableTo("ab").cpus(), 1);
  assert.equal(r.reservedToRoleSubtree("a").cpus(), 6);
});

test("resources: reservation refinement stack push/pop and reservationRole", () => {
  const base = parse("cpus(a):2");
  const refined = base.pushReservation({ type: "DYNAMIC", role: "a/b", principal: "p" });
  const only = refined.toArray()[0]!;
  assert.equal(reservationRole(only), "a/b");
  assert.equal(refined.toString(), "cpus(reservations: [(STATIC,a),(DYNAMIC,a/b,p)]):2");
  assert.ok(refined.popReservation().equals(base));
  assert.ok(refined.toUnreserved().equals(parse("cpus:2")));
  assert.ok(parse("cpus:1;cpus(a):1").flatten().equals(parse("cpus:2")));
  assert.ok(parse("cpus:1;cpus(a):1").flatten("b").equals(parse("cpus(b):2")));
});

test("resources: allocate sets allocation_info and unallocated clears it", () => {
  const r = parse("cpus:1;mem:10").allocate("web");
  assert.equal(r.toString(), "cpus(allocated: web):1; mem(allocated: web):10");
  assert.ok(!r.contains(parse("cpus:1")));
  assert.ok(r.unallocated().equals(parse("cpus:1;mem:10")));
  assert.deepEqual([...r.allocations().keys()], ["web"]);
  assert.equal(r.allocatedToRoleSubtree("web").size, 2);
});

test("resources: revocable, shared and persistent volume filters", () => {
  const r = Resources.from([
    cpus(1),
    cpus(2, { revocable: {} }),
    volume("v1", 10),
    volume("v2", 5, true),
  ]);
  assert.equal(r.revocable().cpus(), 2);
  assert.equal(r.nonRevocable().cpus(), 1);
  assert.equal(r.persistentVolumes().size, 2);
  assert.equal(r.shared().size, 1);
  assert.equal(r.nonShared().size, 3);
});

test("resources: persistent volumes never merge and subtract only when equal", () => {
  const one = Resources.from(volume("v1", 10));
  const two = one.plus(volume("v1", 10));
  assert.equal(two.size, 2);
  assert.equal(two.minus(volume("v1", 10)).size, 1);
  assert.equal(one.minus(volume("v1", 5)).size, 1);
  assert.ok(!one.contains(Resources.from(volume("v1", 5))));
  assert.ok(two.contains(two));
  assert.ok(!one.contains(two));
});

test("resources: a shared resource is counted, added and subtracted by copies", () => {
  const shared = volume("s1", 10, true);
  const r = Resources.from([shared, shared]);
  assert.equal(r.size, 1);
  assert.equal(r.count(shared), 2);
  assert.ok(r.contains(Resources.from([shared, shared])));
  assert.ok(!r.contains(Resources.from([shared, shared, shared])));
  const less = r.minus(shared);
  assert.equal(less.count(shared), 1);
  assert.ok(less.minus(shared).isEmpty());
  assert.match(r.toString(), /<SHARED>:10<2>$/);
});

test("resources: adding a collection to itself doubles it (exclusive entries included)", () => {
  const r = Resources.from([cpus(1), volume("v1", 10)]);
  r.add(r);
  assert.equal(r.cpus(), 2);
  assert.equal(r.persistentVolumes().size, 2);
  r.subtract(r);
  assert.ok(r.isEmpty());
});

test("resources: MOUNT disks are exclusive", () => {
  const mount = (size: number): Resource => ({
    name: "disk",
    type: "SCALAR",
    scalar: { value: size },
    disk: { source: { type: "MOUNT", mount: { root: "/mnt/a" } } },
  });
  const r = Resources.from([mount(100)]);
  assert.ok(!r.contains(mount(50)));
  assert.ok(r.contains(mount(100)));
  assert.equal(r.minus(mount(50)).size, 1);
  assert.ok(r.minus(mount(100)).isEmpty());
  assert.equal(r.toString(), "disk[MOUNT:/mnt/a]:100");
});

test("resources: scalar getters and names", () => {
  const r = parse("cpus:1.5;gpus:1;mem:1024;disk:2048;ports:[1-2];ephemeral_ports:[5-6];bugs:{a}");
  assert.equal(r.cpus(), 1.5);
  assert.equal(r.gpus(), 1);
  assert.equal(r.mem(), 1024);
  assert.equal(r.disk(), 2048);
  assert.deepEqual(r.ports(), { range: [{ begin: 1, end: 2 }] });
  assert.deepEqual(r.ephemeralPorts(), { range: [{ begin: 5, end: 6 }] });
  assert.deepEqual(r.getSet("bugs"), ["a"]);
  assert.equal(parse("mem:1").cpus(), undefined);
  assert.deepEqual([...r.names()].sort(), [
    "bugs",
    "cpus",
    "disk",
    "ephemeral_ports",
    "gpus",
    "mem",
    "ports",
  ]);
  assert.deepEqual(r.scalarQuantities().get("cpus"), 1.5);
  assert.equal(
    r.createStrippedScalarQuantity().toString(),
    "cpus:1.5; gpus:1; mem:1024; disk:2048",
  );
});

test("resources: resources handed out are frozen", () => {
  const [first] = parse("cpus:1");
  assert.ok(first !== undefined && Object.isFrozen(first));
  assert.throws(() => {
    (first as { name: string }).name = "mem";
  }, TypeError);
});

test("resources: large collections (indexed) keep Mesos semantics", () => {
  const many: Resource[] = [];
  for (let i = 0; i < 50; i++)
    many.push(cpus(1, { reservations: [{ type: "STATIC", role: `r${i}` }] }));
  const r = Resources.from(many);
  assert.equal(r.size, 50);
  const doubled = r.plus(r);
  assert.equal(doubled.size, 50);
  assert.equal(doubled.cpus(), 100);
  assert.ok(doubled.contains(r));
  assert.ok(doubled.minus(r).equals(r));
  assert.ok(doubled.minus(r).minus(r).isEmpty());
});

test("resource validation: the Mesos rules, with reasons", () => {
  const cases: [Resource, RegExp][] = [
    [{ name: "", type: "SCALAR", scalar: { value: 1 } }, /Empty resource name/],
    [{ name: "x", type: "TEXT" as Resource["type"] }, /Unsupported resource type/],
    [{ name: "x", type: "SCALAR" }, /Invalid scalar resource/],
    [cpus(0.0001), /value <= 0/],
    [{ name: "p", type: "RANGES", ranges: { range: [{ begin: 5, end: 1 }] } }, /begin > end/],
    [
      {
        name: "p",
        type: "RANGES",
        ranges: {
          range: [
            { begin: 1, end: 5 },
            { begin: 3, end: 9 },
          ],
        },
      },
      /overlapping/,
    ],
    [{ name: "s", type: "SET", set: { item: ["a", "a"] } }, /duplicated/],
    [cpus(1, { disk: {} }), /DiskInfo should not be set for cpus/],
    [cpus(1, { role: "*", reservation: {} }), /cannot be dynamically reserved/],
    [cpus(1, { reservations: [{ role: "a" }] }), /type' field must be set/],
    [cpus(1, { reservations: [{ type: "STATIC", role: "*" }] }), /cannot be reserved/],
    [
      cpus(1, {
        reservations: [
          { type: "STATIC", role: "a" },
          { type: "STATIC", role: "a/b" },
        ],
      }),
      /cannot be STATIC/,
    ],
    [
      cpus(1, { reservations: [{ type: "STATIC", role: "a" }, dynamic("b")] }),
      /not a refinement of 'a'/,
    ],
    [cpus(1, { shared: {} }), /cpus cannot be shared/],
    [{ name: "disk", type: "SCALAR", scalar: { value: 1 }, shared: {} }, /Only persistent volumes/],
  ];
  for (const [resource, reason] of cases) {
    assert.match(validateResource(resource) ?? "valid", reason, JSON.stringify(resource));
  }
  assert.equal(
    validateResource(cpus(1, { reservations: [dynamic("a"), dynamic("a/b")] })),
    undefined,
  );
});

test("resource format: legacy role/reservation input is upgraded to the reservations stack", () => {
  assert.deepEqual(upgradeResource(cpus(1, { role: "*" })), cpus(1));
  assert.deepEqual(
    upgradeResource(cpus(1, { role: "a" })),
    cpus(1, { reservations: [{ type: "STATIC", role: "a" }] }),
  );
  assert.deepEqual(
    upgradeResource(cpus(1, { role: "a", reservation: { principal: "p" } })),
    cpus(1, { reservations: [{ principal: "p", type: "DYNAMIC", role: "a" }] }),
  );
  // Endpoint format (both present): the stack wins.
  assert.deepEqual(
    upgradeResource(cpus(1, { role: "a", reservations: [{ type: "STATIC", role: "a" }] })),
    cpus(1, { reservations: [{ type: "STATIC", role: "a" }] }),
  );
  const r = Resources.from([cpus(1, { role: "a", reservation: { principal: "p" } })]);
  assert.equal(r.toString(), "cpus(reservations: [(DYNAMIC,a,p)]):1");
});

test("resource format: Mesos text form with every annotation", () => {
  const r: Resource = {
    name: "disk",
    type: "SCALAR",
    scalar: { value: 64 },
    allocation_info: { role: "db" },
    reservations: [
      {
        type: "DYNAMIC",
        role: "db",
        principal: "ops",
        labels: { labels: [{ key: "k", value: "v" }, { key: "x" }] },
      },
    ],
    disk: {
      source: { type: "PATH", path: { root: "/data" } },
      persistence: { id: "id1" },
      volume: { mode: "RW", container_path: "data", host_path: "/h" },
    },
    revocable: {},
    shared: {},
  };
  assert.equal(
    formatResource(r),
    "disk(allocated: db)(reservations: [(DYNAMIC,db,ops,{k: v, x})])[PATH:/data,id1:/h:data:rw]{REV}<SHARED>:64",
  );
  assert.equal(Resources.empty().toString(), "{}");
});

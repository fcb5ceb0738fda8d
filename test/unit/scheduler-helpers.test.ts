import assert from "node:assert/strict";
import { test } from "node:test";
import type { Offer } from "../../src/common/protocol/generated/mesos-v1.js";
import {
  findOfferResources,
  isTerminalState,
  masterFromLocation,
  parseContentType,
  parseMasterAddress,
  parseResourceText,
} from "../../src/scheduler/index.js";

test("scheduler master address: host:port, ip:port, http:// URLs and bare hosts", () => {
  assert.deepEqual(parseMasterAddress("127.0.0.1:5050"), {
    ok: true,
    address: { host: "127.0.0.1", port: 5050 },
  });
  assert.deepEqual(parseMasterAddress("master.example:6060"), {
    ok: true,
    address: { host: "master.example", port: 6060 },
  });
  assert.deepEqual(parseMasterAddress("http://10.0.0.1:5050/master"), {
    ok: true,
    address: { host: "10.0.0.1", port: 5050 },
  });
  assert.deepEqual(parseMasterAddress("localhost"), {
    ok: true,
    address: { host: "localhost", port: 5050 },
  });
  assert.deepEqual(parseMasterAddress("[::1]:5051"), {
    ok: true,
    address: { host: "::1", port: 5051 },
  });
  assert.deepEqual(parseMasterAddress("a:1,b:2"), { ok: true, address: { host: "a", port: 1 } });
});

test("scheduler master address: zk:// is no master address (parseMasterSpec takes it); bad ports are refused", () => {
  const zk = parseMasterAddress("zk://127.0.0.1:2181/mesos");
  assert.equal(zk.ok, false);
  assert.match(zk.ok ? "" : zk.error, /ZooKeeper URL/);
  for (const bad of ["", "host:0", "host:70000", "host:abc", "a:b:c"]) {
    assert.equal(parseMasterAddress(bad).ok, false, bad);
  }
});

test("scheduler master address: file:// reads the address from the file", () => {
  const read = (path: string) => {
    if (path === "/etc/mesos/master") return "192.168.1.5:5050\n";
    throw Object.assign(new Error("nope"), { code: "ENOENT" });
  };
  assert.deepEqual(parseMasterAddress("file:///etc/mesos/master", read), {
    ok: true,
    address: { host: "192.168.1.5", port: 5050 },
  });
  const missing = parseMasterAddress("file:///nowhere", read);
  assert.match(
    missing.ok ? "" : missing.error,
    /Failed to read master address from '\/nowhere': no such file/,
  );
});

test("scheduler master address: a redirect's scheme-relative Location names the leader", () => {
  assert.deepEqual(masterFromLocation("//10.1.2.3:5050/master/api/v1/scheduler"), {
    host: "10.1.2.3",
    port: 5050,
  });
  assert.deepEqual(masterFromLocation("http://leader:5051/api/v1/scheduler"), {
    host: "leader",
    port: 5051,
  });
  assert.equal(masterFromLocation("/master/api/v1/scheduler"), undefined);
});

test("scheduler content type: json, protobuf and their media types", () => {
  assert.equal(parseContentType("json"), "json");
  assert.equal(parseContentType("application/x-protobuf"), "protobuf");
  assert.equal(parseContentType("PROTOBUF"), "protobuf");
  assert.equal(parseContentType("xml"), undefined);
});

test("scheduler task states: terminal states are the ones a task never leaves", () => {
  for (const s of [
    "TASK_FINISHED",
    "TASK_FAILED",
    "TASK_KILLED",
    "TASK_LOST",
    "TASK_ERROR",
    "TASK_DROPPED",
  ] as const) {
    assert.equal(isTerminalState(s), true, s);
  }
  for (const s of [
    "TASK_STAGING",
    "TASK_STARTING",
    "TASK_RUNNING",
    "TASK_KILLING",
    "TASK_UNREACHABLE",
  ] as const) {
    assert.equal(isTerminalState(s), false, s);
  }
});

function offer(resources: Offer["resources"]): Offer {
  return {
    id: { value: "o" },
    framework_id: { value: "f" },
    agent_id: { value: "a" },
    hostname: "h",
    resources,
  };
}

const star = { role: "*" };

test("scheduler resources: a request is found in an offer and keeps the offer's allocation", () => {
  const o = offer([
    { name: "cpus", type: "SCALAR", scalar: { value: 4 }, allocation_info: star },
    { name: "mem", type: "SCALAR", scalar: { value: 1024 }, allocation_info: star },
    {
      name: "ports",
      type: "RANGES",
      ranges: { range: [{ begin: 31000, end: 32000 }] },
      allocation_info: star,
    },
  ]);
  const want = parseResourceText("cpus:1;mem:128;ports:[31000-31001]");
  assert.ok(want.ok);
  const found = findOfferResources(o, want.resources);
  assert.deepEqual(found, [
    { name: "cpus", type: "SCALAR", scalar: { value: 1 }, allocation_info: star },
    { name: "mem", type: "SCALAR", scalar: { value: 128 }, allocation_info: star },
    {
      name: "ports",
      type: "RANGES",
      ranges: { range: [{ begin: 31000, end: 31001 }] },
      allocation_info: star,
    },
  ]);
  const tooBig = parseResourceText("cpus:5");
  assert.ok(tooBig.ok);
  assert.equal(findOfferResources(o, tooBig.resources), undefined);
});

test("scheduler resources: a role takes its reserved resources first, then unreserved ones", () => {
  const web = { role: "web" };
  const o = offer([
    {
      name: "cpus",
      type: "SCALAR",
      scalar: { value: 1 },
      reservations: [{ type: "STATIC", role: "web" }],
      allocation_info: web,
    },
    { name: "cpus", type: "SCALAR", scalar: { value: 2 }, allocation_info: web },
  ]);
  const want = parseResourceText("cpus:2");
  assert.ok(want.ok);
  const found = findOfferResources(o, want.resources, "web");
  assert.deepEqual(found, [
    {
      name: "cpus",
      type: "SCALAR",
      scalar: { value: 1 },
      reservations: [{ type: "STATIC", role: "web" }],
      allocation_info: web,
    },
    { name: "cpus", type: "SCALAR", scalar: { value: 1 }, allocation_info: web },
  ]);
});

test("scheduler resources: bad resource text is a one-line error", () => {
  const r = parseResourceText("cpus:lots");
  assert.equal(r.ok, false);
});

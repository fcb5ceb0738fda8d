import assert from "node:assert/strict";
import { test } from "node:test";
import { formatAddress, isValidProcessId, parseUpid, Upid } from "../../src/common/process/upid.js";

function parsed(text: string): Upid {
  const r = parseUpid(text);
  assert.ok(r.ok, `expected '${text}' to parse: ${r.ok ? "" : r.error.message}`);
  return r.value;
}

function parseError(text: string): string {
  const r = parseUpid(text);
  assert.ok(!r.ok, `expected '${text}' to be rejected`);
  return r.error.message;
}

test("upid: master@10.0.0.1:5050 parses into id, ip and port", () => {
  const u = parsed("master@10.0.0.1:5050");
  assert.equal(u.id, "master");
  assert.equal(u.ip, "10.0.0.1");
  assert.equal(u.port, 5050);
  assert.equal(u.address, "10.0.0.1:5050");
  assert.equal(u.toString(), "master@10.0.0.1:5050");
});

test("upid: agent ids with parentheses and generated scheduler ids round-trip", () => {
  for (const text of [
    "slave(1)@127.0.0.1:5051",
    "scheduler-3c7e0a4e-2b1f-4a55-9c3d-0d6c1f0a9b11@192.168.1.7:41234",
    "executor(1)@10.1.2.3:0",
  ]) {
    assert.equal(parsed(text).toString(), text);
  }
});

test("upid: surrounding whitespace from a header is ignored", () => {
  assert.equal(parsed("  master@10.0.0.1:5050 \r").toString(), "master@10.0.0.1:5050");
});

test("upid: IPv6 addresses are written and read in brackets", () => {
  const u = parsed("master@[::1]:5050");
  assert.equal(u.ip, "::1");
  assert.equal(u.address, "[::1]:5050");
  assert.equal(u.toString(), "master@[::1]:5050");
  assert.equal(formatAddress("fe80::1", 1), "[fe80::1]:1");
});

test("upid: host names are accepted as libprocess does", () => {
  assert.equal(parsed("master@mesos-master.example.com:5050").ip, "mesos-master.example.com");
});

test("upid: an empty id is allowed (libprocess post() without a sender)", () => {
  assert.equal(parsed("@10.0.0.1:5050").id, "");
});

test("upid: malformed addresses are rejected with a reason", () => {
  assert.match(parseError("master"), /expected id@ip:port/);
  assert.match(parseError("master@10.0.0.1"), /no port/);
  assert.match(parseError("master@10.0.0.1:"), /not a valid port/);
  assert.match(parseError("master@10.0.0.1:70000"), /not a valid port/);
  assert.match(parseError("master@10.0.0.1:50x"), /not a valid port/);
  assert.match(parseError("master@:5050"), /not an IP address or host name/);
  assert.match(parseError("master@[::1:5050"), /malformed IPv6/);
  assert.match(parseError("master@[nope]:5050"), /not an IPv6 address/);
  assert.match(parseError("ma ster@1.2.3.4:5"), /whitespace/);
});

test("upid: equality, withId and JSON form", () => {
  const u = new Upid("master", "1.2.3.4", 5050);
  assert.ok(u.equals(parsed("master@1.2.3.4:5050")));
  assert.ok(!u.equals(u.withId("slave(1)")));
  assert.equal(JSON.stringify({ pid: u }), '{"pid":"master@1.2.3.4:5050"}');
});

test("upid: process ids may not contain characters that break the URL path", () => {
  assert.ok(isValidProcessId("slave(1)"));
  for (const bad of ["", "a/b", "a b", "a@b", "a?b", "a#b", "a%b"]) {
    assert.ok(!isValidProcessId(bad), bad);
  }
});

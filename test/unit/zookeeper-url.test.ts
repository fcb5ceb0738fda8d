import assert from "node:assert/strict";
import { test } from "node:test";
import { parseMemberName } from "../../src/common/zookeeper/group.js";
import {
  decodeMasterInfoJson,
  encodeMasterInfoJson,
  masterInfoAddress,
  masterInfoPid,
} from "../../src/common/zookeeper/master-info-json.js";
import { formatZkUrl, parseZkUrl, parseZkUrlOrFile } from "../../src/common/zookeeper/url.js";
import { buildMasterInfo } from "../../src/master/master-info.js";

test("zk url: servers, path and digest credentials are split as Mesos does", () => {
  assert.deepEqual(parseZkUrl("zk://h1:2181,h2:2182/mesos"), {
    ok: true,
    value: { servers: "h1:2181,h2:2182", path: "/mesos" },
  });
  assert.deepEqual(parseZkUrl(" zk://alice:s3cret@h1:2181/a/b/ "), {
    ok: true,
    value: { servers: "h1:2181", path: "/a/b", credentials: "alice:s3cret" },
  });
  assert.deepEqual(parseZkUrl("zk://h1:2181"), {
    ok: true,
    value: { servers: "h1:2181", path: "/" },
  });
  assert.deepEqual(parseZkUrl("zk://[::1]:2181/m"), {
    ok: true,
    value: { servers: "[::1]:2181", path: "/m" },
  });
});

test("zk url: bad values get a one-line reason", () => {
  const cases: [string, RegExp][] = [
    ["http://h:1/mesos", /expected 'zk:\/\/'/],
    ["zk://", /no servers/],
    ["zk:///mesos", /no servers/],
    ["zk://h:0/mesos", /bad port '0'/],
    ["zk://h:2181,,h2:1/mesos", /empty server/],
    ["zk://h:abc/mesos", /bad port 'abc'/],
    ["zk://bob@h:1/mesos", /user:password/],
    ["zk://h:1/a//b", /bad path/],
    ["zk://h:1/a/../b", /bad path/],
  ];
  for (const [text, reason] of cases) {
    const r = parseZkUrl(text);
    assert.equal(r.ok, false, text);
    assert.match(r.ok ? "" : r.error, reason, text);
    assert.ok(!(r.ok ? "" : r.error).includes("\n"));
  }
});

test("zk url: file:// holds the URL; a missing file is named", () => {
  const files: Record<string, string> = { "/etc/zk": "zk://h:2181/mesos\n" };
  const read = (p: string): string => {
    const v = files[p];
    if (v === undefined) throw Object.assign(new Error("nope"), { code: "ENOENT" });
    return v;
  };
  assert.deepEqual(parseZkUrlOrFile("file:///etc/zk", read), {
    ok: true,
    value: { servers: "h:2181", path: "/mesos" },
  });
  const missing = parseZkUrlOrFile("file:///nowhere", read);
  assert.match(missing.ok ? "" : missing.error, /'\/nowhere': no such file/);
});

test("zk url: the password never appears in logs", () => {
  const r = parseZkUrl("zk://alice:s3cret@h1:2181/mesos");
  assert.ok(r.ok);
  assert.equal(formatZkUrl(r.value), "zk://alice:***@h1:2181/mesos");
});

test("zk group: member names are <label>_<10 digits>; other children are not members", () => {
  assert.deepEqual(parseMemberName("/mesos", "json.info_0000000012"), {
    name: "json.info_0000000012",
    path: "/mesos/json.info_0000000012",
    sequence: 12,
    label: "json.info",
  });
  assert.equal(parseMemberName("/mesos", "registry"), undefined);
  assert.equal(parseMemberName("/", "0000000001")?.path, "/0000000001");
});

test("zk master info: JSON round trip, leader address and pid as detectors read them", () => {
  const info = buildMasterInfo({ id: "abc", ip: "10.0.0.7", port: 5050, hostname: "m1" });
  const json = JSON.parse(encodeMasterInfoJson(info).toString()) as Record<string, unknown>;
  assert.equal(json.hostname, "m1");
  assert.equal(json.pid, "master@10.0.0.7:5050");
  assert.deepEqual(json.address, { hostname: "m1", ip: "10.0.0.7", port: 5050 });
  const back = decodeMasterInfoJson(encodeMasterInfoJson(info));
  assert.ok(back.ok);
  assert.deepEqual(masterInfoAddress(back.value), { host: "10.0.0.7", port: 5050 });
  assert.equal(masterInfoPid(back.value), "master@10.0.0.7:5050");
  const bad = decodeMasterInfoJson(Buffer.from("not json"));
  assert.equal(bad.ok, false);
});

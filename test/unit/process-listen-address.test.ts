import assert from "node:assert/strict";
import { test } from "node:test";
import { resolveListenAddress } from "../../src/common/process/listen-address.js";

test("listen address: defaults bind every interface on an ephemeral port", () => {
  const r = resolveListenAddress({});
  assert.deepEqual(r, {
    ok: true,
    value: { bindIp: "0.0.0.0", bindPort: 0, advertiseIp: undefined, advertisePort: undefined },
  });
});

test("listen address: LIBPROCESS_* variables are used when flags are absent", () => {
  const r = resolveListenAddress({
    env: {
      LIBPROCESS_IP: "10.0.0.5",
      LIBPROCESS_PORT: "5051",
      LIBPROCESS_ADVERTISE_IP: "203.0.113.9",
      LIBPROCESS_ADVERTISE_PORT: "31000",
    },
  });
  assert.ok(r.ok);
  assert.deepEqual(r.value, {
    bindIp: "10.0.0.5",
    bindPort: 5051,
    advertiseIp: "203.0.113.9",
    advertisePort: 31000,
  });
});

test("listen address: --ip, --port and --advertise_* win over the environment", () => {
  const r = resolveListenAddress({
    ip: "127.0.0.1",
    port: 5050,
    advertiseIp: "198.51.100.1",
    advertisePort: "15050",
    env: { LIBPROCESS_IP: "10.0.0.5", LIBPROCESS_PORT: "1", LIBPROCESS_ADVERTISE_IP: "10.9.9.9" },
  });
  assert.ok(r.ok);
  assert.deepEqual(r.value, {
    bindIp: "127.0.0.1",
    bindPort: 5050,
    advertiseIp: "198.51.100.1",
    advertisePort: 15050,
  });
});

test("listen address: bad values name the variable that carried them", () => {
  const bad = (input: Parameters<typeof resolveListenAddress>[0]): string => {
    const r = resolveListenAddress(input);
    assert.ok(!r.ok);
    return r.error.message;
  };
  assert.equal(
    bad({ env: { LIBPROCESS_PORT: "70000" } }),
    "LIBPROCESS_PORT=70000 is not a valid port",
  );
  assert.equal(bad({ env: { LIBPROCESS_IP: "nope" } }), "LIBPROCESS_IP=nope is not an IP address");
  assert.equal(
    bad({ env: { LIBPROCESS_ADVERTISE_PORT: "0" } }),
    "LIBPROCESS_ADVERTISE_PORT=0 is not a valid port",
  );
  assert.match(bad({ port: "-1" }), /not a valid port/);
});

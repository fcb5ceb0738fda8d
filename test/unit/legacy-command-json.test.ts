import assert from "node:assert/strict";
import { test } from "node:test";
import { legacyCommandJson } from "../../src/common/http/legacy-json.js";

test("legacy command JSON: variables are bare name/value pairs and a secret is never written", () => {
  const json = legacyCommandJson({
    shell: true,
    value: "env",
    environment: {
      variables: [
        { name: "PLAIN", type: "VALUE", value: "visible" },
        {
          name: "TOKEN",
          type: "SECRET",
          secret: { type: "VALUE", value: { data: new TextEncoder().encode("hunter2") } },
        },
      ],
    },
    uris: [{ value: "http://example.com/a.tgz", executable: true }],
  });
  assert.deepEqual(json, {
    shell: true,
    value: "env",
    argv: [],
    environment: {
      variables: [
        { name: "PLAIN", value: "visible" },
        { name: "TOKEN", value: "" },
      ],
    },
    uris: [{ value: "http://example.com/a.tgz", executable: true }],
  });
  assert.equal(JSON.stringify(json).includes("aHVudGVyMg"), false);
  assert.equal(JSON.stringify(json).includes("hunter2"), false);
});

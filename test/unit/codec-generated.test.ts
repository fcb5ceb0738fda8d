import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { descriptorFromProtoDir } from "../../src/common/protocol/descriptor-from-proto.js";
import { staleGeneratedFiles } from "../../src/common/protocol/gen-types.js";
import { SCHEMA_JSON } from "../../src/common/protocol/generated/descriptor.js";

const repo = fileURLToPath(new URL("../../../", import.meta.url));

test("generated protocol: the committed descriptor matches the .proto files", () => {
  const fresh = descriptorFromProtoDir(`${repo}proto`);
  assert.deepEqual(JSON.parse(SCHEMA_JSON), JSON.parse(JSON.stringify(fresh)));
});

test("generated protocol: committed types and descriptor are current (run gen-types after editing proto/)", () => {
  assert.deepEqual(
    staleGeneratedFiles(repo),
    [],
    "regenerate with: npx tsc -p . && node dist/src/common/protocol/gen-types.js",
  );
});

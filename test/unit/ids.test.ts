import assert from "node:assert/strict";
import { test } from "node:test";
import {
  isUuidText,
  MasterIds,
  newContainerId,
  newMasterId,
  newStatusUpdateUuid,
  newStreamId,
  parseMintedId,
  uuidBytesToText,
  uuidTextToBytes,
} from "../../src/common/ids/index.js";
import { seededRandom } from "../../src/common/time/random.js";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test("ids: a master id is a random version-4 UUID, repeatable with a seeded source", () => {
  const a = newMasterId(seededRandom(1));
  assert.match(a, UUID_V4);
  assert.equal(newMasterId(seededRandom(1)), a);
  assert.notEqual(newMasterId(seededRandom(2)), a);
});

test("ids: framework ids are <master-id>-NNNN, zero-padded to four digits and growing past 9999", () => {
  const ids = new MasterIds("m1");
  assert.equal(ids.nextFrameworkId(), "m1-0000");
  assert.equal(ids.nextFrameworkId(), "m1-0001");
  for (let i = 2; i < 9999; i++) ids.nextFrameworkId();
  assert.equal(ids.nextFrameworkId(), "m1-9999");
  assert.equal(ids.nextFrameworkId(), "m1-10000");
});

test("ids: agent ids are <master-id>-S<n> from 0", () => {
  const ids = new MasterIds("m1");
  assert.deepEqual(
    [ids.nextAgentId(), ids.nextAgentId(), ids.nextAgentId()],
    ["m1-S0", "m1-S1", "m1-S2"],
  );
});

test("ids: offers and inverse offers share one <master-id>-O<n> sequence", () => {
  const ids = new MasterIds("m1");
  assert.deepEqual(
    [ids.nextOfferId(), ids.nextInverseOfferId(), ids.nextOfferId()],
    ["m1-O0", "m1-O1", "m1-O2"],
  );
});

test("ids: sequences of frameworks, agents and offers are independent", () => {
  const ids = MasterIds.create(seededRandom(5));
  const m = ids.masterId;
  assert.match(m, UUID_V4);
  ids.nextOfferId();
  ids.nextOfferId();
  assert.equal(ids.nextAgentId(), `${m}-S0`);
  assert.equal(ids.nextFrameworkId(), `${m}-0000`);
  assert.equal(ids.nextOfferId(), `${m}-O2`);
});

test("ids: minted ids parse back into master id, kind and sequence", () => {
  const m = "6fd4d4a5-0f41-4f1c-9a1e-a1c09b2b0b3d";
  assert.deepEqual(parseMintedId(`${m}-0012`), { masterId: m, kind: "framework", sequence: 12 });
  assert.deepEqual(parseMintedId(`${m}-S3`), { masterId: m, kind: "agent", sequence: 3 });
  assert.deepEqual(parseMintedId(`${m}-O40`), { masterId: m, kind: "offer", sequence: 40 });
  assert.equal(parseMintedId("my-framework"), undefined);
  assert.equal(parseMintedId(`${m}-012`), undefined);
});

test("ids: container and stream ids are UUIDs", () => {
  const random = seededRandom(9);
  assert.match(newContainerId(random), UUID_V4);
  assert.match(newStreamId(random), UUID_V4);
});

test("ids: a status update uuid is 16 raw bytes that convert to and from UUID text", () => {
  const bytes = newStatusUpdateUuid(seededRandom(3));
  assert.equal(bytes.length, 16);
  assert.equal((bytes[6] ?? 0) >> 4, 4, "version 4");
  const text = uuidBytesToText(bytes);
  assert.match(text ?? "", UUID_V4);
  assert.deepEqual(uuidTextToBytes(text ?? ""), bytes);
  assert.deepEqual(
    uuidTextToBytes("6FD4D4A5-0F41-4F1C-9A1E-A1C09B2B0B3D"),
    uuidTextToBytes("6fd4d4a5-0f41-4f1c-9a1e-a1c09b2b0b3d"),
  );
});

test("ids: malformed UUID text or a wrong byte count is rejected", () => {
  assert.equal(uuidTextToBytes("not-a-uuid"), undefined);
  assert.equal(uuidTextToBytes("6fd4d4a50f414f1c9a1ea1c09b2b0b3d"), undefined);
  assert.equal(uuidTextToBytes("6fd4d4a5-0f41-4f1c-9a1e-a1c09b2b0b3g"), undefined);
  assert.equal(uuidBytesToText(new Uint8Array(15)), undefined);
  assert.equal(isUuidText("6fd4d4a5-0f41-4f1c-9a1e-a1c09b2b0b3d"), true);
  assert.equal(isUuidText(" 6fd4d4a5-0f41-4f1c-9a1e-a1c09b2b0b3d"), false);
});

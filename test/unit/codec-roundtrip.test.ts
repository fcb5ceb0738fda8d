import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { listProtoFiles, loadProtoRoot } from "../../src/common/protocol/descriptor-from-proto.js";
import { codecFor, defaultSchema } from "../../src/common/protocol/index.js";
import { sampleMessage } from "../../src/common/protocol/samples.js";
import { seededRandom } from "../../src/common/time/random.js";

type Obj = Record<string, unknown>;

const protoDir = fileURLToPath(new URL("../../../proto", import.meta.url));
const reference = loadProtoRoot(protoDir, listProtoFiles(protoDir));
const schema = defaultSchema();

/** The top-level messages of every API, which must all exist in the schema. */
const API_MESSAGES = [
  "mesos.v1.scheduler.Call",
  "mesos.v1.scheduler.Event",
  "mesos.v1.scheduler.Response",
  "mesos.v1.executor.Call",
  "mesos.v1.executor.Event",
  "mesos.v1.master.Call",
  "mesos.v1.master.Response",
  "mesos.v1.master.Event",
  "mesos.v1.agent.Call",
  "mesos.v1.agent.Response",
  "mesos.v1.agent.ProcessIO",
  "mesos.v1.resource_provider.Call",
  "mesos.v1.resource_provider.Event",
];

const internalMessages = Object.keys(schema.descriptor.messages).filter((n) =>
  n.startsWith("mesos.internal."),
);

function roundTrip(typeName: string, seed: number, maxDepth: number): void {
  const codec = codecFor<Obj>(typeName);
  const random = seededRandom(seed);
  const sample = sampleMessage(schema, typeName, { random, maxDepth });
  const json = codec.encodeJson(sample);
  const fromJson = codec.decodeJson(json);
  if (!fromJson.ok) assert.fail(`${typeName} JSON: ${fromJson.error.message}`);
  assert.deepEqual(fromJson.value, sample, `${typeName} via JSON`);
  const bytes = codec.encodeProtobuf(fromJson.value);
  const fromProto = codec.decodeProtobuf(bytes);
  if (!fromProto.ok) assert.fail(`${typeName} protobuf: ${fromProto.error.message}`);
  assert.deepEqual(fromProto.value, sample, `${typeName} via protobuf`);

  // protobufjs, an independent implementation, must read our bytes and write ones we read back.
  const T = reference.lookupType(typeName);
  const theirs = T.encode(T.fromObject(sample)).finish();
  const fromTheirs = codec.decodeProtobuf(theirs);
  if (!fromTheirs.ok) assert.fail(`${typeName} from protobufjs: ${fromTheirs.error.message}`);
  assert.deepEqual(fromTheirs.value, sample, `${typeName} from protobufjs`);
  assert.equal(
    Buffer.compare(bytes, Buffer.from(theirs)),
    0,
    `${typeName} bytes differ from protobufjs`,
  );
  assert.equal(T.verify(T.decode(bytes)), null, `${typeName} not valid for protobufjs`);
}

test("codec round trip: every top-level API message exists in the schema", () => {
  for (const name of API_MESSAGES) assert.ok(schema.hasMessage(name), name);
  assert.ok(internalMessages.length > 40, "mesos.internal messages are in the schema");
});

for (const name of API_MESSAGES) {
  test(`codec round trip: ${name} with every field set survives JSON and protobuf`, () => {
    for (let seed = 1; seed <= 8; seed++) roundTrip(name, seed, 5);
  });
}

test("codec round trip: every mesos.internal message survives JSON and protobuf", () => {
  for (const name of internalMessages) {
    for (let seed = 1; seed <= 3; seed++) roundTrip(name, seed, 4);
  }
});

test("codec round trip: every other message of the schema survives JSON and protobuf", () => {
  for (const name of Object.keys(schema.descriptor.messages)) {
    if (name.startsWith("mesos.internal.") || API_MESSAGES.includes(name)) continue;
    roundTrip(name, 11, 3);
  }
});

test("codec api: codecFor caches codecs and throws for a type the schema lacks", () => {
  assert.equal(codecFor("mesos.v1.FrameworkInfo"), codecFor("mesos.v1.FrameworkInfo"));
  assert.throws(
    () => codecFor("mesos.v1.NoSuchThing"),
    /unknown message type 'mesos\.v1\.NoSuchThing'/,
  );
});

test("codec api: Mesos-style defaults are written only on request, and deprecated ones never", () => {
  const codec = codecFor("mesos.v1.FrameworkInfo");
  const info = { user: "alice", name: "fw" };
  assert.deepEqual(codec.toJsonValue(info), { user: "alice", name: "fw" });
  const withDefaults = codec.toJsonValue(info, { withDefaults: true });
  assert.equal(withDefaults.failover_timeout, 0);
  assert.equal(withDefaults.checkpoint, false);
  assert.equal("role" in withDefaults, false, "role is deprecated");
  assert.equal(codec.fieldDefault("role"), "*");
});

test("codec fuzz: arbitrary JSON values never make decodeJson throw", () => {
  const codecs = API_MESSAGES.map((n) => codecFor<Obj>(n));
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
      for (const c of codecs) {
        c.decodeJson(v);
        c.decodeJson(JSON.stringify(v));
      }
    }),
    { numRuns: 300 },
  );
});

test("codec fuzz: mutated protobuf of valid messages never makes decodeProtobuf throw", () => {
  const codec = codecFor<Obj>("mesos.v1.scheduler.Event");
  const valid = codec.encodeProtobuf(
    sampleMessage(schema, "mesos.v1.scheduler.Event", { random: seededRandom(4) }),
  );
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 8,
      }),
      fc.nat(),
      (edits, cut) => {
        const bytes = Buffer.from(valid);
        for (const [at, b] of edits) bytes[at % bytes.length] = b;
        codec.decodeProtobuf(bytes);
        codec.decodeProtobuf(bytes.subarray(0, cut % (bytes.length + 1)));
      },
    ),
    { numRuns: 1000 },
  );
});

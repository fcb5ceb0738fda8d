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
  const json = codec.encodeJson(sample, { withDefaults: false });
  const fromJson = codec.decodeJson(json);
  if (!fromJson.ok) assert.fail(`${typeName} JSON: ${fromJson.error.message}`);
  assert.deepEqual(fromJson.value, sample, `${typeName} via JSON`);
  // Mesos-style JSON (defaults written): unset defaulted fields come back set to them.
  const filled = codec.decodeJson(codec.encodeJson(sample));
  if (!filled.ok) assert.fail(`${typeName} JSON with defaults: ${filled.error.message}`);
  assert.deepEqual(filled.value, codec.withJsonDefaults(sample), `${typeName} with defaults`);
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

test("codec api: JSON shows Mesos' defaults of unset fields (FrameworkInfo), deprecated ones never", () => {
  const codec = codecFor("mesos.v1.FrameworkInfo");
  const info = { user: "alice", name: "fw" };
  assert.deepEqual(codec.toJsonValue(info), {
    user: "alice",
    name: "fw",
    failover_timeout: 0,
    checkpoint: false,
  });
  assert.equal("role" in codec.toJsonValue(info), false, "role is deprecated");
  assert.equal(codec.fieldDefault("role"), "*");
  assert.deepEqual(codec.toJsonValue(info, { withDefaults: false }), info);
  // A set field keeps its value; input without the defaults still decodes.
  assert.equal(codec.toJsonValue({ ...info, checkpoint: true }).checkpoint, true);
  const decoded = codec.decodeJson('{"user":"alice","name":"fw"}');
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.value, info);
});

test("codec api: defaults are written inside nested messages (TaskInfo command, AgentInfo, Resource)", () => {
  const task = codecFor("mesos.v1.TaskInfo").toJsonValue({
    name: "t",
    task_id: { value: "t" },
    agent_id: { value: "a" },
    command: { value: "sleep 1", uris: [{ value: "http://x/y.tgz" }] },
    resources: [{ name: "cpus", type: "SCALAR", scalar: { value: 1 } }],
    health_check: { type: "TCP", tcp: { port: 80 } },
  });
  const command = task.command as Record<string, unknown>;
  assert.equal(command.shell, true);
  assert.deepEqual(command.uris, [{ value: "http://x/y.tgz", extract: true }]);
  const resource = (task.resources as Record<string, unknown>[])[0] ?? {};
  assert.equal("role" in resource, false, "Resource.role is deprecated: no default shown");
  const check = task.health_check as Record<string, unknown>;
  assert.equal(check.delay_seconds, 15);
  assert.equal(check.consecutive_failures, 3);
  assert.deepEqual(check.tcp, { port: 80, protocol: "IPv4" });
  const agent = codecFor("mesos.v1.AgentInfo").toJsonValue({ hostname: "h" });
  assert.deepEqual(agent, { hostname: "h", port: 5051 });
  // An unset message field stays out: defaults only appear inside messages that are present.
  assert.equal("container" in task, false);
});

test("codec api: withJsonDefaults gives what the encoder writes (Task with statuses and container)", () => {
  const codec = codecFor("mesos.v1.Task");
  const task = {
    name: "t",
    task_id: { value: "t" },
    framework_id: { value: "f" },
    agent_id: { value: "a" },
    state: "TASK_RUNNING",
    statuses: [
      {
        task_id: { value: "t" },
        state: "TASK_RUNNING",
        container_status: { network_infos: [{ ip_addresses: [{ ip_address: "10.0.0.1" }] }] },
      },
    ],
    container: { type: "DOCKER", docker: { image: "busybox" } },
  };
  const filled = codec.withJsonDefaults(task as never) as unknown as Record<string, unknown>;
  assert.deepEqual(JSON.parse(JSON.stringify(filled)), codec.toJsonValue(task as never));
  const status = (filled.statuses as Record<string, never>[])[0] as Record<string, unknown>;
  const ip = (status.container_status as { network_infos: { ip_addresses: object[] }[] })
    .network_infos[0]?.ip_addresses[0];
  assert.deepEqual(ip, { ip_address: "10.0.0.1", protocol: "IPv4" });
  assert.deepEqual((filled.container as { docker: object }).docker, {
    image: "busybox",
    network: "HOST",
    privileged: false,
  });
  assert.equal(task.statuses[0]?.container_status.network_infos[0]?.ip_addresses.length, 1);
  assert.deepEqual(task.container.docker, { image: "busybox" }, "the input is not modified");
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

/**
 * Operation feedback across agent restarts, on real files: the operation is
 * checkpointed with the resources (`resources_and_operations.state`) and its
 * status update stream in `meta/slaves/<id>/operations/<uuid>/operation.updates`;
 * a new agent on the same work dir recovers both and sends the
 * unacknowledged update again once registered; once acknowledged, the
 * operation and its stream directory are gone, also for the next start.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Agent } from "../../src/agent/agent.js";
import {
  OperationStreamFiles,
  readOperationStreams,
} from "../../src/agent/operations/checkpoint.js";
import { operationPath, operationsPath, resourceStatePath } from "../../src/agent/paths.js";
import {
  readCheckpointedResources,
  readResourceState,
  writeCheckpointedResources,
} from "../../src/agent/resources-checkpoint.js";
import { uuidBytesToText } from "../../src/common/ids/uuid.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import type { UpdateOperationStatusMessage } from "../../src/common/protocol/generated/mesos-internal.js";
import type { Resource } from "../../src/common/protocol/generated/mesos-v1.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { seededRandom } from "../../src/common/time/random.js";
import { testAgentConfig } from "../harness/agent-config.js";
import { tempDir, waitFor } from "../harness/processes.js";

const MASTER = "master@127.0.0.1:5050";
const AGENT_ID = "S1";

const disk = (value: number, extra: Partial<Resource> = {}): Resource => ({
  name: "disk",
  type: "SCALAR",
  scalar: { value },
  ...extra,
});
const reservedDisk = (value: number): Resource =>
  disk(value, { reservations: [{ type: "DYNAMIC", role: "db" }] });
const volume = (value: number, id: string): Resource =>
  disk(value, {
    reservations: [{ type: "DYNAMIC", role: "db" }],
    disk: { persistence: { id }, volume: { container_path: "data", mode: "RW" } },
  });

/** An agent on `workDir` as the runtime wires it, recovered and registered as S1. */
function start(workDir: string, seed: number) {
  const clock = new ManualClock();
  const sent: { type: string; message: unknown }[] = [];
  const agent = new Agent({
    config: testAgentConfig({
      workDir,
      info: { hostname: "h", port: 5051, resources: [disk(100)] },
    }),
    clock,
    random: seededRandom(seed),
    logger: silentLogger,
    transport: { send: (_to, type, message) => sent.push({ type, message }), link: () => {} },
    containerizer: { launch: () => {}, destroy: () => {} },
  });
  const state = readResourceState(workDir);
  agent.restoreCheckpointedResources(state.resources);
  agent.resourcesCheckpoint = (resources, previous, operations) =>
    writeCheckpointedResources(workDir, resources, previous, operations);
  agent.operationFiles = new OperationStreamFiles(workDir);
  agent.recover({ id: AGENT_ID, frameworks: new Map() });
  agent.recoverOperations(state.operations, readOperationStreams(workDir, AGENT_ID));
  agent.start(MASTER);
  clock.advance(1000);
  agent.reregistered(MASTER, { slave_id: { value: AGENT_ID } });
  const updates = () =>
    sent
      .filter((s) => s.type === "mesos.internal.UpdateOperationStatusMessage")
      .map((s) => s.message as UpdateOperationStatusMessage);
  return { agent, clock, sent, updates };
}

const uuid = (n: number): Uint8Array => new Uint8Array(16).fill(n);
const hex = (bytes: Uint8Array | undefined): string | undefined =>
  bytes === undefined ? undefined : Buffer.from(bytes).toString("hex");

describe("agent operation recovery", () => {
  it("an unacknowledged operation survives a restart and is sent again; acknowledged, it is gone", async () => {
    const workDir = tempDir("agent-operations-");
    const first = start(workDir, 1);
    first.agent.applyOperation(MASTER, {
      framework_id: { value: "F1" },
      operation_info: {
        type: "RESERVE",
        id: { value: "r1" },
        reserve: { resources: [reservedDisk(40)] },
      },
      operation_uuid: { value: uuid(1) },
      resource_version_uuid: { uuid: { value: first.agent.resourceVersion } },
    });
    const [sent] = await waitFor(
      "OPERATION_FINISHED",
      () => first.updates()[0] !== undefined && first.updates(),
    );
    assert.equal(sent?.status.state, "OPERATION_FINISHED");
    const opDir = operationPath(workDir, AGENT_ID, uuidBytesToText(uuid(1)) ?? "");
    assert.ok(existsSync(join(opDir, "operation.updates")), "the stream is on disk");
    assert.deepEqual(readCheckpointedResources(workDir), [reservedDisk(40)], "resources.info");
    const saved = readResourceState(workDir);
    assert.equal(saved.operations.length, 1, "the operation is in the state file");
    assert.equal(saved.operations[0]?.latest_status.state, "OPERATION_FINISHED");
    first.agent.beginTermination();

    // A new start: a new resource version, the same operation, its update again.
    const second = start(workDir, 2);
    assert.notDeepEqual(second.agent.resourceVersion, first.agent.resourceVersion);
    assert.equal(second.agent.operations.list().length, 1);
    const again = await waitFor("the update again", () => second.updates()[0]);
    assert.equal(hex(again.status.uuid?.value), hex(sent?.status.uuid?.value), "the same update");
    assert.equal(hex(again.operation_uuid?.value), hex(uuid(1)));
    const listed = second.sent.find((s) => s.type === "mesos.internal.UpdateSlaveMessage")
      ?.message as { operations?: { operations?: unknown[] } };
    assert.equal(listed.operations?.operations?.length, 1, "UpdateSlaveMessage lists it");

    second.agent.operationStatusAcknowledgement(MASTER, {
      status_uuid: { value: again.status.uuid?.value as Uint8Array },
      operation_uuid: { value: uuid(1) },
    });
    await waitFor("the stream directory to go", () => !existsSync(opDir));
    await waitFor(
      "the state file without it",
      () => readResourceState(workDir).operations.length === 0,
    );
    assert.equal(second.agent.operations.list().length, 0);
    second.agent.beginTermination();

    const third = start(workDir, 3);
    assert.equal(third.agent.operations.list().length, 0, "nothing comes back");
    third.clock.advance(60_000);
    assert.equal(third.updates().length, 0);
    assert.deepEqual(third.agent.operations.list(), []);
    assert.deepEqual(
      readResourceState(workDir).resources,
      [reservedDisk(40)],
      "the reservation stays",
    );
  });

  it("CREATE and DESTROY make and delete the volume's directory; a stray stream is removed", async () => {
    const workDir = tempDir("agent-operations-");
    // A stream left behind for an operation nobody knows.
    const stray = operationPath(workDir, AGENT_ID, uuidBytesToText(uuid(9)) ?? "");
    mkdirSync(stray, { recursive: true });
    writeFileSync(join(stray, "operation.updates"), "");
    const a = start(workDir, 4);
    await waitFor("the stray stream to go", () => !existsSync(stray));
    const apply = (n: number, info: Parameters<Agent["applyOperation"]>[1]["operation_info"]) =>
      a.agent.applyOperation(MASTER, {
        operation_info: info,
        operation_uuid: { value: uuid(n) },
        resource_version_uuid: { uuid: { value: a.agent.resourceVersion } },
      });
    apply(1, { type: "RESERVE", reserve: { resources: [reservedDisk(50)] } });
    apply(2, { type: "CREATE", create: { volumes: [volume(20, "v1")] } });
    await waitFor("two updates", () => a.updates().length === 2);
    assert.deepEqual(
      a.updates().map((u) => u.status.state),
      ["OPERATION_FINISHED", "OPERATION_FINISHED"],
    );
    assert.equal(
      a.updates()[0]?.framework_id,
      undefined,
      "an operator's operation has no framework",
    );
    const volumeDir = join(workDir, "volumes", "roles", "db", "v1");
    assert.ok(existsSync(volumeDir), "the volume's directory exists");
    assert.deepEqual(readResourceState(workDir).resources, [reservedDisk(30), volume(20, "v1")]);
    apply(3, { type: "DESTROY", destroy: { volumes: [volume(20, "v1")] } });
    await waitFor("the DESTROY's update", () => a.updates().length === 3);
    assert.equal(a.updates()[2]?.status.state, "OPERATION_FINISHED");
    assert.ok(!existsSync(volumeDir), "the destroyed volume's directory is deleted");
    assert.deepEqual(readResourceState(workDir).resources, [reservedDisk(50)]);
    assert.equal(readdirSync(operationsPath(workDir, AGENT_ID)).length, 3, "three open streams");
    assert.ok(existsSync(resourceStatePath(workDir)));
    a.agent.beginTermination();
  });
});

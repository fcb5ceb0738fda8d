/**
 * Id formats of Mesos: master-minted framework, agent and offer ids; UUIDs for
 * masters, containers and streams; 16-byte UUIDs for status updates and
 * operations. All randomness comes from an injected `RandomSource`.
 */
import type { RandomSource } from "../time/random.js";
import { newUuidBytes } from "./uuid.js";

export { MasterIds, type MintedId, newMasterId, parseMintedId } from "./master-ids.js";
export { isUuidText, newUuidBytes, uuidBytesToText, uuidTextToBytes } from "./uuid.js";

/** A new container id value (a random UUID, as the Mesos containerizer uses). */
export function newContainerId(random: RandomSource): string {
  return random.uuid();
}

/** A new `Mesos-Stream-Id` for a scheduler subscription (a random UUID). */
export function newStreamId(random: RandomSource): string {
  return random.uuid();
}

/** The `uuid` of a new status update: 16 random bytes (a version-4 UUID). */
export function newStatusUpdateUuid(random: RandomSource): Buffer {
  return newUuidBytes(random);
}

/** The `uuid.value` of a new operation status update: 16 random bytes. */
export function newOperationUuid(random: RandomSource): Buffer {
  return newUuidBytes(random);
}

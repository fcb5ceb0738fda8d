/**
 * Ids minted by a master, in Mesos' formats (master.cpp newFrameworkId,
 * newSlaveId, newOfferId):
 *   master    <uuid>
 *   framework <master-id>-<sequence, at least 4 digits, zero-padded>
 *   agent     <master-id>-S<sequence>
 *   offer     <master-id>-O<sequence>  (inverse offers share the offer sequence)
 * Sequences start at 0 for each master; a restarted master has a new id, so
 * ids never repeat.
 */
import type { RandomSource } from "../time/random.js";

/** A fresh master id (a random UUID). */
export function newMasterId(random: RandomSource): string {
  return random.uuid();
}

/** Mints the ids of one master run. */
export class MasterIds {
  readonly masterId: string;
  private frameworks = 0;
  private agents = 0;
  private offers = 0;

  constructor(masterId: string) {
    this.masterId = masterId;
  }

  /** For a new master: a random master id and fresh sequences. */
  static create(random: RandomSource): MasterIds {
    return new MasterIds(newMasterId(random));
  }

  /** `<master-id>-0000`, `-0001`, ... `-9999`, `-10000`, ... */
  nextFrameworkId(): string {
    return `${this.masterId}-${String(this.frameworks++).padStart(4, "0")}`;
  }

  /** `<master-id>-S0`, `-S1`, ... */
  nextAgentId(): string {
    return `${this.masterId}-S${this.agents++}`;
  }

  /** `<master-id>-O0`, `-O1`, ... */
  nextOfferId(): string {
    return `${this.masterId}-O${this.offers++}`;
  }

  /** Inverse offers draw from the same sequence as offers, as in Mesos. */
  nextInverseOfferId(): string {
    return this.nextOfferId();
  }
}

/** What a minted id says about its origin. */
export interface MintedId {
  readonly masterId: string;
  readonly kind: "framework" | "agent" | "offer";
  readonly sequence: number;
}

const MINTED = /^(.+)-(?:(\d{4,})|S(\d+)|O(\d+))$/;

/**
 * Splits an id minted by a master into its parts, or undefined if it does not
 * have a minted shape (frameworks and agents may also carry ids chosen
 * elsewhere).
 */
export function parseMintedId(id: string): MintedId | undefined {
  const m = MINTED.exec(id);
  if (m === null) return undefined;
  const masterId = m[1] as string;
  if (m[2] !== undefined) return { masterId, kind: "framework", sequence: Number(m[2]) };
  if (m[3] !== undefined) return { masterId, kind: "agent", sequence: Number(m[3]) };
  return { masterId, kind: "offer", sequence: Number(m[4]) };
}

import { MesosError } from "../errors/mesos-error.js";

/** The wire format a message was being decoded from. */
export type WireFormat = "json" | "protobuf";

/**
 * A message could not be decoded: malformed input, a value of the wrong type,
 * an unknown enum name, a missing required field. `path` names the offending
 * field from the top-level message (`framework_info.user`, `offers[2].id`),
 * empty when the problem is the input as a whole.
 */
export class DecodeError extends MesosError {
  readonly typeName: string;
  readonly format: WireFormat;
  readonly path: string;
  readonly reason: string;
  /**
   * The same problem in the words of Mesos' JSON-to-protobuf conversion
   * (stout), for answers that clients compare with Mesos': `Not expecting a
   * JSON string for field 'user'`, `Failed to find enum for 'X'`, `Missing
   * required fields: a.b`, `Expecting a JSON object`. Problems stout words
   * no differently (or accepts) fall back to `message`.
   */
  readonly stout: string;

  constructor(typeName: string, format: WireFormat, path: string, reason: string, stout?: string) {
    super("DECODE_ERROR", path === "" ? reason : `${path}: ${reason}`, 400);
    this.name = "DecodeError";
    this.typeName = typeName;
    this.format = format;
    this.path = path;
    this.reason = reason;
    this.stout =
      stout ??
      (reason === "required field is missing" ? `Missing required fields: ${path}` : this.message);
  }
}

/**
 * Internal failure thrown while walking a message; converted to a
 * `DecodeError` at the codec boundary. Path segments are collected on the way
 * out so the success path pays nothing for them.
 */
export class WalkFailure {
  readonly segments: string[] = [];
  /** `stout`: Mesos' wording of the problem, when it has its own (see `DecodeError.stout`). */
  constructor(
    readonly reason: string,
    readonly stout?: string,
  ) {}

  /** Prepends a field name (`name`), an index (`[3]`) or a map key (`["k"]`). */
  within(segment: string): WalkFailure {
    this.segments.push(segment);
    return this;
  }

  /** The dotted path, outermost first. */
  path(): string {
    let out = "";
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const s = this.segments[i] as string;
      out += s.startsWith("[") || out === "" ? s : `.${s}`;
    }
    return out;
  }
}

/**
 * The project's wire schema (proto/**), loaded once from the committed
 * compact descriptor. Parsing it costs a few milliseconds; protobufjs is not
 * imported at run time.
 */
import type { SchemaDescriptor } from "./descriptor.js";
import { SCHEMA_JSON } from "./generated/descriptor.js";
import { Schema } from "./schema.js";

let schema: Schema | undefined;

/** The schema of all proto/ files (built on first use). */
export function defaultSchema(): Schema {
  schema ??= new Schema(JSON.parse(SCHEMA_JSON) as SchemaDescriptor);
  return schema;
}

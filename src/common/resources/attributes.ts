/**
 * Agent attributes (`--attributes=rack:r1;os:ubuntu;zone:[1-3];weight:2.5`):
 * parsing, text and JSON forms, comparison.
 *
 * Mesos reads each value with the same grammar as resources: a number is a
 * SCALAR, `[a-b,...]` RANGES, anything else TEXT. Mesos aborts on `{set}`
 * attribute values; we return an error instead, unless `allowSets` is given.
 */

import {
  flatFromValueRanges,
  formatValueRanges,
  valueRangesEqual,
  valueRangesFromFlat,
} from "./ranges.js";
import { compareScalars, formatScalar } from "./scalar.js";
import type { Attribute, Result } from "./types.js";
import { formatSet, itemsEqual, parseValue, tokenize } from "./values.js";

/** Options for `parseAttributes`. */
export interface ParseAttributesOptions {
  /** Accept `{a,b}` values as SET attributes (Mesos rejects them). Default false. */
  allowSets?: boolean;
}

/** Parses one `name` / `text` pair into an attribute. */
export function parseAttribute(
  name: string,
  text: string,
  options: ParseAttributesOptions = {},
): Result<Attribute> {
  const parsed = parseValue(text);
  if (!parsed.ok) return { ok: false, error: `Bad value for attribute '${name}': ${parsed.error}` };
  const v = parsed.value;
  switch (v.type) {
    case "SCALAR":
      return { ok: true, value: { name, type: "SCALAR", scalar: { value: v.scalar!.value } } };
    case "TEXT":
      return { ok: true, value: { name, type: "TEXT", text: { value: v.text!.value } } };
    case "RANGES": {
      if (v.ranges!.range.some((r) => r.begin > r.end)) {
        return { ok: false, error: `Bad value for attribute '${name}': range begin > end` };
      }
      const ranges = valueRangesFromFlat(flatFromValueRanges(v.ranges));
      return { ok: true, value: { name, type: "RANGES", ranges } };
    }
    case "SET":
      if (options.allowSets === true) {
        return { ok: true, value: { name, type: "SET", set: { item: v.set!.item } } };
      }
      return {
        ok: false,
        error: `Bad value for attribute '${name}': set values ('${text.trim()}') are not supported`,
      };
  }
}

/**
 * Parses the `--attributes` text: `name:value` pairs separated by `;` or
 * newlines. Only the first `:` separates (values may contain `:`); spaces in
 * values are dropped, names are kept as written.
 */
export function parseAttributes(
  text: string,
  options: ParseAttributesOptions = {},
): Result<Attribute[]> {
  if (typeof text !== "string") return { ok: false, error: "attributes must be a string" };
  const out: Attribute[] = [];
  for (const token of tokenize(text, ";\n")) {
    const colon = token.indexOf(":");
    const name = colon === -1 ? token : token.slice(0, colon);
    const value = colon === -1 ? "" : token.slice(colon + 1);
    if (colon === -1 || name === "" || value === "") {
      return { ok: false, error: `Invalid attribute key:value pair '${token}'` };
    }
    const attribute = parseAttribute(name, value, options);
    if (!attribute.ok) return attribute;
    out.push(attribute.value);
  }
  return { ok: true, value: out };
}

/** The value of an attribute as Mesos prints it (`2.5`, `[1-3]`, `{a, b}`, `r1`). */
export function formatAttributeValue(attribute: Attribute): string {
  switch (attribute.type) {
    case "SCALAR":
      return formatScalar(attribute.scalar?.value ?? 0);
    case "RANGES":
      return formatValueRanges(attribute.ranges);
    case "SET":
      return formatSet(attribute.set);
    case "TEXT":
      return attribute.text?.value ?? "";
  }
}

/** Mesos' text form of one attribute: `rack=r1`. */
export function formatAttribute(attribute: Attribute): string {
  return `${attribute.name}=${formatAttributeValue(attribute)}`;
}

/** The `--attributes` flag form, which `parseAttributes` reads back: `rack:r1;zone:[1-3]`. */
export function formatAttributesFlag(attributes: readonly Attribute[]): string {
  return attributes.map((a) => `${a.name}:${formatAttributeValue(a)}`).join(";");
}

/**
 * The JSON object the legacy endpoints show (`/master/slaves`, `/state`):
 * name -> number for scalars, else the text form, in flag order (Mesos
 * streams them as they come; a repeated name keeps its last value here,
 * which is what a JSON parser reads from Mesos' repeated key).
 */
export function attributesToJson(
  attributes: readonly Attribute[],
): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const a of attributes) {
    out[a.name] = a.type === "SCALAR" ? (a.scalar?.value ?? 0) : formatAttributeValue(a);
  }
  return out;
}

/** True when two attributes have the same name, type and value. */
export function attributeEquals(a: Attribute, b: Attribute): boolean {
  if (a.name !== b.name || a.type !== b.type) return false;
  switch (a.type) {
    case "SCALAR":
      return compareScalars(a.scalar?.value ?? 0, b.scalar?.value ?? 0) === 0;
    case "RANGES":
      return valueRangesEqual(a.ranges ?? { range: [] }, b.ranges ?? { range: [] });
    case "SET":
      return itemsEqual(a.set?.item ?? [], b.set?.item ?? []);
    case "TEXT":
      return (a.text?.value ?? "") === (b.text?.value ?? "");
  }
}

/**
 * Equality of attribute lists as Mesos checks it when an agent re-registers:
 * same length and every attribute of each found in the other.
 */
export function attributesEqual(a: readonly Attribute[], b: readonly Attribute[]): boolean {
  if (a.length !== b.length) return false;
  return (
    a.every((x) => b.some((y) => attributeEquals(x, y))) &&
    b.every((y) => a.some((x) => attributeEquals(x, y)))
  );
}

/** The first attribute with the given name (and type, when given). */
export function findAttribute(
  attributes: readonly Attribute[],
  name: string,
  type?: Attribute["type"],
): Attribute | undefined {
  return attributes.find((a) => a.name === name && (type === undefined || a.type === type));
}

/** Validates an attribute message (Mesos' `Attributes::isValid`, plus SET when allowed). */
export function validateAttribute(
  attribute: Attribute,
  options: ParseAttributesOptions = {},
): string | undefined {
  if (attribute === null || typeof attribute !== "object") return "Attribute must be an object";
  if (typeof attribute.name !== "string" || attribute.name === "") return "Empty attribute name";
  switch (attribute.type) {
    case "SCALAR":
      return attribute.scalar === undefined ? "Scalar attribute without a value" : undefined;
    case "RANGES":
      return attribute.ranges === undefined ? "Ranges attribute without a value" : undefined;
    case "TEXT":
      return attribute.text === undefined ? "Text attribute without a value" : undefined;
    case "SET":
      if (options.allowSets !== true) return "Set attributes are not supported";
      return attribute.set === undefined ? "Set attribute without a value" : undefined;
    default:
      return "Invalid attribute type";
  }
}

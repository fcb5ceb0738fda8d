/**
 * Build-time only: parses `.proto` files with protobufjs and reduces them to
 * a `SchemaDescriptor`. The runtime never imports this module (protobufjs
 * costs ~40 ms to import).
 */
import { readdirSync } from "node:fs";
import { join, sep } from "node:path";
import protobuf from "protobufjs";
import {
  type FieldDescriptor,
  isScalarTypeName,
  type MessageDescriptor,
  type ScalarTypeName,
  type SchemaDescriptor,
} from "./descriptor.js";

/** All `.proto` files under `protoRoot`, as paths relative to it, sorted. */
export function listProtoFiles(protoRoot: string): string[] {
  return readdirSync(protoRoot, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".proto"))
    .map((f) => f.split(sep).join("/"))
    .sort();
}

/** Parses `files` (relative to `protoRoot`, which is also the import root). */
export function loadProtoRoot(protoRoot: string, files: readonly string[]): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string) =>
    target.startsWith(protoRoot) ? target : join(protoRoot, target);
  root.loadSync(
    files.map((f) => join(protoRoot, f)),
    { keepCase: true },
  );
  root.resolveAll();
  return root;
}

/** Parses every `.proto` under `protoRoot` into a descriptor. */
export function descriptorFromProtoDir(protoRoot: string): SchemaDescriptor {
  return descriptorFromRoot(loadProtoRoot(protoRoot, listProtoFiles(protoRoot)));
}

/** Reduces a resolved protobufjs root to a `SchemaDescriptor`. */
export function descriptorFromRoot(root: protobuf.Root): SchemaDescriptor {
  const packages: string[] = [];
  const messages: Record<string, MessageDescriptor> = {};
  const enums: Record<string, Record<string, number>> = {};

  const visit = (ns: protobuf.NamespaceBase, inType: boolean): void => {
    for (const child of ns.nestedArray) {
      if (child instanceof protobuf.Type) {
        messages[trimDot(child.fullName)] = messageDescriptor(child);
        visit(child, true);
      } else if (child instanceof protobuf.Enum) {
        enums[trimDot(child.fullName)] = { ...child.values };
      } else if (child instanceof protobuf.Namespace) {
        if (!inType && hasDirectTypes(child)) packages.push(trimDot(child.fullName));
        visit(child, inType);
      }
    }
  };
  visit(root, false);

  return {
    packages: packages.sort(),
    messages: sortKeys(messages),
    enums: sortKeys(enums),
  };
}

function hasDirectTypes(ns: protobuf.Namespace): boolean {
  return ns.nestedArray.some((c) => c instanceof protobuf.Type || c instanceof protobuf.Enum);
}

function messageDescriptor(type: protobuf.Type): MessageDescriptor {
  return { fields: type.fieldsArray.map(fieldDescriptor) };
}

function fieldDescriptor(field: protobuf.Field): FieldDescriptor {
  field.resolve();
  const resolved = field.resolvedType;
  const type = resolved === null ? field.type : trimDot(resolved.fullName);
  if (resolved === null && !isScalarTypeName(type)) {
    throw new Error(`${field.fullName}: unsupported field type '${field.type}'`);
  }
  const out: {
    name: string;
    id: number;
    type: string;
    label?: "required" | "repeated" | "map";
    keyType?: ScalarTypeName;
    default?: string | number | boolean;
    packed?: true;
    oneof?: string;
    deprecated?: true;
  } = { name: field.name, id: field.id, type };
  if (field instanceof protobuf.MapField) {
    out.label = "map";
    if (!isScalarTypeName(field.keyType)) {
      throw new Error(`${field.fullName}: unsupported map key type '${field.keyType}'`);
    }
    out.keyType = field.keyType;
  } else if ((field as unknown as { rule?: string }).rule === "required") {
    out.label = "required";
  } else if (field.repeated) {
    out.label = "repeated";
  }
  const options = field.options ?? {};
  const dflt: unknown = options.default;
  if (typeof dflt === "number" && !Number.isFinite(dflt)) {
    throw new Error(`${field.fullName}: non-finite default values are not supported`);
  }
  if (typeof dflt === "string" || typeof dflt === "number" || typeof dflt === "boolean") {
    out.default = dflt;
  }
  if (out.label === "repeated" && field.packed) out.packed = true;
  if (field.partOf) out.oneof = field.partOf.name;
  if (options.deprecated === true) out.deprecated = true;
  return out;
}

function trimDot(name: string): string {
  return name.startsWith(".") ? name.slice(1) : name;
}

function sortKeys<V>(record: Record<string, V>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const k of Object.keys(record).sort()) out[k] = record[k] as V;
  return out;
}

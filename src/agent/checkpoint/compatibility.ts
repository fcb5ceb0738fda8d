/**
 * Whether a restarted agent may keep its checkpointed identity: its current
 * SlaveInfo (from the flags) against the one checkpointed, under
 * `--reconfiguration_policy` (Mesos' slave/compatibility.cpp):
 *
 * - `equal`: nothing may change (compared as encoded protobuf);
 * - `additive`: hostname, port and domain stay; every checkpointed resource
 *   is still there with at least the same amount (scalars), range or set;
 *   every checkpointed attribute keeps its type and value.
 */
import type { SlaveInfo } from "../../common/protocol/generated/mesos-internal.js";
import type { Attribute } from "../../common/protocol/generated/mesos-v1.js";
import { codecFor } from "../../common/protocol/index.js";
import { resourcesOf } from "../wire-resources.js";

/** `undefined` when compatible, else the reason. */
export function checkAgentInfoCompatible(
  previous: SlaveInfo,
  current: SlaveInfo,
  policy: "equal" | "additive",
): string | undefined {
  const codec = codecFor<SlaveInfo>("mesos.internal.SlaveInfo");
  if (codec.encodeProtobuf(previous).equals(codec.encodeProtobuf(current))) return undefined;
  if (policy === "equal") {
    return [
      "Incompatible agent info detected.",
      "------------------------------------------------------------",
      `Old agent info:\n${codec.encodeJson(previous)}`,
      "------------------------------------------------------------",
      `New agent info:\n${codec.encodeJson(current)}`,
      "------------------------------------------------------------",
    ].join("\n");
  }
  return additive(previous, current);
}

const notPermitted = "Configuration change not permitted under 'additive' policy";

function additive(previous: SlaveInfo, current: SlaveInfo): string | undefined {
  if (previous.hostname !== current.hostname) {
    return `${notPermitted}: hostname changed from ${previous.hostname} to ${current.hostname}`;
  }
  if ((previous.port ?? 5051) !== (current.port ?? 5051)) {
    return `${notPermitted}: port changed from ${previous.port} to ${current.port}`;
  }
  if (previous.domain !== undefined) {
    const json = (d: unknown) => JSON.stringify(d ?? null);
    if (json(previous.domain) !== json(current.domain)) {
      return `${notPermitted}: domain changed from ${json(previous.domain)} to ${json(current.domain)}`;
    }
  }
  const now = resourcesOf(current.resources);
  for (const resource of resourcesOf(previous.resources).toArray()) {
    if (!now.contains(resourcesOf([resource as never]))) {
      return `${notPermitted}: resource ${resourcesOf([resource as never]).toString()} is no longer (fully) offered`;
    }
  }
  const attributes = new Map((current.attributes ?? []).map((a) => [a.name, a]));
  for (const attribute of previous.attributes ?? []) {
    const match = attributes.get(attribute.name);
    if (match === undefined) return `${notPermitted}: attribute '${attribute.name}' is gone`;
    if (match.type !== attribute.type) {
      return `${notPermitted}: type of attribute '${attribute.name}' changed from ${attribute.type} to ${match.type}`;
    }
    if (!attributeKept(attribute, match)) {
      return `${notPermitted}: value of attribute '${attribute.name}' changed`;
    }
  }
  return undefined;
}

function attributeKept(previous: Attribute, current: Attribute): boolean {
  switch (previous.type) {
    case "SCALAR":
      return previous.scalar?.value === current.scalar?.value;
    case "TEXT":
      return previous.text?.value === current.text?.value;
    case "RANGES":
      return (previous.ranges?.range ?? []).every((r) =>
        (current.ranges?.range ?? []).some((c) => c.begin <= r.begin && r.end <= c.end),
      );
    default:
      return JSON.stringify(previous) === JSON.stringify(current);
  }
}

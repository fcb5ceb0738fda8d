/**
 * Secret resolution, as Mesos' `SecretResolver` (include/mesos/secret/
 * resolver.hpp): the agent hands every secret of a launch (SECRET
 * environment variables, SECRET volumes) to one resolver and puts the data
 * it answers into the container.
 *
 * Mesos lets a module replace the resolver (`--secret_resolver=<module>`),
 * e.g. one that looks REFERENCE secrets up in a vault. mesos-ts cannot load
 * modules, so the only resolver is the default one: a VALUE secret resolves
 * to its own data, a REFERENCE secret is an error. The interface stays
 * small so another resolver can be plugged in from TypeScript later.
 */
import type { Secret } from "../protocol/generated/mesos-v1.js";

/** Resolves a secret to its data. Rejects with a one-line reason when it cannot. */
export interface SecretResolver {
  resolve(secret: Secret): Promise<Buffer>;
}

/** Mesos' default resolver: values only. */
export class DefaultSecretResolver implements SecretResolver {
  async resolve(secret: Secret): Promise<Buffer> {
    if (secret.reference !== undefined) {
      throw new Error("Default secret resolver cannot resolve references");
    }
    if (secret.value === undefined) throw new Error("Secret has no value");
    return secretData(secret.value.data);
  }
}

/**
 * The resolver `--secret_resolver` names: unset is the default resolver;
 * any name is a module, which mesos-ts cannot load (the agent stops at
 * start with this error, as Mesos does for a module it does not know).
 */
export function createSecretResolver(
  moduleName: string | undefined,
): { ok: true; resolver: SecretResolver } | { ok: false; error: string } {
  if (moduleName === undefined) return { ok: true, resolver: new DefaultSecretResolver() };
  return { ok: false, error: secretResolverModuleError(moduleName) };
}

/** Why `--secret_resolver=<name>` cannot be used. */
export function secretResolverModuleError(moduleName: string): string {
  return (
    `Failed to initialize secret resolver: Module '${moduleName}' unknown ` +
    "(mesos-ts cannot load modules; leave --secret_resolver unset to use the default " +
    "resolver, which resolves VALUE secrets)"
  );
}

/**
 * The bytes of `Secret.Value.data` however the message reached us: decoded
 * protobuf (a Uint8Array), or JSON that was not decoded through the schema
 * (a base64 string, or a Uint8Array that went through JSON.stringify).
 */
export function secretData(data: unknown): Buffer {
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (typeof data === "string") return Buffer.from(data, "base64");
  if (data !== null && typeof data === "object") {
    const bytes = Object.values(data as Record<string, unknown>);
    if (bytes.every((b) => typeof b === "number")) return Buffer.from(bytes as number[]);
  }
  return Buffer.alloc(0);
}

/**
 * Mesos' checks of secrets and environments (src/common/validation.cpp,
 * `validateSecret` and `validateEnvironment`), with its wording. The master
 * runs them on every CommandInfo of a launch; the agent's
 * `environment_secret` and `volume/secret` isolators run them again before
 * resolving (LAUNCH_NESTED_CONTAINER calls never pass the master).
 */
import type { Environment, Secret } from "../protocol/generated/mesos-v1.js";
import { secretData } from "./resolver.js";

/** A secret's type must match the one of `value`/`reference` it sets; UNKNOWN is not checked. */
export function validateSecret(secret: Secret): string | undefined {
  switch (secret.type) {
    case "REFERENCE":
      if (secret.reference === undefined) {
        return "Secret of type REFERENCE must have the 'reference' field set";
      }
      if (secret.value !== undefined) {
        return `Secret '${secret.reference.name}' of type REFERENCE must not have the 'value' field set`;
      }
      return undefined;
    case "VALUE":
      if (secret.value === undefined) return "Secret of type VALUE must have the 'value' field set";
      if (secret.reference !== undefined) {
        return "Secret of type VALUE must not have the 'reference' field set";
      }
      return undefined;
    default:
      return undefined;
  }
}

/**
 * The SECRET-specific rules of `validateEnvironment` for one variable: a
 * secret and no value, a valid secret, and no NUL byte in a value secret
 * (an environment cannot hold one).
 */
export function validateSecretVariable(variable: {
  name: string;
  value?: string | undefined;
  secret?: Secret | undefined;
}): string | undefined {
  const { name, secret } = variable;
  if (secret === undefined) {
    return `Environment variable '${name}' of type 'SECRET' must have a secret set`;
  }
  if (variable.value !== undefined) {
    return `Environment variable '${name}' of type 'SECRET' must not have a value set`;
  }
  const error = validateSecret(secret);
  if (error !== undefined) {
    return `Environment variable '${name}' specifies an invalid secret: ${error}`;
  }
  if (secret.value !== undefined && secretData(secret.value.data).includes(0)) {
    return `Environment variable '${name}' specifies a secret containing null bytes, which is not allowed in the environment`;
  }
  return undefined;
}

/** Mesos' `validateEnvironment`: every variable by its type (VALUE is the default). */
export function validateEnvironment(environment: Environment | undefined): string | undefined {
  for (const v of environment?.variables ?? []) {
    switch (v.type ?? "VALUE") {
      case "SECRET": {
        const error = validateSecretVariable(v);
        if (error !== undefined) return error;
        break;
      }
      case "VALUE":
        if (v.value === undefined) {
          return `Environment variable '${v.name}' of type 'VALUE' must have a value set`;
        }
        if (v.secret !== undefined) {
          return `Environment variable '${v.name}' of type 'VALUE' must not have a secret set`;
        }
        break;
      default:
        return "Environment variable of type 'UNKNOWN' is not allowed";
    }
  }
  return undefined;
}

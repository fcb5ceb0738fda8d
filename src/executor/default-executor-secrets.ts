/**
 * SECRET environment variables of a task group's task when the default
 * executor runs it as its own child process (the agent has no nested
 * containers for it). In Mesos every task of a group is a nested container
 * and the agent's `environment_secret` isolator resolves its secrets; with
 * nested containers mesos-ts does the same. Without them nothing else would
 * resolve them, so the executor does, with the rules of the agent's
 * resolver: an agent can only use the default resolver (it refuses to start
 * with `--secret_resolver=<module>`), which resolves VALUE secrets to their
 * data and cannot resolve REFERENCE secrets. A secret that fails validation
 * or resolution fails the task with the isolator's wording, as a nested
 * launch would, instead of starting it without the variable.
 */
import type { Secret } from "../common/protocol/generated/mesos-v1.js";
import { secretData } from "../common/secrets/resolver.js";
import { validateSecretVariable } from "../common/secrets/validation.js";
import type { CommandInfo, Environment } from "./protocol.js";

/**
 * The resolved SECRET variables of `command` as plain variables (to merge
 * under the command's own VALUE variables, as the isolator's environment
 * is), undefined when it has none, or why the task cannot start.
 */
export function resolveTaskSecrets(
  command: CommandInfo,
): { environment: Environment } | { error: string } | undefined {
  const variables = command.environment?.variables ?? [];
  const secrets = variables.filter((v) => v.type === "SECRET");
  if (secrets.length === 0) return undefined;
  const resolved: { name: string; value: string }[] = [];
  for (const variable of secrets) {
    const secret = variable.secret as Secret | undefined;
    const invalid = validateSecretVariable({
      name: variable.name,
      value: variable.value,
      secret,
    });
    if (invalid !== undefined) return { error: `Invalid environment specified: ${invalid}` };
    if (secret?.reference !== undefined) {
      return {
        error: `Failed to resolve the secret of environment variable '${variable.name}': Default secret resolver cannot resolve references`,
      };
    }
    if (secret?.value === undefined) {
      return {
        error: `Failed to resolve the secret of environment variable '${variable.name}': Secret has no value`,
      };
    }
    resolved.push({ name: variable.name, value: secretData(secret.value.data).toString("utf8") });
  }
  return { environment: { variables: resolved } };
}

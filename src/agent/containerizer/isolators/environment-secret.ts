/**
 * `environment_secret`: the SECRET variables of a container's command are
 * resolved (by the agent's secret resolver, src/common/secrets) and put
 * into its environment, as Mesos' isolator of that name. Like Mesos, the
 * agent always loads it, whatever `--isolation` says, and it serves nested
 * containers too (the tasks of a task group).
 *
 * The resolved values join the container's environment above the agent's
 * variables; the command's plain VALUE variables still win over them. For a
 * command task the command executor's ExecutorInfo carries the task's
 * environment, so the task inherits the values from its executor (Mesos
 * also repeats them in `--task_environment` on the executor's command line;
 * we leave that out, so a secret never shows in a process list).
 *
 * A variable that fails validation or resolution fails the launch
 * (TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED) with Mesos' wording.
 */
import type { SecretResolver } from "../../../common/secrets/resolver.js";
import { validateEnvironment, validateSecret } from "../../../common/secrets/validation.js";
import { BaseIsolator, type ContainerConfig, type LaunchPreparation } from "./isolator.js";

/** The isolator's name (`--isolation` may name it; it is loaded anyway). */
export const ENVIRONMENT_SECRET = "environment_secret";

export class EnvironmentSecretIsolator extends BaseIsolator {
  readonly name = ENVIRONMENT_SECRET;

  constructor(private readonly resolver: SecretResolver | undefined) {
    super();
  }

  override async prepare(config: ContainerConfig): Promise<LaunchPreparation | undefined> {
    const environment = config.executor.command?.environment;
    const secrets = (environment?.variables ?? []).filter((v) => v.type === "SECRET");
    // Validated only when there is something to resolve: plain variables are the master's job.
    if (secrets.length === 0) return undefined;
    const invalid = validateEnvironment(environment);
    if (invalid !== undefined) throw new Error(`Invalid environment specified: ${invalid}`);
    const resolved = await Promise.all(
      secrets.map(async (variable) => {
        const secret = variable.secret ?? {};
        const error = validateSecret(secret);
        if (error !== undefined) {
          throw new Error(`Invalid secret specified in environment '${variable.name}': ${error}`);
        }
        if (this.resolver === undefined) {
          throw new Error(
            `Error: Environment variable '${variable.name}' contains secret but no secret resolver provided`,
          );
        }
        const data = await this.resolver.resolve(secret);
        return [variable.name, data.toString("utf8")] as const;
      }),
    );
    // A plain variable of the same name comes later in Mesos' merge, and wins.
    const plain = new Set(
      (environment?.variables ?? []).filter((v) => v.type !== "SECRET").map((v) => v.name),
    );
    return { environment: Object.fromEntries(resolved.filter(([name]) => !plain.has(name))) };
  }
}

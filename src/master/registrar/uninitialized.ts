/**
 * The registrar of a master started with `--log_auto_initialize=false` that
 * finds no registry (a new cluster, or a work dir / ZooKeeper data that was
 * lost). As Mesos' replicated log left EMPTY without auto-initialization,
 * it never recovers: the master waits until `--registry_fetch_timeout` and
 * exits, instead of starting with an empty registry and forgetting agents,
 * quota, weights and maintenance.
 */
import type { Logger } from "../../common/observability/logger.js";
import type { Registry } from "../../common/protocol/generated/mesos-internal.js";
import type { Registrar } from "./registrar.js";

/** The log line (and reason) for a registry that is not there. */
export function notInitializedMessage(where: string): string {
  return (
    `The registry at ${where} does not exist and --log_auto_initialize=false: not creating an ` +
    "empty one (restore it, or start once with --log_auto_initialize=true to create it)"
  );
}

export class UninitializedRegistrar implements Registrar {
  readonly durable = true;
  readonly name = "uninitialized";

  constructor(
    private readonly where: string,
    private readonly logger: Logger,
  ) {}

  recover(): Promise<Registry> {
    this.logger.warn(notInitializedMessage(this.where));
    return new Promise<Registry>(() => {});
  }

  apply(): Promise<boolean> {
    return Promise.reject(new Error("The registry was never recovered"));
  }

  snapshot(): Registry {
    return {};
  }
}

/**
 * `namespaces/pid`: the executor starts in a new pid namespace (it is pid 1
 * there) with its own /proc, so its tasks see only the container's
 * processes. When pid 1 of a namespace dies the kernel kills everything
 * else in it, so no process outlives the container.
 */
import { BaseIsolator, type LaunchPreparation } from "./isolator.js";

export class NamespacesPidIsolator extends BaseIsolator {
  readonly name = "namespaces/pid";

  override async prepare(): Promise<LaunchPreparation> {
    return { pidNamespace: true, mountNamespace: true };
  }
}

/**
 * `linux/nnp`: every process of the container has the no_new_privs bit
 * (`NoNewPrivs: 1` in /proc/<pid>/status), so nothing it execs can gain
 * privileges (set-user-id and set-group-id bits and file capabilities are
 * ignored). The launch sets it with util-linux `setpriv --no-new-privs`
 * just before it execs the executor; children inherit it.
 */
import { BaseIsolator, type LaunchPreparation } from "./isolator.js";

export class LinuxNnpIsolator extends BaseIsolator {
  readonly name = "linux/nnp";

  override async prepare(): Promise<LaunchPreparation> {
    return { noNewPrivs: true };
  }
}

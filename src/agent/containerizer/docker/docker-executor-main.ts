/**
 * Entry point of the docker executor (see docker-executor.ts):
 * `node docker-executor-main.js --container=<name> --docker=<path>
 * --sandbox_directory=<dir> --mapped_directory=<dir> [--docker_socket=<path>]
 * [--stop_timeout=<duration>] [--launcher_dir=<dir>] [--cgroups_enable_cfs]
 * [--task_environment=<json>]`, with the `MESOS_*` executor environment.
 * The agent starts it; its flags are Mesos' `mesos-docker-executor` flags.
 */
import { systemClock } from "../../../common/time/clock.js";
import { ExecutorClient } from "../../../executor/library.js";
import { stderrLogger } from "../../../executor/stderr-logger.js";
import { DockerCli } from "./docker-cli.js";
import { DockerExecutor, parseDockerExecutorFlags } from "./docker-executor.js";

function main(): void {
  const logger = stderrLogger(systemClock, "docker-executor.ts");
  const parsed = parseDockerExecutorFlags(process.argv.slice(2));
  if ("error" in parsed) {
    process.stderr.write(`${parsed.error}\n`);
    process.exit(1);
  }
  let client: ExecutorClient;
  try {
    client = ExecutorClient.fromEnvironment(process.env, {
      logger,
      onShutdownDeadline: () => process.exit(1),
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(1);
  }
  const docker = new DockerCli({ path: parsed.docker, socket: parsed.socket });
  const executor = new DockerExecutor(client, docker, parsed.flags, logger, (code) => {
    // Let the last acknowledgement's socket close first.
    setTimeout(() => process.exit(code), 100).unref();
  });
  executor.start();
}

main();

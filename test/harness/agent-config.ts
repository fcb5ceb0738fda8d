/**
 * An AgentConfig for tests of the agent core (no sockets, no processes):
 * Mesos' defaults, one agent at slave(1)@127.0.0.1:5051 with work dir
 * `/work`; `extra` overrides any field.
 */
import type { AgentConfig } from "../../src/agent/agent-ports.js";
import { Duration } from "../../src/common/flags/duration.js";

export function testAgentConfig(extra: Partial<AgentConfig> = {}): AgentConfig {
  return {
    workDir: "/work",
    selfPid: "slave(1)@127.0.0.1:5051",
    endpoint: "127.0.0.1:5051",
    info: { hostname: "h", port: 5051, checkpoint: true, resources: [] },
    capabilities: [],
    version: "1.12.0",
    launcherDir: "/bin",
    commandExecutorPath: "/bin/mesos-executor",
    executorRegistrationTimeout: Duration.minutes(1),
    executorShutdownGracePeriod: Duration.seconds(5),
    recoveryTimeout: Duration.minutes(15),
    executorReregistrationTimeout: Duration.seconds(2),
    httpCommandExecutor: false,
    executorEnvironmentVariables: undefined,
    switchUser: false,
    registrationBackoffFactor: Duration.seconds(1),
    maxCompletedExecutorsPerFramework: 150,
    agentEnv: {},
    ...extra,
  };
}

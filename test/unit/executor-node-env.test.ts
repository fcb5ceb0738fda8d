import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  findCommandExecutor,
  findDefaultExecutor,
  shieldNodeStartupVariables,
} from "../../src/agent/containerizer/executor-command.js";
import { binDir } from "../../src/common/flags/install-paths.js";
import { restoreTaskVariables } from "../../src/executor/executor-environment.js";

const ours = findCommandExecutor(binDir()) as string;
const oursDefault = findDefaultExecutor(binDir()) as string;
const base = { PATH: "/bin", NODE_EXTRA_CA_CERTS: "/ca.pem", NODE_OPTIONS: "--inspect" };

describe("Node start-up variables of executors", () => {
  it("our command and default executors get them under MESOS_TS_TASK_*; the executor restores them", () => {
    for (const value of [ours, oursDefault]) {
      const env: Record<string, string> = { ...base };
      shieldNodeStartupVariables({ value, shell: false }, env);
      assert.deepEqual(env, {
        PATH: "/bin",
        MESOS_TS_TASK_NODE_EXTRA_CA_CERTS: "/ca.pem",
        MESOS_TS_TASK_NODE_OPTIONS: "--inspect",
      });
      restoreTaskVariables(env);
      assert.deepEqual(env, base);
    }
  });

  it("other executors (and shell commands naming ours) keep their environment as given", () => {
    for (const command of [{ value: "/opt/my-executor", shell: false }, { value: ours }]) {
      const env: Record<string, string> = { ...base };
      shieldNodeStartupVariables(command, env);
      assert.deepEqual(env, base);
    }
  });

  it("with TLS on and no LIBPROCESS_SSL_CA_FILE the executor keeps NODE_EXTRA_CA_CERTS (its TLS may need it)", () => {
    const env: Record<string, string> = { ...base, LIBPROCESS_SSL_ENABLED: "true" };
    shieldNodeStartupVariables({ value: ours, shell: false }, env);
    assert.equal(env.NODE_EXTRA_CA_CERTS, "/ca.pem");
    assert.equal(env.NODE_OPTIONS, undefined);
    const withCa: Record<string, string> = {
      ...base,
      LIBPROCESS_SSL_ENABLED: "1",
      LIBPROCESS_SSL_CA_FILE: "/our-ca.pem",
    };
    shieldNodeStartupVariables({ value: ours, shell: false }, withCa);
    assert.equal(withCa.NODE_EXTRA_CA_CERTS, undefined);
  });
});

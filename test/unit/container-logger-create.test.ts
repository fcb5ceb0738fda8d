import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  createContainerLogger,
  loggerEnvironment,
} from "../../src/agent/containerizer/logger/container-logger.js";
import { silentLogger as quiet } from "../../src/common/observability/logger.js";

const NAME = "org_apache_mesos_LogrotateContainerLogger";

function manifest(parameters: { key: string; value: string }[]) {
  return {
    libraries: [
      { file: "/x/liblogrotate_container_logger.so", modules: [{ name: NAME, parameters }] },
    ],
  };
}

test("container logger: none without --container_logger, even when --modules lists it", async () => {
  assert.equal(await createContainerLogger({ modules: manifest([]) }, quiet), undefined);
});

test("container logger: parameters come from --modules", async () => {
  const logger = await createContainerLogger(
    {
      container_logger: NAME,
      modules: manifest([
        { key: "max_stderr_size", value: "64KB" },
        { key: "logrotate_path", value: "true" },
      ]),
    },
    quiet,
  );
  assert.equal(logger?.parameters.stderr.maxSize, 65536);
  assert.equal(logger?.parameters.logrotatePath, "true");
});

test("container logger: --modules_dir files are read in name order", async () => {
  const dir = mkdtempSync(join(tmpdir(), "modules-dir-"));
  try {
    writeFileSync(join(dir, "a.json"), JSON.stringify({ libraries: [] }));
    writeFileSync(
      join(dir, "b.json"),
      JSON.stringify(manifest([{ key: "logrotate_path", value: "true" }])),
    );
    const logger = await createContainerLogger({ container_logger: NAME, modules_dir: dir }, quiet);
    assert.equal(logger?.parameters.logrotatePath, "true");
    writeFileSync(join(dir, "c.json"), "{not json");
    await assert.rejects(
      createContainerLogger({ container_logger: NAME, modules_dir: dir }, quiet),
      /^Error: Cannot create container logger: Failed to read module manifest '.*c\.json'/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("container logger: an unlisted module, a bad parameter or a broken logrotate stop the agent", async () => {
  await assert.rejects(
    createContainerLogger({ container_logger: NAME }, quiet),
    /Cannot create container logger: module '.*' is not listed in --modules or --modules_dir/,
  );
  await assert.rejects(
    createContainerLogger(
      { container_logger: NAME, modules: manifest([{ key: "max_files", value: "3" }]) },
      quiet,
    ),
    /unknown parameter 'max_files'/,
  );
  await assert.rejects(
    createContainerLogger(
      { container_logger: NAME, modules: manifest([{ key: "logrotate_path", value: "false" }]) },
      quiet,
    ),
    /Failed to check logrotate/,
  );
});

test("container logger: loggers do not inherit the agent's MESOS_ and LIBPROCESS_ variables", () => {
  assert.deepEqual(
    loggerEnvironment({ PATH: "/bin", MESOS_WORK_DIR: "/w", LIBPROCESS_IP: "1.2.3.4", HOME: "/" }),
    { PATH: "/bin", HOME: "/" },
  );
});

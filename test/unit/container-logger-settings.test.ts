import assert from "node:assert/strict";
import { test } from "node:test";
import {
  containerSettings,
  findModuleParameters,
  LOGROTATE_MODULE_NAME,
  type LogrotateParameters,
  logrotateCommand,
  logrotateConfig,
  parseLogrotateParameters,
  parseLogSize,
} from "../../src/agent/containerizer/logger/logrotate-settings.js";
import type { JsonValue } from "../../src/common/flags/spec.js";

const MANIFEST: JsonValue = {
  libraries: [
    {
      file: "/usr/lib/mesos/modules/liblogrotate_container_logger.so",
      modules: [
        {
          name: LOGROTATE_MODULE_NAME,
          parameters: [
            { key: "max_stdout_size", value: "1MB" },
            { key: "logrotate_stdout_options", value: "rotate 9" },
          ],
        },
      ],
    },
  ],
};

function params(values: Record<string, string>): LogrotateParameters {
  const r = parseLogrotateParameters(values);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

test("container logger: the module's parameters are found in a --modules manifest", () => {
  const r = findModuleParameters([MANIFEST], LOGROTATE_MODULE_NAME);
  assert.deepEqual(r, {
    ok: true,
    value: { max_stdout_size: "1MB", logrotate_stdout_options: "rotate 9" },
  });
});

test("container logger: a module listed nowhere, or by name only, is told apart", () => {
  const other: JsonValue = { libraries: [{ name: "x", modules: [{ name: "org_other" }] }] };
  assert.deepEqual(findModuleParameters([other], LOGROTATE_MODULE_NAME), {
    ok: true,
    value: undefined,
  });
  const byName: JsonValue = { libraries: [{ file: "a.so", modules: [LOGROTATE_MODULE_NAME] }] };
  assert.deepEqual(findModuleParameters([other, byName], LOGROTATE_MODULE_NAME), {
    ok: true,
    value: {},
  });
});

test("container logger: a module listed twice or a malformed manifest is an error", () => {
  const twice = findModuleParameters([MANIFEST, MANIFEST], LOGROTATE_MODULE_NAME);
  assert.equal(twice.ok, false);
  assert.equal(findModuleParameters(["x"], LOGROTATE_MODULE_NAME).ok, false);
  const badParam: JsonValue = {
    libraries: [{ modules: [{ name: LOGROTATE_MODULE_NAME, parameters: [{ value: "1" }] }] }],
  };
  assert.equal(findModuleParameters([badParam], LOGROTATE_MODULE_NAME).ok, false);
});

test("container logger: parameters default as in Mesos (10MB, CONTAINER_LOGGER_, logrotate)", () => {
  const p = params({});
  assert.equal(p.stdout.maxSize, 10 * 1024 * 1024);
  assert.equal(p.stderr.maxSize, 10 * 1024 * 1024);
  assert.equal(p.stdout.options, undefined);
  assert.equal(p.environmentVariablePrefix, "CONTAINER_LOGGER_");
  assert.equal(p.logrotatePath, "logrotate");
});

test("container logger: sizes use stout's byte syntax and must hold one page", () => {
  assert.deepEqual(parseLogSize("max_stdout_size", "10KB"), { ok: true, value: 10240 });
  assert.deepEqual(parseLogSize("max_stdout_size", "4096B"), { ok: true, value: 4096 });
  assert.equal(parseLogSize("max_stdout_size", "4095B").ok, false);
  assert.equal(parseLogSize("max_stdout_size", "1.5MB").ok, false);
  assert.equal(parseLogSize("max_stdout_size", "ten").ok, false);
  const p = params({ max_stderr_size: "2MB", logrotate_stderr_options: "rotate 1\ncompress" });
  assert.equal(p.stderr.maxSize, 2 * 1024 * 1024);
  assert.equal(p.stderr.options, "rotate 1\ncompress");
});

test("container logger: unknown parameters are refused, Mesos-only ones are taken", () => {
  const r = parseLogrotateParameters({ max_stdout_sise: "1MB" });
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.error, /max_stdout_sise/);
  assert.equal(parseLogrotateParameters({ launcher_dir: "/usr/libexec/mesos" }).ok, true);
  assert.equal(parseLogrotateParameters({ libprocess_num_worker_threads: "4" }).ok, true);
  assert.equal(parseLogrotateParameters({ libprocess_num_worker_threads: "0" }).ok, false);
});

test("container logger: CONTAINER_LOGGER_* variables override one container's settings", () => {
  const base = params({ max_stdout_size: "1MB", logrotate_stdout_options: "rotate 9" });
  const r = containerSettings(base, [
    {
      variables: [
        { name: "PATH", value: "/bin" },
        { name: "CONTAINER_LOGGER_MAX_STDOUT_SIZE", value: "20KB" },
      ],
    },
    undefined,
    { variables: [{ name: "CONTAINER_LOGGER_LOGROTATE_STDERR_OPTIONS", value: "rotate 3" }] },
  ]);
  assert.ok(r.ok);
  assert.deepEqual(r.value.stdout, { maxSize: 20 * 1024, options: "rotate 9" });
  assert.deepEqual(r.value.stderr, { maxSize: 10 * 1024 * 1024, options: "rotate 3" });
});

test("container logger: the prefix is configurable and unknown prefixed variables fail", () => {
  const base = params({ environment_variable_prefix: "LOGS_" });
  const ok = containerSettings(base, [
    { variables: [{ name: "LOGS_MAX_STDERR_SIZE", value: "8KB" }] },
  ]);
  assert.ok(ok.ok);
  assert.equal(ok.value.stderr.maxSize, 8192);
  const bad = containerSettings(base, [{ variables: [{ name: "LOGS_MAX_FILES", value: "3" }] }]);
  assert.equal(bad.ok, false);
  if (!bad.ok)
    assert.match(bad.error, /^Failed to load container logger settings: .*LOGS_MAX_FILES/);
  const small = containerSettings(base, [
    { variables: [{ name: "LOGS_MAX_STDOUT_SIZE", value: "1KB" }] },
  ]);
  assert.equal(small.ok, false);
});

test("container logger: the logrotate config holds the options and a size one page under", () => {
  const text = logrotateConfig("/s/stdout", { maxSize: 10240, options: "rotate 2" });
  assert.equal(text, '"/s/stdout" {\nrotate 2\nsize 6144\n}\n');
  assert.equal(logrotateConfig("/s/stderr", { maxSize: 4096 }), '"/s/stderr" {\n\nsize 1\n}\n');
});

test("container logger: logrotate runs with a state file and the config beside the log", () => {
  assert.equal(
    logrotateCommand("/usr/sbin/logrotate", "/w/it's/stdout"),
    "/usr/sbin/logrotate --state '/w/it'\\''s/stdout.logrotate.state' " +
      "'/w/it'\\''s/stdout.logrotate.conf'",
  );
});

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Duration } from "../../src/common/flags/duration.js";
import {
  defineFlags,
  type LoadOptions,
  loadFlags,
  splitCommandLine,
  wantsBoolean,
  wantsHelp,
} from "../../src/common/flags/load.js";
import { flag } from "../../src/common/flags/spec.js";
import { usage } from "../../src/common/flags/usage.js";

const schema = defineFlags({
  port: flag.port({ help: "Port to listen on.", default: 5050, envFallback: "LIBPROCESS_PORT" }),
  quiet: flag.bool({ help: "Say nothing.", default: false }),
  work_dir: flag.string({ help: "Where state lives." }),
  master: flag.string({ help: "The master.", required: true }),
  interval: flag.duration({ help: "Tick.", default: "1secs" }),
  cache: flag.bytes({ help: "Cache size.", default: "2GB" }),
  ratio: flag.double({ help: "A share.", default: 0.8 }),
  count: flag.uint({
    help: "How many.",
    default: 5,
    validate: (v) => (v < 1 ? "Expected `--count` to be at least 1" : undefined),
  }),
  ping_timeout: flag.duration({
    help: "Ping timeout.",
    default: "15secs",
    alias: "slave_ping_timeout",
  }),
  creds: flag.path({ help: "Credentials file." }),
  zk: flag.pathOrValue({ help: "ZooKeeper URL." }),
  acls: flag.json({ help: "ACLs." }),
  names: flag.list({ help: "Names." }),
});

function load(argv: string[], env: Record<string, string> = {}, extra: Partial<LoadOptions> = {}) {
  return loadFlags(schema, { argv: ["--master=m:5050", ...argv], env, ...extra });
}

function loaded(argv: string[], env: Record<string, string> = {}) {
  const r = load(argv, env);
  if (!r.ok) throw new Error(`expected success, got: ${r.error}`);
  return r.flags;
}

function failure(argv: string[], env: Record<string, string> = {}) {
  const r = load(argv, env);
  assert.equal(r.ok, false, "expected an error");
  return r.ok ? "" : r.error;
}

const dir = mkdtempSync(join(tmpdir(), "flags-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("flags: defaults load typed values and say they are defaults", () => {
  const f = loaded([]);
  assert.equal(f.values.port, 5050);
  assert.equal(f.values.quiet, false);
  assert.equal(f.values.work_dir, undefined);
  assert.ok(f.values.interval.equals(Duration.seconds(1)));
  assert.equal(f.values.cache.bytes, 2 * 1024 ** 3);
  assert.equal(f.origin("port").source, "default");
  assert.equal(f.origin("work_dir").source, "unset");
  assert.equal(f.origin("master").source, "cmdline");
});

test("flags: --name=value sets typed values", () => {
  const f = loaded(["--port=6060", "--interval=500ms", "--cache=512MB", "--ratio=0.25"]);
  assert.equal(f.values.port, 6060);
  assert.equal(f.values.interval.toMs(), 500);
  assert.equal(f.values.cache.toString(), "512MB");
  assert.equal(f.values.ratio, 0.25);
});

test("flags: booleans take --name, --no-name and true/false/1/0", () => {
  assert.equal(loaded(["--quiet"]).values.quiet, true);
  assert.equal(loaded(["--no-quiet"]).values.quiet, false);
  assert.equal(loaded(["--quiet=true"]).values.quiet, true);
  assert.equal(loaded(["--quiet=1"]).values.quiet, true);
  assert.equal(loaded(["--quiet=false"]).values.quiet, false);
  assert.equal(loaded(["--quiet=0"]).values.quiet, false);
  assert.equal(loaded(["--quiet="]).values.quiet, true);
  assert.equal(
    failure(["--quiet=yes"]),
    "Failed to load flag 'quiet': Failed to load value 'yes': Expecting a boolean (e.g., true or false)",
  );
});

test("flags: --no-x=value is an error", () => {
  assert.equal(
    failure(["--no-quiet=true"]),
    "Failed to load boolean flag 'quiet' via 'no-quiet' with value 'true'",
  );
});

test("flags: --no- on a non-boolean flag is an error", () => {
  assert.equal(failure(["--no-port"]), "Failed to load non-boolean flag 'port' via 'no-port'");
});

test("flags: a non-boolean flag without a value is an error", () => {
  assert.equal(failure(["--port"]), "Failed to load non-boolean flag 'port': Missing value");
});

test("flags: an unknown flag is named in the error", () => {
  assert.equal(failure(["--bogus=1"]), "Failed to load unknown flag 'bogus'");
  assert.equal(failure(["--no-bogus"]), "Failed to load unknown flag 'bogus' via 'no-bogus'");
});

test("flags: unknown flags can be allowed", () => {
  const r = load(["--bogus=1"], {}, { allowUnknown: true });
  assert.equal(r.ok, true);
});

test("flags: a bad value names the flag and the value", () => {
  assert.equal(
    failure(["--port=abc"]),
    "Failed to load flag 'port': Failed to load value 'abc': Failed to convert into required type",
  );
  assert.match(failure(["--port=70000"]), /^Failed to load flag 'port'/);
  assert.match(failure(["--count=-1"]), /^Failed to load flag 'count'/);
  assert.match(failure(["--ratio=x"]), /^Failed to load flag 'ratio'/);
});

test("flags: a bad duration is an error naming the flag", () => {
  assert.equal(
    failure(["--interval=1sec"]),
    "Failed to load flag 'interval': Failed to load value '1sec': Unknown duration unit 'sec'; " +
      "supported units are 'ns', 'us', 'ms', 'secs', 'mins', 'hrs', 'days', and 'weeks'",
  );
  assert.equal(
    failure(["--interval=10"]),
    "Failed to load flag 'interval': Failed to load value '10': Invalid duration '10'",
  );
  assert.match(failure(["--interval=-1secs"]), /Failed to load flag 'interval'.*to number/);
});

test("flags: bad bytes are an error naming the flag", () => {
  assert.equal(
    failure(["--cache=1.5GB"]),
    "Failed to load flag 'cache': Failed to load value '1.5GB': Fractional bytes '1.5GB'",
  );
  assert.equal(
    failure(["--cache=10XB"]),
    "Failed to load flag 'cache': Failed to load value '10XB': Unknown bytes unit 'XB'",
  );
  assert.equal(
    failure(["--cache=10"]),
    "Failed to load flag 'cache': Failed to load value '10': Invalid bytes '10'",
  );
});

test("flags: -- ends flag parsing", () => {
  const f = loaded(["--port=1", "--", "--port=2", "--bogus"]);
  assert.equal(f.values.port, 1);
  assert.deepEqual(f.positional, ["--port=2", "--bogus"]);
});

test("flags: arguments that are not flags are ignored, as Mesos does", () => {
  const f = loaded(["stray", "--port=7"]);
  assert.equal(f.values.port, 7);
  assert.deepEqual(f.positional, ["stray"]);
});

test("flags: names are case-insensitive", () => {
  assert.equal(loaded(["--PORT=8"]).values.port, 8);
});

test("flags: a flag given twice is an error", () => {
  assert.equal(failure(["--port=1", "--port=2"]), "Flag 'port' is already loaded via name 'port'");
});

test("flags: MESOS_PORT is used when --port is absent", () => {
  const f = loaded([], { MESOS_PORT: "7070" });
  assert.equal(f.values.port, 7070);
  assert.deepEqual(f.origin("port"), { source: "env", name: "port", variable: "MESOS_PORT" });
});

test("flags: the command line wins over MESOS_*", () => {
  const f = loaded(["--port=1234"], { MESOS_PORT: "7070", MESOS_QUIET: "true" });
  assert.equal(f.values.port, 1234);
  assert.equal(f.origin("port").source, "cmdline");
  assert.equal(f.values.quiet, true);
});

test("flags: the command line wins over the environment across a flag's two names", () => {
  const f = loaded(["--ping_timeout=20secs"], { MESOS_SLAVE_PING_TIMEOUT: "30secs" });
  assert.equal(f.values.ping_timeout.toString(), "20secs");
});

test("flags: lower-case env names work and unknown MESOS_* variables are ignored", () => {
  const f = loaded([], { MESOS_port: "9", MESOS_NOT_A_FLAG: "x", OTHER: "y" });
  assert.equal(f.values.port, 9);
});

test("flags: a bad MESOS_* value is an error naming the flag", () => {
  assert.equal(
    failure([], { MESOS_PORT: "abc" }),
    "Failed to load flag 'port': Failed to load value 'abc': Failed to convert into required type",
  );
});

test("flags: an empty MESOS_ boolean means true", () => {
  assert.equal(loaded([], { MESOS_QUIET: "" }).values.quiet, true);
});

test("flags: the fallback variable (LIBPROCESS_PORT) ranks below MESOS_PORT and the command line", () => {
  assert.equal(loaded([], { LIBPROCESS_PORT: "5" }).values.port, 5);
  assert.equal(loaded([], { LIBPROCESS_PORT: "5" }).origin("port").source, "fallback-env");
  assert.equal(loaded([], { LIBPROCESS_PORT: "5", MESOS_PORT: "6" }).values.port, 6);
  assert.equal(loaded(["--port=7"], { LIBPROCESS_PORT: "5" }).values.port, 7);
  assert.match(failure([], { LIBPROCESS_PORT: "x" }), /flag 'port' from LIBPROCESS_PORT/);
});

test("flags: file:// values are read from the file, without the trailing newline", () => {
  const file = join(dir, "port");
  writeFileSync(file, "6161\n");
  const f = loaded([`--port=file://${file}`]);
  assert.equal(f.values.port, 6161);
  assert.equal(f.origin("port").file, file);
  const text = join(dir, "text");
  writeFileSync(text, "a b\nc\r\n");
  assert.equal(loaded([`--work_dir=file://${text}`]).values.work_dir, "a b\nc");
});

test("flags: file:// works from the environment too", () => {
  const file = join(dir, "interval");
  writeFileSync(file, "2mins");
  assert.equal(
    loaded([], { MESOS_INTERVAL: `file://${file}` }).values.interval.toString(),
    "2mins",
  );
});

test("flags: a missing file:// file is an error naming the flag and the file", () => {
  const missing = join(dir, "nope");
  assert.equal(
    failure([`--port=file://${missing}`]),
    `Failed to load flag 'port': Failed to load value 'file://${missing}': Error reading file '${missing}': No such file or directory`,
  );
});

test("flags: path flags drop a leading file:// without reading the file, as stout's Path", () => {
  const f = loaded(["--creds=file:///etc/nonexistent-x"]);
  assert.equal(f.values.creds, "/etc/nonexistent-x");
  assert.equal(f.toStrings().creds, "/etc/nonexistent-x");
  assert.equal(loaded(["--creds=/etc/x"]).values.creds, "/etc/x");
});

test("flags: path-or-value flags read the file but print the path", () => {
  const file = join(dir, "zk");
  writeFileSync(file, "zk://h1:2181/mesos\n");
  const f = loaded([`--zk=file://${file}`]);
  assert.deepEqual(f.values.zk, { value: "zk://h1:2181/mesos", path: file });
  assert.equal(f.toStrings().zk, file);
  assert.equal(loaded(["--zk=zk://a:1/m"]).toStrings().zk, "zk://a:1/m");
});

test("flags: JSON flags take inline JSON, file:// and a bare absolute path (with a warning)", () => {
  assert.deepEqual(loaded(['--acls={"a":[1]}']).values.acls, { a: [1] });
  const file = join(dir, "acls.json");
  writeFileSync(file, '{"b":true}\n');
  assert.deepEqual(loaded([`--acls=file://${file}`]).values.acls, { b: true });
  const bare = loaded([`--acls=${file}`]);
  assert.deepEqual(bare.values.acls, { b: true });
  assert.equal(bare.warnings.length, 1);
  assert.match(failure(["--acls={bad"]), /^Failed to load flag 'acls': Failed to load value/);
});

test("flags: list flags split on commas and reject repeats", () => {
  assert.deepEqual(loaded(["--names=gpus,,fpgas"]).values.names, ["gpus", "fpgas"]);
  assert.equal(
    failure(["--names=a,a"]),
    "Failed to load flag 'names': Failed to load value 'a,a': Duplicate token 'a'",
  );
});

test("flags: an alias loads the same flag with a deprecation warning", () => {
  const f = loaded(["--slave_ping_timeout=20secs"]);
  assert.equal(f.values.ping_timeout.toString(), "20secs");
  assert.deepEqual(f.warnings, ["Loaded deprecated flag 'slave_ping_timeout'"]);
  assert.equal(f.origin("ping_timeout").name, "slave_ping_timeout");
  assert.equal(f.toStrings().slave_ping_timeout, "20secs");
  assert.equal(f.toStrings().ping_timeout, undefined);
});

test("flags: an alias also loads from the environment", () => {
  const f = loaded([], { MESOS_SLAVE_PING_TIMEOUT: "3secs" });
  assert.equal(f.values.ping_timeout.toString(), "3secs");
});

test("flags: giving a flag and its alias is an error", () => {
  assert.equal(
    failure(["--ping_timeout=1secs", "--slave_ping_timeout=2secs"]),
    "Flag 'slave_ping_timeout' is already loaded via name 'ping_timeout'",
  );
});

test("flags: a required flag that is missing is an error", () => {
  const r = loadFlags(schema, { argv: [] });
  assert.deepEqual(r, { ok: false, error: "Flag 'master' is required, but it was not provided" });
});

test("flags: a validator's message is the error", () => {
  assert.equal(failure(["--count=0"]), "Expected `--count` to be at least 1");
});

test("flags: a cross-flag check sees the values and where they came from", () => {
  const s = defineFlags(
    {
      registry: flag.string({ help: "r", default: "replicated_log" }),
      work_dir: flag.string({ help: "w" }),
    },
    (v, origin) =>
      v.registry !== "in_memory" && v.work_dir === undefined
        ? `--work_dir needed (registry from ${origin("registry")?.source})`
        : undefined,
  );
  assert.deepEqual(loadFlags(s, { argv: [] }), {
    ok: false,
    error: "--work_dir needed (registry from default)",
  });
  assert.equal(loadFlags(s, { argv: ["--registry=in_memory"] }).ok, true);
});

test("flags: every flag with a value stringifies back to text for /flags", () => {
  const f = loaded(["--interval=1.5secs", "--names=a,b", '--acls={"x":1}']);
  const strings = f.toStrings();
  assert.equal(strings.port, "5050");
  assert.equal(strings.quiet, "false");
  assert.equal(strings.interval, "1500ms");
  assert.equal(strings.cache, "2GB");
  assert.equal(strings.ratio, "0.8");
  assert.equal(strings.names, "a,b");
  assert.equal(strings.acls, '{"x":1}');
  assert.equal(strings.help, "false");
  assert.equal("work_dir" in strings, false);
  for (const value of Object.values(strings)) assert.equal(typeof value, "string");
  assert.deepEqual(Object.keys(strings), [...Object.keys(strings)].sort());
});

test("flags: the startup command line quotes every value", () => {
  assert.match(loaded([]).toCommandLine(), /--port="5050"/);
});

test("flags: the startup command line stays one line when a value holds a newline", () => {
  const line = loaded(["--work_dir=/tmp/a\nb"]).toCommandLine();
  assert.ok(!line.includes("\n"), line);
  assert.match(line, /--work_dir="\/tmp\/a\\nb"/);
});

test("flags: --help is seen even next to a bad flag", () => {
  assert.equal(wantsHelp(["--bogus", "--help"]), true);
  assert.equal(wantsHelp(["--help=false"]), false);
  assert.equal(wantsHelp([], { MESOS_HELP: "1" }), true);
  assert.equal(wantsHelp(["--", "--help"]), false);
  assert.equal(wantsBoolean("version", ["--version"]), true);
  assert.equal(wantsBoolean("version", ["--no-version"], { MESOS_VERSION: "true" }), false);
});

test("flags: the command line splits on the first '='", () => {
  assert.deepEqual(splitCommandLine(["--a=b=c", "--Flag"]).flags, [
    { name: "a", value: "b=c" },
    { name: "flag", value: undefined },
  ]);
});

test("flags: declaring 'help' or a 'no-' name is refused", () => {
  assert.throws(() => defineFlags({ help: flag.bool({ help: "x", default: false }) }));
  assert.throws(() => defineFlags({ "no-x": flag.bool({ help: "x", default: false }) }));
});

test("flags: usage lists every flag in name order, Mesos style", () => {
  const text = usage(schema, "mesos-test");
  const lines = text.split("\n");
  assert.equal(lines[0], "Usage: mesos-test [options]");
  assert.equal(lines[1], "");
  const names = lines
    .filter((l) => l.startsWith("  --"))
    .map((l) => /^ {2}--(?:\[no-\])?([a-z_]+)/.exec(l)?.[1]);
  assert.deepEqual(names, [...names].sort());
  assert.ok(lines.some((l) => /^ {2}--\[no-\]quiet {5,}Say nothing\. \(default: false\)$/.test(l)));
  assert.ok(
    lines.some((l) => /^ {2}--port=VALUE {5,}Port to listen on\. \(default: 5050\)$/.test(l)),
  );
  assert.ok(
    lines.some((l) => l.startsWith("  --ping_timeout=VALUE, --slave_ping_timeout=VALUE     Ping")),
  );
  assert.ok(lines.some((l) => /--master=VALUE +The master\. \(required\)$/.test(l)));
  assert.ok(lines.some((l) => /--work_dir=VALUE +Where state lives\.$/.test(l)));
  assert.ok(lines.some((l) => /--\[no-\]help +Print this help message and exit\./.test(l)));
  // Help text starts in one column for every flag.
  const starts = new Set(
    lines.filter((l) => l.startsWith("  --")).map((l) => l.search(/ {5}\S/) + 5),
  );
  assert.equal(starts.size, 1);
});

test("flags: long help wraps under its column and keeps '(default: X)' together", () => {
  const s = defineFlags({
    long: flag.duration({ help: "word ".repeat(40).trim(), default: "10mins" }),
  });
  const all = usage(s, "p").split("\n");
  const first = all.findIndex((l) => l.startsWith("  --long"));
  const lines = all.slice(first).filter((l) => l.length > 0);
  assert.ok(lines.length > 2);
  const column = (lines[0] ?? "").indexOf("word");
  for (const line of lines.slice(1)) {
    assert.equal(line.length - line.trimStart().length, column);
  }
  assert.ok(lines.some((l) => l.includes("(default: 10mins)")));
});

test("flags: a flag marked notYet loads, with a warning that it has no effect yet", () => {
  const s = defineFlags({
    later: flag.string({ help: "Not built.", notYet: true }),
    now: flag.string({ help: "Built." }),
  });
  const given = loadFlags(s, { argv: ["--later=x", "--now=y"], env: {} });
  assert.ok(given.ok);
  assert.equal(given.flags.values.later, "x");
  assert.deepEqual(given.flags.warnings, ["Flag '--later' has no effect yet in mesos-ts"]);
  const absent = loadFlags(s, { argv: ["--now=y"], env: {} });
  assert.ok(absent.ok);
  assert.deepEqual(absent.flags.warnings, []);
});

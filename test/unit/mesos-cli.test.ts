/**
 * The `mesos` CLI's pure parts: table formatting, short ids, partial-id
 * matching, master addresses, settings precedence, line windows, event
 * lines and the completion script.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bashCompletion } from "../../src/cli/mesos/completion.js";
import { describeEvent } from "../../src/cli/mesos/events.js";
import { firstLines } from "../../src/cli/mesos/head.js";
import { indexStatistics, psRow } from "../../src/cli/mesos/ps.js";
import { CliError, EXIT_USAGE } from "../../src/cli/mesos/support/cli-error.js";
import { masterStateView, taskView } from "../../src/cli/mesos/support/cluster-views.js";
import { CommandContext } from "../../src/cli/mesos/support/context.js";
import {
  formatBytes,
  formatCpuTime,
  formatMegabytes,
  formatNumber,
  shortId,
} from "../../src/cli/mesos/support/format.js";
import { HttpStatusError, networkReason } from "../../src/cli/mesos/support/http-client.js";
import { parseMasterAddress } from "../../src/cli/mesos/support/master-address.js";
import { matchIds, pickTask } from "../../src/cli/mesos/support/match.js";
import {
  type ConfigFile,
  parseConfigFile,
  resolveSettings,
} from "../../src/cli/mesos/support/profile.js";
import { findExecutorDirectory } from "../../src/cli/mesos/support/sandbox.js";
import { renderTable } from "../../src/cli/mesos/support/table.js";
import { lastLines } from "../../src/cli/mesos/tail.js";
import { attachInputBody } from "../../src/cli/mesos/task-exec.js";
import { buildProgram, scanArgs } from "../../src/cli/mesos.js";
import { RecordIoDecoder } from "../../src/common/recordio/decoder.js";
import { ManualClock } from "../../src/common/time/clock.js";

const MASTER_ID = "9ef52a70-1b2c-4d3e-8f90-0123456789ab";

function task(id: string, frameworkId: string, state = "TASK_RUNNING") {
  return taskView({ id, name: id, framework_id: frameworkId, slave_id: `${MASTER_ID}-S0`, state });
}

describe("mesos CLI: tables", () => {
  it("aligns columns two spaces apart and trims trailing blanks", () => {
    const text = renderTable(
      ["ID", "NAME", { title: "TASKS", align: "right" }],
      [
        ["a", "long-name", "3"],
        ["bbbb", "x", "12"],
      ],
    );
    assert.equal(text, "ID    NAME       TASKS\na     long-name      3\nbbbb  x             12\n");
  });

  it("keeps every row on one line when a cell holds a newline", () => {
    const text = renderTable(["A"], [["two\nlines"]]);
    assert.equal(text.split("\n").length, 3);
  });

  it("prints only the header for no rows", () => {
    assert.equal(renderTable(["ID", "NAME"], []), "ID  NAME\n");
  });
});

describe("mesos CLI: value formatting", () => {
  it("short ids cut each UUID to 8 hex digits and keep the suffix", () => {
    assert.equal(shortId(`${MASTER_ID}-S3`), "9ef52a70-S3");
    assert.equal(shortId(`${MASTER_ID}-0002`), "9ef52a70-0002");
    assert.equal(shortId("web.6b1c2d3e-aaaa-bbbb-cccc-0123456789ab"), "web.6b1c2d3e");
    assert.equal(shortId("hello"), "hello");
  });

  it("numbers, sizes and CPU time read like ps", () => {
    assert.equal(formatNumber(0.1 + 0.2), "0.3");
    assert.equal(formatNumber(2), "2");
    assert.equal(formatMegabytes(512), "512 MB");
    assert.equal(formatMegabytes(1536), "1.5 GB");
    assert.equal(formatBytes(832), "832 B");
    assert.equal(formatBytes(32 * 1024 * 1024), "32 MB");
    assert.equal(formatCpuTime(3725.5), "1:02:05.50");
  });
});

describe("mesos CLI: partial task ids", () => {
  const fw = `${MASTER_ID}-0000`;
  const tasks = [task("web-1", fw), task("web-10", fw), task("db", fw)];

  it("an exact id wins over longer ids that start with it", () => {
    assert.equal(pickTask(tasks, "web-1").id, "web-1");
  });

  it("a unique prefix or piece picks the task", () => {
    assert.equal(pickTask(tasks, "d").id, "db");
    assert.equal(pickTask(tasks, "-10").id, "web-10");
  });

  it("an ambiguous piece names the candidates", () => {
    assert.throws(() => pickTask(tasks, "web"), /'web' matches 2 tasks: web-1, web-10/);
  });

  it("no match is a one-line error", () => {
    assert.throws(
      () => pickTask(tasks, "zzz"),
      (e: unknown) => {
        assert.ok(e instanceof CliError);
        assert.equal(e.message, "no task matches 'zzz'");
        return true;
      },
    );
  });

  it("the same id in two frameworks: the live one wins, else --framework is asked for", () => {
    const other = `${MASTER_ID}-0001`;
    const rerun = [task("hello", fw, "TASK_FINISHED"), task("hello", other, "TASK_RUNNING")];
    assert.equal(pickTask(rerun, "hello").frameworkId, other);
    const both = [task("hello", fw, "TASK_FINISHED"), task("hello", other, "TASK_FAILED")];
    assert.throws(() => pickTask(both, "hello"), /used by 2 frameworks.*--framework/);
    assert.equal(pickTask(both, "hello", { framework: "9ef52a70-0001" }).frameworkId, other);
  });

  it("short ids are accepted back", () => {
    const ids = [`${MASTER_ID}-S0`, `${MASTER_ID}-S1`];
    assert.deepEqual(
      matchIds(ids, "9ef52a70-S1", (id) => id),
      [`${MASTER_ID}-S1`],
    );
  });
});

describe("mesos CLI: master addresses", () => {
  it("accepts host:port, a bare host, URLs and pids", () => {
    assert.equal(parseMasterAddress("10.0.0.5:5050").baseUrl, "http://10.0.0.5:5050");
    assert.equal(parseMasterAddress("master.example").address, "master.example:5050");
    assert.equal(parseMasterAddress("http://10.0.0.5:6060/").address, "10.0.0.5:6060");
    assert.equal(parseMasterAddress("master@127.0.0.1:5050").address, "127.0.0.1:5050");
    assert.equal(parseMasterAddress("[::1]:5050").baseUrl, "http://[::1]:5050");
  });

  it("reads file:// addresses from the file", () => {
    const target = parseMasterAddress("file:///etc/mesos/master", () => "10.1.2.3:5050\n");
    assert.equal(target.address, "10.1.2.3:5050");
  });

  it("zk:// says the command needs the master itself and points at mesos resolve (exit 1, not usage)", () => {
    assert.throws(
      () => parseMasterAddress("zk://zk1:2181/mesos"),
      (e: unknown) =>
        e instanceof CliError && e.exitCode === 1 && /mesos resolve zk:/.test(e.message),
    );
  });

  it("a bad port is a usage error", () => {
    assert.throws(
      () => parseMasterAddress("host:99999"),
      (e: unknown) => e instanceof CliError && e.exitCode === EXIT_USAGE,
    );
  });
});

describe("mesos CLI: settings precedence", () => {
  const config: ConfigFile = {
    current: "prod",
    profiles: {
      prod: { master: "prod:5050", timeout: "20secs", output: "wide" },
      dev: { master: "dev:5050" },
    },
  };
  const resolve = (
    flags: Record<string, string> = {},
    env: Record<string, string> = {},
    cfg: ConfigFile = config,
  ) => resolveSettings({ flags, env, config: cfg, configPath: "/tmp/x.json" });

  it("--master beats MESOS_MASTER beats the profile", () => {
    assert.deepEqual(resolve({ master: "flag:1" }, { MESOS_MASTER: "env:2" }).master, {
      value: "flag:1",
      source: "flag",
    });
    assert.deepEqual(resolve({}, { MESOS_MASTER: "env:2" }).master, {
      value: "env:2",
      source: "environment",
    });
    assert.deepEqual(resolve().master, { value: "prod:5050", source: "profile" });
  });

  it("without any setting the master is 127.0.0.1:5050 and tables are the output", () => {
    const s = resolve({}, {}, { profiles: {} });
    assert.deepEqual(s.master, { value: "127.0.0.1:5050", source: "default" });
    assert.equal(s.output.value, "table");
    assert.equal(s.timeoutMs.value, 10_000);
  });

  it("--profile and MESOS_CLI_PROFILE pick another profile than the current one", () => {
    assert.equal(resolve({ profile: "dev" }).master.value, "dev:5050");
    assert.equal(resolve({}, { MESOS_CLI_PROFILE: "dev" }).master.value, "dev:5050");
    assert.equal(resolve().timeoutMs.value, 20_000);
    assert.equal(resolve().output.value, "wide");
  });

  it("an unknown profile asked for by name is an error naming the known ones", () => {
    assert.throws(() => resolve({ profile: "staging" }), /no profile 'staging'.*prod, dev/);
  });

  it("a flat config file is the default profile", () => {
    const flat = parseConfigFile('{"master": "flat:5050"}', "/tmp/x.json");
    assert.equal(resolve({}, {}, flat).master.value, "flat:5050");
  });

  it("a broken config file is reported with its path", () => {
    assert.throws(
      () => parseConfigFile("{nope", "/home/op/.mesos.json"),
      /\/home\/op\/\.mesos\.json/,
    );
    assert.throws(
      () => parseConfigFile('{"profiles": {"a": {"output": "xml"}}}', "/tmp/x.json"),
      /output must be one of table, wide, json/,
    );
  });
});

describe("mesos CLI: line windows", () => {
  it("head keeps the first n lines", () => {
    assert.equal(firstLines("a\nb\nc\n", 2), "a\nb\n");
    assert.equal(firstLines("a\nb", 5), "a\nb");
    assert.equal(firstLines("a\n", 0), "");
  });

  it("tail keeps the last n lines, a final newline not starting another", () => {
    assert.equal(lastLines("a\nb\nc\n", 2), "b\nc\n");
    assert.equal(lastLines("a\nb\nc", 1), "c");
    assert.equal(lastLines("a\n", 3), "a\n");
    assert.equal(lastLines("a\nb\n", 0), "");
  });
});

describe("mesos CLI: reading the cluster's JSON", () => {
  it("finds a command task's sandbox under the executor named after the task", () => {
    const agentState = {
      frameworks: [],
      completed_frameworks: [
        {
          id: "fw",
          executors: [],
          completed_executors: [{ id: "hello", directory: "/work/slaves/S0/frameworks/fw/x" }],
        },
      ],
    };
    assert.equal(
      findExecutorDirectory(agentState, "fw", "hello"),
      "/work/slaves/S0/frameworks/fw/x",
    );
    assert.equal(findExecutorDirectory(agentState, "other", "hello"), undefined);
  });

  it("ps matches statistics by framework and executor (the task id for command tasks)", () => {
    const state = masterStateView({
      slaves: [{ id: "S0", hostname: "node1", pid: "slave(1)@10.0.0.1:5051" }],
      frameworks: [
        {
          id: "fw",
          name: "web",
          user: "op",
          tasks: [
            {
              id: "t1",
              framework_id: "fw",
              executor_id: "",
              slave_id: "S0",
              state: "TASK_RUNNING",
            },
          ],
        },
      ],
    });
    const framework = state.frameworks[0];
    assert.ok(framework !== undefined);
    const stats = indexStatistics([
      {
        framework_id: "fw",
        executor_id: "t1",
        statistics: {
          cpus_limit: 1.1,
          cpus_user_time_secs: 1.5,
          cpus_system_time_secs: 0.5,
          mem_rss_bytes: 1024,
          mem_limit_bytes: 2048,
        },
      },
    ]);
    const row = psRow(framework.tasks[0] as never, framework, state.agents[0], stats);
    assert.equal(row.host, "node1");
    assert.equal(row.cpu_time_secs, 2);
    assert.equal(row.mem_rss_bytes, 1024);
    assert.equal(state.agents[0]?.address, "10.0.0.1:5051");
    assert.equal(state.agents[0]?.processId, "slave(1)");
  });

  it("a state document that is not an object is refused with a one-line error", () => {
    assert.throws(() => masterStateView([1, 2]), CliError);
  });
});

describe("mesos CLI: HTTP failures in words", () => {
  const target = {
    role: "agent" as const,
    address: "10.0.0.7:5051",
    baseUrl: "http://10.0.0.7:5051",
  };

  it("a 404 without a body means the endpoint is missing", () => {
    const e = new HttpStatusError(target, "/monitor/statistics?x=1", 404, "");
    assert.equal(e.message, "the agent at 10.0.0.7:5051 does not serve /monitor/statistics yet");
    assert.ok(e.routeMissing);
  });

  it("other statuses quote the first line of the body", () => {
    const e = new HttpStatusError(target, "/files/read", 403, "Forbidden\nmore");
    assert.equal(e.message, "the agent at 10.0.0.7:5051 answered 403 for /files/read: Forbidden");
  });

  it("socket errors become a few words", () => {
    const refused = Object.assign(new TypeError("fetch failed"), {
      cause: Object.assign(new Error("x"), { code: "ECONNREFUSED" }),
    });
    assert.equal(networkReason(refused), "connection refused");
  });

  it("an error without a known code gives its innermost cause, not fetch's 'fetch failed'", () => {
    const badPort = Object.assign(new TypeError("fetch failed"), { cause: new Error("bad port") });
    assert.equal(networkReason(badPort), "bad port");
  });
});

describe("mesos CLI: events and dispatch", () => {
  it("an event is one line with short ids", () => {
    const line = describeEvent(
      {
        type: "TASK_ADDED",
        task_added: {
          task: {
            name: "hello",
            task_id: { value: "hello" },
            framework_id: { value: `${MASTER_ID}-0000` },
            agent_id: { value: `${MASTER_ID}-S0` },
            state: "TASK_STAGING",
          },
        },
      },
      false,
    );
    assert.equal(
      line,
      "task=hello name=hello framework=9ef52a70-0000 agent=9ef52a70-S0 state=TASK_STAGING",
    );
  });

  it("the command word is found after global options and their values", () => {
    const scan = scanArgs(["--master", "m:1", "-o", "json", "foo", "--bar"]);
    assert.equal(scan.command, "foo");
    assert.equal(scan.master, "m:1");
    assert.deepEqual(scan.after, ["--bar"]);
    assert.equal(scanArgs(["--master=x:1", "--help"]).command, undefined);
  });

  it("the completion script names every built-in command and hides the helper", () => {
    const ctx = new CommandContext({
      out: () => {},
      err: () => {},
      env: {},
      homeDir: "/nonexistent",
      clock: new ManualClock(),
    });
    const script = bashCompletion(buildProgram(ctx));
    for (const word of ["agent", "framework", "task", "ps", "cat", "tail", "events", "config"]) {
      assert.match(script, new RegExp(`\\b${word}\\b`));
    }
    assert.match(script, /"agent"\) COMPREPLY=\(\$\(compgen -W "list"/);
    assert.match(script, /complete -F _mesos mesos/);
    assert.doesNotMatch(script, /"__complete"\)/);
    const listLine = /"agent list"\) echo "([^"]*)"/.exec(script)?.[1] ?? "";
    const words = listLine.split(" ");
    assert.deepEqual(words, [...new Set(words)], "no option is offered twice");
    assert.ok(words.includes("-h") && words.includes("--help"), listLine);
  });
});

describe("mesos CLI: task exec -i", () => {
  it("the input call is the container id, one STDIN record per chunk, then an empty one (EOF)", () => {
    const id = { value: "child", parent: { value: "task-container" } };
    const body = attachInputBody(id, [Buffer.from("hel"), new Uint8Array(0), Buffer.from("lo\n")]);
    const records = new RecordIoDecoder()
      .decode(Buffer.from(body))
      .map((r) => JSON.parse(Buffer.from(r).toString("utf8")) as unknown);
    const stdin = (text: string) => ({
      type: "ATTACH_CONTAINER_INPUT",
      attach_container_input: {
        type: "PROCESS_IO",
        process_io: {
          type: "DATA",
          data: { type: "STDIN", data: Buffer.from(text).toString("base64") },
        },
      },
    });
    assert.deepEqual(records, [
      {
        type: "ATTACH_CONTAINER_INPUT",
        attach_container_input: { type: "CONTAINER_ID", container_id: id },
      },
      stdin("hel"),
      stdin("lo\n"),
      stdin(""),
    ]);
  });
});

/**
 * The flags of `mesos-execute`: Mesos' own set (names, defaults, meaning),
 * help text in our words. Flags whose feature mesos-ts lacks (Appc images,
 * Linux capabilities, TTYs, CNI networks, HDFS packages) are accepted by the
 * parser but refused at start with "not supported yet", never ignored.
 */
import { defineFlags } from "../../common/flags/load.js";
import { flag } from "../../common/flags/spec.js";

const TASK_EXAMPLE = [
  "{",
  '  "name": "my-task",',
  '  "task_id": {"value": "my-task"},',
  '  "agent_id": {"value": ""},',
  '  "resources": [',
  '    {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},',
  '    {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}}',
  "  ],",
  '  "command": {"value": "sleep 1000"}',
  "}",
].join("\n");

export const executeFlagSchema = defineFlags({
  master: flag.string({
    help:
      "The Mesos master: IP:PORT, HOST:PORT, zk://host:port/path (follows the elected " +
      "leader) or file:///path holding one of these.",
    required: true,
  }),
  name: flag.string({
    help: "Name of the task (also its id). Required unless --task or --task_group is given.",
  }),
  task: flag.json({
    help:
      "The task to run, as a JSON `TaskInfo` (mesos.proto), inline or as " +
      "file:///path/to/file. `agent_id` may be left empty: it is filled in from the offer.\n" +
      `Example:\n${TASK_EXAMPLE}\n`,
  }),
  task_group: flag.json({
    help:
      'Tasks to run together, as a JSON `TaskGroupInfo` (`{"tasks": [TaskInfo, ...]}`), ' +
      "inline or as file:///path/to/file. They run under the default executor.",
  }),
  shell: flag.bool({
    help:
      "Run --command through `/bin/sh -c`. With --no-shell the command is split on " +
      "blanks into an executable and its arguments.",
    default: true,
  }),
  command: flag.string({ help: "The command to run." }),
  env: flag.json({
    help:
      'Environment variables for the command, as a JSON object ({"NAME": "value"}), ' +
      "inline or as file:///path/to/file.",
    alias: "environment",
  }),
  resources: flag.string({
    help: "Resources the task needs, in --resources text form or as JSON.",
    default: "cpus:1;mem:128",
  }),
  hadoop: flag.string({
    help: "Path of the `hadoop` script used to copy --package into HDFS.",
    default: "hadoop",
    notYet: true,
  }),
  hdfs: flag.string({
    help: "The ip:port of the HDFS NameNode for --package.",
    default: "localhost:9000",
    notYet: true,
  }),
  package: flag.string({
    help: "A package to upload into HDFS and fetch into the task's sandbox.",
    notYet: true,
  }),
  overwrite: flag.bool({
    help: "Overwrite the --package in HDFS if it exists.",
    default: false,
    notYet: true,
  }),
  checkpoint: flag.bool({
    help: "Enable checkpointing for the framework (its tasks survive an agent restart).",
    default: false,
  }),
  appc_image: flag.string({ help: "An Appc image to run the command in.", notYet: true }),
  docker_image: flag.string({
    help:
      "A Docker image (<image>:<tag>) to run the command in: with the `mesos` containerizer " +
      "the agent loads it from its --docker_registry; with --containerizer=docker, Docker runs it.",
  }),
  framework_capabilities: flag.list({
    help:
      "Comma-separated optional framework capabilities to enable (only GPU_RESOURCES). " +
      "RESERVATION_REFINEMENT, TASK_KILLING_STATE and REVOCABLE_RESOURCES are always on; " +
      "PARTITION_AWARE unless --no-partition_aware.",
  }),
  containerizer: flag.string({
    help:
      "Containerizer for the --command task: `mesos`, or `docker` (needs --docker_image and an " +
      "agent started with --containerizers=docker,...).",
    default: "mesos",
  }),
  effective_capabilities: flag.json({
    help:
      'Linux capabilities granted to the command, as JSON: {"capabilities": ["NET_RAW"]} ' +
      "(LinuxInfo.effective_capabilities; the agent needs --isolation=linux/capabilities).",
  }),
  bounding_capabilities: flag.json({
    help:
      "Linux capability bounding set for the command, as JSON like --effective_capabilities " +
      "(LinuxInfo.bounding_capabilities).",
  }),
  rlimits: flag.json({
    help: 'Resource limits for the command, as JSON: {"rlimits": [{"type": "RLMT_CPU", "soft": 1, "hard": 1}]}.',
  }),
  role: flag.string({ help: "Role the framework registers with.", default: "*" }),
  kill_after: flag.duration({
    help: "Kill the task this long after it is running (e.g. 10secs, 2mins).",
  }),
  networks: flag.string({
    help:
      "Comma-separated networks the container joins (e.g. net1,net2): CNI networks with " +
      "the `mesos` containerizer (the default executor's container with --task_group), " +
      "one Docker user network with --containerizer=docker.",
  }),
  principal: flag.string({ help: "Principal the framework authenticates as." }),
  secret: flag.string({ help: "Secret for --principal." }),
  volumes: flag.json({
    help:
      "Volumes for the container, as a JSON array of `Volume` (mesos.proto), or file:///path " +
      "holding it.",
  }),
  content_type: flag.string({
    help:
      "Encoding of scheduler API messages: `json` or `protobuf` (or their media types, " +
      "application/json and application/x-protobuf).",
    default: "protobuf",
  }),
  tty: flag.bool({ help: "Attach a TTY to the task.", default: false, notYet: true }),
  partition_aware: flag.bool({
    help: "Register as a partition-aware framework.",
    default: true,
  }),
});

export type ExecuteFlags = typeof executeFlagSchema.flags;

/**
 * What every `mesos` command gets: the operator's settings (resolved once,
 * from flags, environment and profile), an HTTP client, the master, and
 * output helpers that honour `-o`.
 */
import { CliError } from "./cli-error.js";
import { type MasterStateView, masterStateView } from "./cluster-views.js";
import { toJsonText } from "./format.js";
import { HttpClient } from "./http-client.js";
import type { CliIo } from "./io.js";
import { type HttpTarget, parseMasterAddress } from "./master-address.js";
import { pluginDirs } from "./plugins.js";
import {
  type ConfigFile,
  configPath,
  loadConfigFile,
  type OutputFormat,
  resolveSettings,
  type Settings,
} from "./profile.js";
import { zkLeader } from "./zk-leader.js";

/** The options every command accepts. */
export interface GlobalFlags {
  master?: string;
  output?: string;
  timeout?: string;
  profile?: string;
}

export class CommandContext {
  /** Exit code the command chose (failures throw `CliError` instead). */
  exitCode = 0;
  private globals: GlobalFlags = {};
  private settingsCache: Settings | undefined;
  private httpClient: HttpClient | undefined;
  private masterTarget: Promise<HttpTarget> | undefined;
  private configCache: ConfigFile | undefined;

  constructor(readonly io: CliIo) {}

  /** Called before an action runs, with the parsed global options. */
  setGlobals(globals: GlobalFlags): void {
    this.globals = globals;
    this.settingsCache = undefined;
    this.httpClient = undefined;
    this.masterTarget = undefined;
  }

  /** The raw global options (for `mesos config`). */
  get globalFlags(): GlobalFlags {
    return this.globals;
  }

  /** Resolved settings; throws on a broken config file or an unknown profile. */
  settings(options: { allowMissingProfile?: boolean } = {}): Settings {
    if (this.settingsCache !== undefined) return this.settingsCache;
    const path = configPath(this.io.env, this.io.homeDir);
    const settings = resolveSettings({
      flags: this.globals,
      env: this.io.env,
      config: this.configFile(),
      configPath: path,
      allowMissingProfile: options.allowMissingProfile,
    });
    this.settingsCache = settings;
    return settings;
  }

  /** The configuration file as read (once); throws when it is broken. */
  configFile(): ConfigFile {
    this.configCache ??= loadConfigFile(configPath(this.io.env, this.io.homeDir));
    return this.configCache;
  }

  /** Where `mesos-<name>` plugins are looked for: the config's `plugins`, the launcher's directory, PATH. */
  pluginDirs(): string[] {
    const own = pluginDirs(this.io.env.PATH, this.io.launcherDir);
    const configured = this.configFile().plugins ?? [];
    return [...configured, ...own.filter((d) => !configured.includes(d))];
  }

  get http(): HttpClient {
    const config = this.configFile();
    this.httpClient ??= new HttpClient(this.settings().timeoutMs.value, {
      master: config.masterCredential,
      agent: config.agentCredential,
    });
    return this.httpClient;
  }

  get output(): OutputFormat {
    return this.settings().output.value;
  }

  get json(): boolean {
    return this.output === "json";
  }

  /** Full ids in tables (`-o wide`). */
  get wide(): boolean {
    return this.output === "wide";
  }

  /**
   * The master to talk to. A `zk://` master is the leader elected in that
   * ZooKeeper group, looked up once per command, as the Mesos CLI does.
   */
  master(): Promise<HttpTarget> {
    this.masterTarget ??= this.findMaster();
    return this.masterTarget;
  }

  private async findMaster(): Promise<HttpTarget> {
    const text = this.settings().master.value.trim();
    if (!text.startsWith("zk://")) return parseMasterAddress(text);
    const leader = await zkLeader(text, this.settings().timeoutMs.value);
    return parseMasterAddress(leader.address);
  }

  /** The master's `/master/state`. */
  async masterState(): Promise<MasterStateView> {
    return masterStateView(await this.http.getJson(await this.master(), "/master/state"));
  }

  print(text: string): void {
    this.io.out(text.endsWith("\n") ? text : `${text}\n`);
  }

  printJson(value: unknown): void {
    this.io.out(toJsonText(value));
  }

  /** A one-line warning on stderr; the command goes on. */
  warn(message: string): void {
    this.io.err(`mesos: warning: ${message}\n`);
  }

  /** Fails the command with a one-line message. */
  fail(message: string): never {
    throw new CliError(message);
  }
}

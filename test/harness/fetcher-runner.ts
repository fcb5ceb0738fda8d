/** The fetcher's command runner for unit tests: runs the command here, as the agent's fetcher would. */
import { execFile } from "node:child_process";
import type { CommandRunner } from "../../src/agent/containerizer/fetcher.js";

/** Runs `file args` in `cwd`; its exit code (1 when it has none) and its output (stdout, then stderr). */
export const execFileRunner: CommandRunner = (file, args, cwd) =>
  new Promise((resolve) => {
    execFile(file, args, { cwd }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      resolve({ code, signal: null, output: `${stdout}${stderr}` });
    });
  });

// Shared by the thin launchers in bin/: loads a compiled entry point from dist/
// and runs its `main(argv)`. A numeric result becomes the exit code.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

export async function launch(entry) {
  const file = join(root, "dist", "src", entry);
  if (!existsSync(file)) {
    process.stderr.write(
      `mesos-ts is not built (missing ${file}); run 'npm ci && npm run build' first\n`,
    );
    process.exit(1);
  }
  const mod = await import(pathToFileURL(file).href);
  const code = await mod.main(process.argv.slice(2));
  if (typeof code === "number") process.exitCode = code;
}

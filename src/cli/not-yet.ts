/** Entry points whose feature has not landed yet say so plainly and exit 1. */
export function notAvailableYet(binary: string, issue: string): number {
  process.stderr.write(`${binary}: not available yet (tracked in the issue "${issue}")\n`);
  return 1;
}

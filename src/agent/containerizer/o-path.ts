/**
 * Linux's O_PATH, which Node's `fs.constants` lacks: a handle on a file
 * itself, taken without opening it through its driver (a device, a pipe)
 * and without read or write permission, to look at it (fstat) or reach it
 * again through /proc/self/fd/<n>. A file of its own, importing nothing, so
 * that the small programs the agent runs as root can share it.
 */
export const O_PATH = 0o10000000;

import { notAvailableYet } from "./not-yet.js";

export function main(_argv: string[]): number {
  return notAvailableYet("mesos-local", "A working cluster");
}

import { MesosError } from "../errors/mesos-error.js";

/** A RecordIO stream is malformed, truncated, or holds a record over the size limit. */
export class RecordIoError extends MesosError {
  constructor(message: string) {
    super("RECORDIO_ERROR", `RecordIO: ${message}`, 400);
    this.name = "RecordIoError";
  }
}

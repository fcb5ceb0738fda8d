/**
 * Base of the error catalogue: every error a user can see carries a stable
 * code, a one-line message and the HTTP status an API answers with.
 * Throw these only for bad input or failed I/O; bugs stay plain `Error`s.
 */
export class MesosError extends Error {
  readonly code: string;
  readonly httpStatus: number;

  constructor(code: string, message: string, httpStatus = 400, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "MesosError";
    this.code = code;
    this.httpStatus = httpStatus;
  }
}

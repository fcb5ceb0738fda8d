/** The virtual filesystem behind `/files/*` and the v1 LIST_FILES / READ_FILE calls. */
export * from "./files-http.js";
export * from "./virtual-files.js";

// Module hooks for `module.register` (see test/package.spec.ts): every module resolved in the process is
// appended, one URL per line, to the file named by `data.log`. Hooks run on their own thread, so the
// record goes through a file rather than memory.
import { appendFileSync } from "node:fs";

let log;

/** initialize receives `register`'s data: `{ log }`, the file to append to. */
export async function initialize(data) {
  log = data.log;
}

/** resolve records each resolved URL and changes nothing. */
export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  appendFileSync(log, `${resolved.url}\n`);
  return resolved;
}

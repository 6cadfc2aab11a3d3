import { setFlagsFromString } from 'node:v8';

/** How far the old generation may grow past its live size before a full collection: to 3 times it. */
export const HEAP_GROWING_PERCENT = 200;

/**
 * Sets V8's old-generation growing factor for the server process (its entry points call this at start).
 *
 * V8 sizes the old generation from how fast the program allocates there, and starts marking whenever the room
 * left under that limit is smaller than the young generation. The relay allocates almost nothing in the old
 * generation, so after the server has been idle V8 keeps the limit about 9 MB above the live heap (factor 1.1).
 * The next output flood then runs a full collection every 150–200 ms that frees under 1 MB each time, because
 * the room stays smaller than the young generation. Measured (bench/README.md, "Garbage collection"): 35–55 full
 * collections and 9–13 ms of server CPU per MB relayed, against 2–5 collections and 5–7 ms with this factor. A
 * fixed factor of 3 keeps that room larger than the young generation (at most 32 MB) for a heap of ~30 MB or more;
 * V8's own factor goes up to 4.
 *
 * The flag is read by V8 each time it sets a limit, so setting it once the process runs takes effect (node does
 * not accept it in NODE_OPTIONS). An operator's own `--heap-growing-percent` on the node command line wins.
 * Returns the flag it set, or undefined when the operator's applies.
 */
export function tuneHeap(execArgv: readonly string[] = process.execArgv): string | undefined {
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent(=|$)/.test(arg))) return undefined;
  const flag = `--heap-growing-percent=${HEAP_GROWING_PERCENT}`;
  setFlagsFromString(flag);
  return flag;
}

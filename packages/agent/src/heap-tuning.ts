import { setFlagsFromString } from 'node:v8';

/** How far the old generation may grow past its live size before a full collection: to 4 times it. */
export const HEAP_GROWING_PERCENT = 300;

/**
 * Sets V8's old-generation growing factor for a process that relays output floods: the server and `sesame`
 * (their entry points call this at start). The agent does not need it (measured: no full collections from
 * floods).
 *
 * V8 sizes the old generation from how fast the program allocates there and starts marking well before that
 * limit. A relay allocates almost nothing in the old generation, so V8 keeps the limit close above the live
 * heap: the server after an idle spell (factor 1.1, ~9 MB of room on ~30 MB), the CLI always (its heap is
 * ~10 MB). An output flood then ran a full collection every 150–500 ms that freed under 1 MB each time.
 * Measured (bench/README.md, "Garbage collection"): the server ran 12–20 full collections per 200 MB and used
 * 9–13 ms of CPU per MB, against none and 5–7 ms with this factor; the CLI ran ~8 per 200 MB (3.5–4.5 ms/MB),
 * and none (2.9–3.5 ms/MB) with it. Factor 3 was enough for the server, not for the CLI; 4 is V8's own largest
 * dynamic factor, so memory never grows past what V8 itself would allow in a busy spell.
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

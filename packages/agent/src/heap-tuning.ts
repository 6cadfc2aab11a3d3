import { setFlagsFromString } from 'node:v8';

/** How far the old generation may grow past its live size before a full collection: to 4 times it. */
export const HEAP_GROWING_PERCENT = 300;

/** Whether the node command line already sets V8's growing factor (`--heap-growing-percent=0` gives V8's own back). */
export function operatorSetsHeapGrowth(execArgv: readonly string[]): boolean {
  return execArgv.some((arg) => /^--?heap[-_]growing[-_]percent(=|$)/.test(arg));
}

/**
 * Sets V8's old-generation growing factor for a process that relays output floods: the server and `sesame`
 * (their entry points call this at start). It lives here, beside the other node-side helpers the agent
 * package shares with the CLI (`./tls`); the agent itself does not need it (measured: its full collections do
 * not come from floods).
 *
 * V8 sizes the old generation from how fast the program allocates there, and starts marking well before that
 * limit. A relay allocates almost nothing in the old generation, so V8 keeps the limit close above the live
 * heap: the server after an idle spell (factor 1.1, ~9 MB of room on ~30 MB), the CLI always (its heap is
 * ~10 MB). An output flood then ran a full collection every 150–200 ms that freed under 1 MB each time.
 * Measured (bench/README.md, "Garbage collection"): the server ran 12–20 full collections per 200 MB run and
 * used 9–13 ms of CPU per MB, against 0–1 and 5.6–8.3 ms with this factor; the CLI ran ~8 per 200 MB
 * (3.5–4.5 ms/MB), against 1 in four floods (2.9–3.5 ms/MB). A factor of 3 was enough for the server, not for
 * the CLI.
 *
 * The cost is memory: the heap may grow to 4 times its live size between full collections (V8 goes up to 4 on
 * its own in a busy spell, but chooses less for small heap limits and after idle spells, and stays more careful
 * near the heap limit, where this fixed factor does not). For a server whose live heap is ~30 MB that is ~120 MB.
 *
 * The flag is read by V8 each time it sets a limit, so setting it once the process runs takes effect (node does
 * not accept it in NODE_OPTIONS). An operator's own `--heap-growing-percent` on the node command line wins.
 * Returns the flag it set, or undefined when the operator's applies.
 */
export function tuneHeap(execArgv: readonly string[] = process.execArgv): string | undefined {
  if (operatorSetsHeapGrowth(execArgv)) return undefined;
  const flag = `--heap-growing-percent=${HEAP_GROWING_PERCENT}`;
  setFlagsFromString(flag);
  return flag;
}

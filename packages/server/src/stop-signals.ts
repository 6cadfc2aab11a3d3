/**
 * Stops the process on SIGINT or SIGTERM: the first runs `stop` (sessions ended, recordings and rows written) and
 * exits 0 once it is done; a second one meanwhile exits at once, so Ctrl-C always works, even while the stop waits
 * on a database that does not answer. What a stop cut short leaves (a session still Connected, a recording
 * without its end) is ended and sealed at the next start.
 */
export function stopOnSignals(
  stop: () => Promise<void>,
  say: (line: string) => void,
  /** Run before exiting at once (say, to kill a child process the stop was waiting for). */
  atOnce: () => void = () => {},
): { readonly stopping: boolean } {
  const state = { stopping: false };
  const onSignal = (signal: NodeJS.Signals) => {
    if (state.stopping) {
      say(`${signal} again: stopping at once; sessions still open are ended at the next start`);
      atOnce();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    state.stopping = true;
    stop().then(
      () => process.exit(0),
      (error: Error) => {
        say(`could not stop cleanly: ${error.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return state;
}

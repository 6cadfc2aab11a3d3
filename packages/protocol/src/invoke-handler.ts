/**
 * Calls an application callback. An exception it throws must not corrupt protocol state nor escape from
 * Mux.receive(). It goes to `onFailure` when given; otherwise it is reported the way event listeners'
 * exceptions are: rethrown from a fresh microtask (an uncaught exception in Node, a console error in browsers).
 */
export function invokeHandler(handler: () => void, onFailure?: (error: unknown) => void): void {
  try {
    handler();
  } catch (error) {
    if (onFailure) onFailure(error);
    else
      queueMicrotask(() => {
        throw error;
      });
  }
}

export function noop(): void {}

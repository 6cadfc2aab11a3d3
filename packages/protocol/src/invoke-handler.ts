/**
 * Calls an application callback. An exception it throws must not corrupt protocol state nor escape from
 * Mux.receive(), so it is reported the way event listeners' exceptions are: rethrown from a fresh microtask
 * (an uncaught exception in Node, a console error in browsers).
 */
export function invokeHandler(handler: () => void): void {
  try {
    handler();
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

export function noop(): void {}

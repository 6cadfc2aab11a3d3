/** Writes up to this size that start a run go out at once (see runCorker): keystrokes, echoes, prompts. */
export const PROMPT_FRAME_BYTES = 1024;

/** A Node stream's cork()/uncork(): writes in between are buffered and then written together, in one writev. */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/**
 * Batches the writes of one synchronous run to `target` (a socket, a terminal). A small first write (at most
 * PROMPT_FRAME_BYTES, while nothing waits in the target) goes out at once: a keystroke or its echo is not held back
 * while the rest of the run executes. Every other write of the run is corked, and they leave together in one writev
 * when the run's microtasks start: at most two system calls (and wake-ups of the reader) per run, and a flood's
 * large writes go together.
 */
export function runCorker(target: Corkable) {
  let inRun = false;
  let corked = false;
  const uncork = () => {
    if (!corked) return;
    corked = false;
    target.uncork();
  };
  const endRun = () => {
    inRun = false;
    uncork();
  };
  return {
    /** Call before writing `bytes` bytes; `idle`: nothing waits in the target, so a write now leaves now. */
    beforeWrite(bytes: number, idle = true): void {
      const first = !inRun;
      if (first) {
        inRun = true;
        queueMicrotask(endRun);
      }
      if (!corked && !(first && idle && bytes <= PROMPT_FRAME_BYTES)) {
        corked = true;
        target.cork();
      }
    },
    /** Lets what is corked go now (say, before a goodbye written elsewhere). */
    uncork,
  };
}

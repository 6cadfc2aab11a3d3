/**
 * A client's terminal resizes, passed on at most once per `intervalMs` with the latest size winning; a size equal
 * to the one last passed on is dropped. Resize frames carry no flow-control credit, so without this a client could
 * send them as fast as its socket allows, and each would become a recorded event (kept in memory while the disk
 * is behind) and a frame to the agent. A person dragging a window edge sees the final size within `intervalMs`.
 */
export function createResizeCoalescer(
  apply: (cols: number, rows: number) => void,
  { intervalMs = 100, current }: { intervalMs?: number; current: { cols: number; rows: number } },
) {
  let last = current;
  let waiting: { cols: number; rows: number } | undefined;
  let timer: NodeJS.Timeout | undefined;
  let quietUntil = 0;

  const pass = (size: { cols: number; rows: number }) => {
    if (size.cols === last.cols && size.rows === last.rows) return;
    last = size;
    quietUntil = performance.now() + intervalMs;
    apply(size.cols, size.rows);
  };

  return {
    resize(cols: number, rows: number): void {
      const size = { cols, rows };
      const wait = quietUntil - performance.now();
      if (timer === undefined && wait <= 0) {
        pass(size);
        return;
      }
      waiting = size;
      timer ??= setTimeout(
        () => {
          timer = undefined;
          const latest = waiting as { cols: number; rows: number };
          waiting = undefined;
          pass(latest);
        },
        Math.max(wait, 0),
      );
    },
    stop(): void {
      clearTimeout(timer);
      timer = undefined;
      waiting = undefined;
    },
  };
}

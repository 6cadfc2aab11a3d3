import { Buffer } from 'node:buffer';
import { type FileHandle, open } from 'node:fs/promises';

/** How much of the file's end is read at a time, looking for the last whole line. */
const BLOCK = 64 * 1024;

/**
 * Ends a recording that its server never closed (it was killed, or the machine stopped): a last line cut short
 * mid-write is cut off, so the file parses again, and a final "m" event says why the recording ends there, at
 * the time of the last event kept. Reads only the file's end; leaves a file without a whole header line as it is
 * (nothing to keep) and says so. Returns how many bytes of a torn last line were dropped.
 */
export async function sealRecording(
  path: string,
  reason: string,
): Promise<{ droppedBytes: number; lastEventSeconds: number }> {
  const file = await open(path, 'r+');
  try {
    const { size } = await file.stat();
    // Everything after the last newline is a line the writer never finished.
    const lastNewline = await lastNewlineBefore(file, size);
    if (lastNewline < 0) throw new Error(`${path} has no whole header line: nothing to seal`);
    const kept = lastNewline + 1;
    const time = await lastEventTime(file, lastNewline);
    await file.truncate(kept);
    const line = `[${time},"m",${JSON.stringify(`session ended: ${reason}`)}]\n`;
    await file.write(line, kept, 'utf8');
    await file.sync();
    return { droppedBytes: size - kept, lastEventSeconds: time };
  } finally {
    await file.close();
  }
}

/** The offset of the last newline before `end`, or -1; reads back from `end` a block at a time. */
async function lastNewlineBefore(file: FileHandle, end: number): Promise<number> {
  for (let stop = end; stop > 0; ) {
    const start = Math.max(0, stop - BLOCK);
    const block = Buffer.alloc(stop - start);
    await file.read(block, 0, block.length, start);
    const at = block.lastIndexOf(0x0a);
    if (at >= 0) return start + at;
    stop = start;
  }
  return -1;
}

/** The time of the whole line that ends at `lineEnd` when it is an event, else 0 (it is the header). */
async function lastEventTime(file: FileHandle, lineEnd: number): Promise<number> {
  const before = await lastNewlineBefore(file, lineEnd);
  if (before < 0) return 0; // the header is the only line
  // An event's time is in its first few bytes: "[<time>," is all that is needed.
  const head = Buffer.alloc(Math.min(64, lineEnd - before - 1));
  await file.read(head, 0, head.length, before + 1);
  const time = /^\[(\d+(?:\.\d+)?),/.exec(head.toString('latin1'))?.[1];
  return time === undefined ? 0 : Number(time);
}

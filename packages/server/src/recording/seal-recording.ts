import { Buffer } from 'node:buffer';
import { open } from 'node:fs/promises';

/** How much of the file's end is read at a time, looking for the last whole line. */
const BLOCK = 64 * 1024;

/**
 * Ends a recording that its server never closed (it was killed, or the machine stopped): a last line cut short
 * mid-write is cut off, so the file parses again, and a final "m" event says why the recording ends there, at
 * the time of the last event kept. Reads only the file's end; leaves a file without a whole header line as it is
 * (nothing to keep) and says so. Returns how many bytes of a torn last line were dropped.
 */
export async function sealRecording(path: string, reason: string): Promise<{ droppedBytes: number }> {
  const file = await open(path, 'r+');
  try {
    const { size } = await file.stat();
    // The last newline: everything after it is a line the writer never finished.
    let end = size;
    let lastNewline = -1;
    while (end > 0 && lastNewline < 0) {
      const start = Math.max(0, end - BLOCK);
      const block = Buffer.alloc(end - start);
      await file.read(block, 0, block.length, start);
      const at = block.lastIndexOf(0x0a);
      if (at >= 0) lastNewline = start + at;
      end = start;
    }
    if (lastNewline < 0) throw new Error(`${path} has no whole header line: nothing to seal`);
    const kept = lastNewline + 1;
    const time = await lastEventTime(file, kept);
    await file.truncate(kept);
    const line = `[${time},"m",${JSON.stringify(`session ended: ${reason}`)}]\n`;
    await file.write(line, kept, 'utf8');
    await file.sync();
    return { droppedBytes: size - kept };
  } finally {
    await file.close();
  }
}

/** The time of the last whole line before `kept` when it is an event, else 0 (only the header). */
async function lastEventTime(file: Awaited<ReturnType<typeof open>>, kept: number): Promise<number> {
  // The line before the last newline: back to the newline before it.
  let end = kept - 1;
  let text = '';
  while (end > 0) {
    const start = Math.max(0, end - BLOCK);
    const block = Buffer.alloc(end - start);
    await file.read(block, 0, block.length, start);
    const at = block.lastIndexOf(0x0a);
    // An event's time is in its first few bytes: "[<time>," is all that is needed.
    if (at >= 0) {
      text = block.subarray(at + 1, Math.min(block.length, at + 1 + 64)).toString('latin1');
      break;
    }
    if (start === 0) return 0; // the header is the only line
    end = start;
  }
  const time = /^\[(\d+(?:\.\d+)?),/.exec(text)?.[1];
  return time === undefined ? 0 : Number(time);
}

import type { Channel } from '@sesame/protocol';

export type RecordSink = {
  /** Hands bytes to the recorder; false means the recorder is behind and wants no more credit granted. */
  write(data: Uint8Array): boolean;
  onDrain(callback: () => void): void;
  /** After a chunk was recorded and handed on (it may end the session). */
  relayed?(): void;
};

/**
 * Moves bytes from one channel to another without copying them. Every chunk is handed to the recorder
 * before it is forwarded, so nothing reaches the other side unrecorded. Flow-control credit goes back
 * to the sender only when the chunk has left for the receiver AND the recorder keeps up, so the relay
 * holds at most one window of data per direction however fast or slow either side is. "Left" means
 * handed to a connection that is not full (muxOverWebSocket's SEND_HIGH_WATER): a receiver that grants
 * a huge window and stops reading holds back the sender, not the server's memory.
 */
export function pipe(from: Channel, to: Channel, sink: RecordSink, onChunk?: () => void): void {
  let recorderBehind = false;
  let held = 0;
  const credit = (bytes: number) => {
    if (recorderBehind) held += bytes;
    else from.release(bytes);
  };
  const caughtUp = () => {
    recorderBehind = false;
    const bytes = held;
    held = 0;
    if (bytes > 0 && !from.closed) from.release(bytes);
  };
  from.autoRelease = false;
  from.onData = (data) => {
    onChunk?.();
    if (!sink.write(data) && !recorderBehind) {
      recorderBehind = true;
      sink.onDrain(caughtUp);
    }
    const size = data.length;
    to.write(data, () => credit(size));
    sink.relayed?.();
  };
}

// Test support (pure, like the rest of the package): muxes wired to each other or to a hand-driven peer.

import type { Channel } from './channel.ts';
import type { ProtocolError } from './errors.ts';
import { decodeFrame, encodeFrame } from './frame-codec.ts';
import type { Frame } from './frame-types.ts';
import { Mux, type MuxOptions } from './mux.ts';

export const peerHello: Frame = { type: 'hello', version: 1, minVersion: 1, info: {} };

export type WireEntry = { type: string; channel: number; size: number };

/** Two muxes connected by an in-memory socket that delivers each message in its own microtask. */
export function connectMuxes(optionsA: MuxOptions, optionsB: MuxOptions) {
  const aToB: WireEntry[] = [];
  const bToA: WireEntry[] = [];
  const closes: { side: 'a' | 'b'; code: string; message: string }[] = [];
  let a: Mux | undefined;
  let b: Mux | undefined;
  let socketOpen = true;
  const transport = (side: 'a' | 'b', log: WireEntry[], peer: () => Mux) => ({
    send(bytes: Uint8Array) {
      if (!socketOpen) return;
      log.push(describe(bytes));
      queueMicrotask(() => peer().receive(bytes));
    },
    close(code: string, message: string) {
      closes.push({ side, code, message });
      socketOpen = false;
      queueMicrotask(() => peer().transportClosed('TRANSPORT_CLOSED', `${side} closed the socket`));
    },
  });
  a = new Mux(
    transport('a', aToB, () => b!),
    { keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0, ...optionsA },
  );
  b = new Mux(
    transport('b', bToA, () => a!),
    { keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0, ...optionsB },
  );
  return { a, b, aToB, bToA, closes };
}

/** A mux whose peer is the test itself: frames the mux sends are decoded into `sent`; inject() feeds it. */
export function connectRaw(options: MuxOptions) {
  const sent: Frame[] = [];
  const closes: { code: string; message: string }[] = [];
  const mux = new Mux(
    {
      send: (bytes) => sent.push(decodeFrame(bytes, Number.MAX_SAFE_INTEGER)),
      close: (code, message) => closes.push({ code, message }),
    },
    { keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0, ...options },
  );
  const inject = (frame: Frame | Uint8Array) =>
    mux.receive(frame instanceof Uint8Array ? frame : encodeFrame(frame));
  /** Frames sent since the last call. */
  let seen = 0;
  const take = () => {
    const fresh = sent.slice(seen);
    seen = sent.length;
    return fresh;
  };
  return { mux, sent, closes, inject, take };
}

/** A connected, handshaken pair whose side b accepts every channel (the accepted channels land in `accepted`). */
export async function readyPair(optionsA: Partial<MuxOptions> = {}, optionsB: Partial<MuxOptions> = {}) {
  const accepted: Channel[] = [];
  const pair = connectMuxes(
    { side: 'a', ...optionsA },
    { side: 'b', onOpen: (request) => accepted.push(request.accept({ pid: 7 })), ...optionsB },
  );
  pair.a.hello({ role: 'server' });
  pair.b.hello({ role: 'agent' });
  await Promise.all([pair.a.ready, pair.b.ready]);
  return { ...pair, accepted };
}

/** Records everything a channel reports. */
export function recordChannel(channel: Channel) {
  const events: string[] = [];
  const data: Uint8Array[] = [];
  channel.onData = (chunk) => {
    data.push(chunk);
    events.push(`data:${new TextDecoder().decode(chunk)}`);
  };
  channel.onResize = (cols, rows) => events.push(`resize:${cols}x${rows}`);
  channel.onEof = () => events.push('eof');
  channel.onExit = (code, signal) => events.push(`exit:${code}:${signal}`);
  channel.onClose = (code, message) => events.push(`close:${code}:${message}`);
  return { events, data };
}

/** Mux (side a, window 1000, maxData 500, frames <= 600 bytes) whose peer is the test; channels 2 and 4 open. */
export function rawWithChannels() {
  const errors: ProtocolError[] = [];
  const channels = new Map<number, { channel: Channel; events: string[] }>();
  const raw = connectRaw({
    side: 'a',
    window: 1000,
    maxData: 500,
    maxFrameBytes: 600,
    onError: (error) => errors.push(error),
    onOpen: (request) => {
      const channel = request.accept();
      const events: string[] = [];
      channel.autoRelease = false;
      channel.onData = (data) => events.push(`data:${data.length}`);
      channel.onClose = (code) => events.push(`close:${code}`);
      channels.set(channel.id, { channel, events });
    },
  });
  raw.mux.hello({});
  raw.inject(peerHello);
  for (const channel of [2, 4])
    raw.inject({ type: 'open', channel, window: 10_000, maxData: 1000, spec: {} });
  raw.take();
  const data = (channel: number, size: number) =>
    raw.inject({ type: 'data', channel, data: new Uint8Array(size) });
  return { ...raw, errors, channels, data };
}

function describe(bytes: Uint8Array): WireEntry {
  try {
    const frame = decodeFrame(bytes, Number.MAX_SAFE_INTEGER);
    const channel = 'channel' in frame ? frame.channel : 0;
    return { type: frame.type, channel, size: frame.type === 'data' ? frame.data.length : 0 };
  } catch {
    return { type: 'invalid', channel: -1, size: bytes.length };
  }
}

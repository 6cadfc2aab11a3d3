#!/usr/bin/env node
// Runs the TypeScript sources through tsx (no build step).
import { setFlagsFromString } from 'node:v8';
import { register } from 'tsx/esm/api';

// A long-running daemon whose hot path is the relay. At V8's default budget (67584 bytes of bytecode run per
// function before it is optimized) the per-keystroke path of a fresh server and agent stayed unoptimized for a
// long time: echo p50 fell only slowly over the first 1,600 keystrokes (~900 -> ~450 us on the bench VM), and
// reached ~200-400 us only after output had flowed. With an 8x smaller budget it was at ~250-450 us after the
// first 320 keystrokes. Set before any application code is loaded, so every function gets it.
setFlagsFromString('--interrupt-budget=8192');

register();
await import('../src/server.ts');

export type { AsciicastEvent, AsciicastHeader, EventCode } from './asciicast-format.ts';
export { EVENT_CODES } from './asciicast-format.ts';
export { parseAsciicast } from './asciicast-parse.ts';
export type { Recorder, RecorderOptions } from './asciicast-recorder.ts';
export { createAsciicastRecorder } from './asciicast-recorder.ts';

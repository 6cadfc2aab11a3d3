// The asciicast v2 format (https://docs.asciinema.org/manual/asciicast/v2/): a JSON header line, then one
// `[time, code, data]` JSON array per line. Shared by the recorder and the parser.

/** Event codes: "o" output, "i" input, "r" resize ("COLSxROWS"), "m" marker. */
export const EVENT_CODES = { output: 'o', input: 'i', resize: 'r', marker: 'm' } as const;

export type EventCode = (typeof EVENT_CODES)[keyof typeof EVENT_CODES];

export type AsciicastHeader = {
  version: 2;
  width: number;
  height: number;
  timestamp?: number;
  [k: string]: unknown;
};

export type AsciicastEvent = [number, EventCode, string];

/** Resize event data: "COLSxROWS", both positive integers without leading zeros. */
export const RESIZE_DATA = /^[1-9]\d*x[1-9]\d*$/;

export function isEventCode(value: unknown): value is EventCode {
  return value === 'o' || value === 'i' || value === 'r' || value === 'm';
}

export function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

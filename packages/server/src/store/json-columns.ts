// JSON values are stored as text in both dialects; these read them back and check their shape, so a damaged
// row fails loudly instead of handing a service something that is not what its type says.
import { SesameStoreError } from './store-error.ts';
import type { Tags } from './types.ts';

export function parseTags(text: string, column: string): Tags {
  const value = parseJson(text, column);
  if (!isPlainObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    throw damaged(`column ${column} does not hold an object of strings`);
  }
  return value as Tags;
}

export function parseStringArray(text: string, column: string): string[] {
  const value = parseJson(text, column);
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw damaged(`column ${column} does not hold an array of strings`);
  }
  return value;
}

export function parseObject(text: string, column: string): Record<string, unknown> {
  const value = parseJson(text, column);
  if (!isPlainObject(value)) throw damaged(`column ${column} does not hold an object`);
  return value;
}

export function toJson(value: unknown): string {
  return JSON.stringify(value);
}

export function toFlag(value: boolean): number {
  return value ? 1 : 0;
}

export function fromFlag(value: number | string | boolean): boolean {
  return Number(value) === 1;
}

export function parseJson(text: string, column: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw damaged(`column ${column} does not hold valid JSON`);
  }
}

function damaged(message: string): SesameStoreError {
  return new SesameStoreError('DAMAGED', message);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

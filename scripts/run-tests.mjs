#!/usr/bin/env node
// Runs the test suite with node:test under tsx. Node 20's --test does not expand globs, so the files are
// listed here. `unit` runs the tests beside the sources, `e2e` the end-to-end tests, no argument runs both.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function find(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) find(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const which = process.argv[2] ?? 'all';
const files = [];
if (which === 'all' || which === 'unit') files.push(...find('packages'));
if (which === 'all' || which === 'e2e') files.push(...find('test'));
if (files.length === 0) {
  process.stderr.write(`no test files found for "${which}"\n`);
  process.exit(1);
}
const args = ['--import', 'tsx', '--test', '--test-concurrency=1', ...process.argv.slice(3), ...files.sort()];
const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(result.status ?? 1);

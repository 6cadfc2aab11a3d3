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
// A test file that never exits (a handle left open) must not hang CI: the whole run is bounded.
const LIMIT_MINUTES = Number(process.env.SESAME_TEST_LIMIT_MINUTES ?? 40);
const result = spawnSync(process.execPath, args, {
  stdio: 'inherit',
  timeout: LIMIT_MINUTES * 60_000,
  killSignal: 'SIGKILL',
});
if (result.error?.code === 'ETIMEDOUT' || result.signal === 'SIGKILL') {
  process.stderr.write(
    `\nthe tests did not finish within ${LIMIT_MINUTES} minutes: stopped (a test file left something running?)\n`,
  );
  process.exit(1);
}
process.exit(result.status ?? 1);

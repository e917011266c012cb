// `npm run e2e`: build the board when frontend/dist is missing or older than the sources, then run
// every e2e/*.test.mjs with node:test, one file at a time (each test starts its own backend,
// runner and browser; two cores do not run two agents and two Chromiums well).
//
//   npm run e2e                          every test
//   npm run e2e -- e2e/moves.test.mjs    some files
//   npm run e2e -- --test-name-pattern=keyboard
//   LAZYAF_E2E_DIST=/tmp/dist npm run e2e  a board built elsewhere
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CHROMIUM, FRONTEND, RESULTS } from './harness.mjs';

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

if (!existsSync(CHROMIUM)) {
  console.error(`Chromium is not at ${CHROMIUM}; install it (apt-get install -y chromium) or set LAZYAF_CHROMIUM.`);
  process.exit(1);
}
const index = join(FRONTEND, 'dist', 'index.html');
const sources = Math.max(newest(join(FRONTEND, 'src')), statSync(join(FRONTEND, 'index.html')).mtimeMs);
// LAZYAF_E2E_DIST points the tests at another build (left as it is).
if (!process.env.LAZYAF_E2E_DIST && (!existsSync(index) || statSync(index).mtimeMs < sources)) {
  console.log('Building the board (frontend/dist)…');
  const build = spawnSync('npm', ['run', 'build'], { cwd: FRONTEND, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

rmSync(RESULTS, { recursive: true, force: true }); // artifacts of this run only
const args = process.argv.slice(2);
const files = args.filter((a) => !a.startsWith('-'));
const flags = args.filter((a) => a.startsWith('-'));
const tests = files.length
  ? files
  : readdirSync(join(FRONTEND, 'e2e'))
      .filter((f) => f.endsWith('.test.mjs'))
      .sort()
      .map((f) => relative(FRONTEND, join(FRONTEND, 'e2e', f)));
const reporter = 'spec';
const run = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=1', `--test-reporter=${reporter}`, ...flags, ...tests],
  { cwd: FRONTEND, stdio: 'inherit' },
);
process.exit(run.status ?? 1);

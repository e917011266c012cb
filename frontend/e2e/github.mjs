// GitHub for the board's e2e tests: the testkit's fake GitHub (GitHub's API, held to its OpenAPI
// description) and GitHub's git endpoint (`git http-backend` wanting the token), each a process
// on 127.0.0.1 that the test stops at its end.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { ROOT } from './harness.mjs';

const PYTHON = join(process.env.LAZYAF_VENV ?? join(ROOT, '.venv'), 'bin', 'python');

/** Run `python -m <module> args`; resolves with { url, stop } once it prints "… listening on URL". */
async function serveModule(module, args) {
  const proc = spawn(PYTHON, ['-m', module, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buffer = '';
  const url = await new Promise((ok, fail) => {
    proc.stdout.on('data', (chunk) => {
      buffer += chunk;
      const match = buffer.match(/listening on (\S+)/);
      if (match) ok(match[1]);
    });
    proc.on('exit', (code) => fail(new Error(`${module} exited with ${code}`)));
  });
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGTERM');
    await exited;
  };
  return { url, stop };
}

/**
 * The fake GitHub seeded with `seed` (the body of POST /_fake/seed), plus the git endpoint of each
 * seeded repo; `violations()` lists every breach of GitHub's contract LazyAF made.
 */
export async function startGitHub(t, seed) {
  const api = await serveModule('lazyaf_testkit.github', []);
  t.after(api.stop);
  const response = await fetch(`${api.url}/_fake/seed`, { method: 'POST', body: JSON.stringify(seed) });
  if (!response.ok) throw new Error(`seeding the fake GitHub failed: ${await response.text()}`);
  const repos = (seed.repos ?? []).flatMap((r) => ['--repo', r.full_name]);
  const git = await serveModule('lazyaf_testkit.github.git', ['--token', seed.tokens[0].token, ...repos]);
  t.after(git.stop);
  return {
    url: api.url,
    gitUrl: (fullName) => `${git.url}/${fullName}.git`,
    violations: async () => (await fetch(`${api.url}/_fake/violations`)).json(),
    calls: async () => (await fetch(`${api.url}/_fake/calls`)).json(),
  };
}

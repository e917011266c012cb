// The e2e harness: a real LazyAF backend on a fresh data dir, the scripted model stand-in, a
// repo ingested with the real `lazyaf ingest`, local runners running the real Claude Code CLI, and
// Debian's Chromium driven by playwright-core.
//
//   await withStack(t, { runners: 1 }, async (stack) => {
//     const page = await stack.page();
//     ...
//   });
//
// Everything a test starts is stopped when it ends; on failure the server and runner logs and a
// screenshot of every open page are copied to frontend/test-results/<test>/.
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync, openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const FRONTEND = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = resolve(FRONTEND, '..');
export const RESULTS = join(FRONTEND, 'test-results');
const VENV = process.env.LAZYAF_VENV ?? join(ROOT, '.venv');
const LAZYAF = join(VENV, 'bin', 'lazyaf');
const PYTHON = join(VENV, 'bin', 'python');
const CLAUDE = join(ROOT, 'runner', 'claude', 'node_modules', '.bin', 'claude');
export const CHROMIUM = process.env.LAZYAF_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** What the scripted model writes and says (frontend/e2e/fakemodel_server.py). */
export const MODEL = {
  file: 'hello.txt',
  buildLine: 'Hello from the scripted model',
  buildText: "I'll create hello.txt with a greeting.",
  buildFinal: 'Done: hello.txt greets the reader.',
  iterateText: "I'll address the review comments in hello.txt.",
  iterateLine: 'Hello from the scripted model, revised',
  planText: "I'll write the plan for the greeting first.",
  planFinal: 'The plan is ready: one file, hello.txt.',
};

/** Generous bounds for conditions (never timing assertions). */
export const TIMEOUT = { ui: 15_000, job: 90_000 };

export function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** Poll `fn` until it returns a truthy value (returned), or fail after `timeout` ms with `what`. */
export async function waitFor(fn, { timeout = TIMEOUT.ui, interval = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
      last = value;
    } catch (err) {
      if (err?.fatal) throw err;
      last = err;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? `: ${last.message}` : last === undefined ? '' : `: last ${JSON.stringify(last)}`;
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${detail}`);
    }
    await sleep(interval);
  }
}

/** An environment without any real Anthropic credentials or endpoints leaking in. */
function cleanEnv(extra) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(ANTHROPIC_|CLAUDE_|LAZYAF_)/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

function git(args, cwd) {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'E2E',
      GIT_AUTHOR_EMAIL: 'e2e@example.com',
      GIT_COMMITTER_NAME: 'E2E',
      GIT_COMMITTER_EMAIL: 'e2e@example.com',
      GIT_CONFIG_NOSYSTEM: '1',
    },
  });
}

/** A small git repository with a README and one source file on `main`. */
export function makeSourceRepo(dir) {
  mkdirSync(dir, { recursive: true });
  git(['init', '-q', '-b', 'main'], dir);
  writeFileSync(join(dir, 'README.md'), '# Demo\n\nA demo repository for the LazyAF board tests.\n');
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'app.py'), 'def greet(name):\n    return f"Hello, {name}!"\n');
  git(['add', '.'], dir);
  git(['commit', '-q', '-m', 'Initial commit'], dir);
  return dir;
}

function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);
}

/** Start the scripted model; resolves with { url, proc }. */
async function startModel(script = 'board') {
  const proc = spawn(PYTHON, [join(FRONTEND, 'e2e', 'fakemodel_server.py'), '--script', script], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let buffer = '';
  const url = await new Promise((ok, fail) => {
    proc.stdout.on('data', (chunk) => {
      buffer += chunk;
      const line = buffer.split('\n')[0];
      if (buffer.includes('\n')) ok(line.trim());
    });
    proc.on('exit', (code) => fail(new Error(`fake model exited with ${code}`)));
  });
  return { url, proc };
}

async function stopProcess(proc, graceMs = 8000) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, 'exit');
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Process ids of local runners dialling `serverUrl` (they run in their own session). */
function runnerPids(serverUrl) {
  const pids = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (cmd.includes('lazyaf_runner') && cmd.includes(serverUrl)) pids.push(Number(name));
    } catch {
      // gone already
    }
  }
  return pids;
}

// Servers and models still running when this process ends (a crash, Ctrl-C) are killed with it.
const live = new Set();
process.on('exit', () => {
  for (const proc of live) {
    try {
      proc.kill('SIGKILL');
    } catch {
      // gone
    }
  }
});
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));

export class Stack {
  constructor({ dataDir, url, server, model, modelUrl, name }) {
    Object.assign(this, { dataDir, url, server, model, modelUrl, name });
    this.browsers = [];
    this.handRunners = [];
    this.pages = [];
    this.pageErrors = [];
    this.cspViolations = [];
    this.repo = null;
  }

  /** Fetch `/api${path}`; resolves with { status, body } (body parsed when JSON). */
  async request(method, path, body) {
    const send = () =>
      fetch(`${this.url}/api${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    let response;
    try {
      response = await send();
    } catch (err) {
      // A kept-alive connection the server closed while idle (uvicorn: after 5 s): the request
      // never reached it, so sending it again on a new connection is safe.
      if (err?.cause?.code !== 'UND_ERR_SOCKET') throw err;
      response = await send();
    }
    const text = await response.text();
    let parsed = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: response.status, body: parsed };
  }

  /** Like request(), but any non-2xx status throws with the backend's message. */
  async api(method, path, body) {
    const { status, body: data } = await this.request(method, path, body);
    if (status < 200 || status >= 300) throw new Error(`${method} ${path} → ${status}: ${JSON.stringify(data)}`);
    return data;
  }

  get = (path) => this.api('GET', path);
  post = (path, body = {}) => this.api('POST', path, body);
  patch = (path, body) => this.api('PATCH', path, body);

  /** Ingest a fresh source repo with the real `lazyaf ingest`; remembers and returns the repo record. */
  async ingest(name = 'demo') {
    const source = makeSourceRepo(join(this.dataDir, 'sources', name));
    execFileSync(LAZYAF, ['--server', this.url, 'ingest', source, '--name', name], {
      encoding: 'utf8',
      env: cleanEnv({}),
    });
    const repos = await this.get('/repos');
    this.repo = repos.find((r) => r.name === name);
    if (!this.repo) throw new Error(`repo ${name} not listed after ingest: ${JSON.stringify(repos)}`);
    return this.repo;
  }

  /** Scale local runners to `count` and wait until that many are idle. */
  async scaleLocal(count) {
    await this.post('/runners/scale', { kind: 'local', count });
    if (count > 0) {
      await waitFor(async () => {
        const pool = await this.get('/runners');
        return pool.runners.filter((r) => r.kind === 'local' && r.status === 'idle').length >= count;
      }, { timeout: 60_000, what: `${count} idle local runner(s)` });
    }
  }

  /**
   * Start a runner by hand, as a user would on another machine (`lazyaf runner --server URL`),
   * and wait until it is idle; returns its process (the stack stops it at the end).
   */
  async handRunner(name) {
    const workDir = join(this.dataDir, `hand-${name}`);
    mkdirSync(workDir, { recursive: true });
    mkdirSync(join(this.dataDir, 'logs'), { recursive: true });
    const log = openSync(join(this.dataDir, 'logs', `hand-${name}.log`), 'a');
    const proc = spawn(LAZYAF, ['runner', '--server', this.url, '--name', name, '--kind', 'remote', '--work-dir', workDir], {
      stdio: ['ignore', log, log],
      env: cleanEnv({ LAZYAF_CLAUDE_BINARY: CLAUDE }),
    });
    closeSync(log);
    live.add(proc);
    proc.on('exit', () => live.delete(proc));
    this.handRunners.push(proc);
    await waitFor(async () => {
      if (proc.exitCode !== null) throw Object.assign(new Error(`lazyaf runner exited with ${proc.exitCode}`), { fatal: true });
      const pool = await this.get('/runners');
      return pool.runners.find((r) => r.name === name && r.status === 'idle');
    }, { timeout: 60_000, what: `runner ${name} to be idle` });
    return proc;
  }

  /** Stop a runner started by hand (SIGTERM, as Ctrl-C would) and wait until the server sees it offline. */
  async stopHandRunner(proc, name) {
    await stopProcess(proc);
    await waitFor(async () => {
      const pool = await this.get('/runners');
      return pool.runners.find((r) => r.name === name && r.status === 'offline');
    }, { timeout: 30_000, what: `runner ${name} to be offline` });
  }

  async createCard(title, fields = {}) {
    return this.post(`/repos/${this.repo.id}/cards`, { title, ...fields });
  }

  async cards() {
    return this.get(`/repos/${this.repo.id}/cards`);
  }

  card = (id) => this.get(`/cards/${id}`);
  job = (id) => this.get(`/jobs/${id}`);

  async cardByTitle(title) {
    return (await this.cards()).find((c) => c.title === title);
  }

  /** Wait until the card's status is `status` (API), and return the card. */
  async waitCardStatus(id, status, timeout = TIMEOUT.job) {
    let last;
    return waitFor(async () => {
      last = await this.card(id);
      if (last.status === 'failed' && status !== 'failed') {
        const job = last.job_id ? await this.job(last.job_id) : null;
        throw Object.assign(new Error(`card failed: ${job?.error}`), { fatal: true });
      }
      return last.status === status && last;
    }, { timeout, interval: 250, what: `card ${id} to be ${status} (last: ${last?.status})` });
  }

  /** Create a card through the API, start it and wait until the agent's work is in review. */
  async cardInReview(title, fields = {}) {
    const card = await this.createCard(title, fields);
    await this.post(`/cards/${card.id}/start`);
    return this.waitCardStatus(card.id, 'in_review');
  }

  /**
   * A page on the board in a new browser context: of a fresh browser (own temporary profile), or
   * of `sameBrowserAs`; `hasTouch` for a touch screen.
   */
  async page({ viewport = { width: 1440, height: 900 }, sameBrowserAs, hasTouch = false } = {}) {
    let browser = sameBrowserAs;
    if (!browser) {
      browser = await launchChromium();
      this.browsers.push(browser);
    }
    const context = await browser.newContext({ viewport, hasTouch });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT.ui);
    page.on('pageerror', (err) => this.pageErrors.push(`${err.name}: ${err.message}`));
    watchCsp(page, this.cspViolations);
    this.pages.push(page);
    await page.goto(this.url);
    return page;
  }

  /** Save a screenshot artifact as test-results/<name>.png. */
  async screenshot(page, name) {
    mkdirSync(RESULTS, { recursive: true });
    const path = join(RESULTS, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    return path;
  }

  async saveFailureArtifacts() {
    const dir = join(RESULTS, slug(this.name));
    mkdirSync(dir, { recursive: true });
    for (const [i, page] of this.pages.entries()) {
      try {
        await page.screenshot({ path: join(dir, `page-${i}.png`), fullPage: true, timeout: 5000 });
      } catch {
        // the page may be gone
      }
    }
    for (const file of ['server.log', ...readdirSafe(join(this.dataDir, 'logs')).map((f) => join('logs', f))]) {
      const from = join(this.dataDir, file);
      if (existsSync(from)) copyFileSync(from, join(dir, file.replace('/', '-')));
    }
    if (this.pageErrors.length) writeFileSync(join(dir, 'page-errors.txt'), this.pageErrors.join('\n'));
    return dir;
  }

  async close() {
    for (const browser of this.browsers) await browser.close().catch(() => {});
    for (const proc of this.handRunners) await stopProcess(proc);
    try {
      await this.request('POST', '/runners/scale', { kind: 'local', count: 0 });
    } catch {
      // server already gone
    }
    const leftovers = runnerPids(this.url);
    await stopProcess(this.server);
    for (const pid of [...leftovers, ...runnerPids(this.url)]) {
      try {
        process.kill(-pid, 'SIGKILL'); // the runner leads its own process group (agent included)
      } catch {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    if (this.model) {
      this.model.proc.stdin.end();
      await stopProcess(this.model.proc);
    }
  }
}

function readdirSafe(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Collect what Chromium refused under the page's Content-Security-Policy into `into`. */
export function watchCsp(page, into) {
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) into.push(message.text());
  });
}

export function launchChromium(extraArgs = []) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
}

/**
 * Start a backend on a fresh data dir (plus the scripted model), optionally ingest a repo and
 * scale local runners. `credential: false`: the server has no model key and its user (HOME, a
 * fresh folder: `stack.home`) no Claude Code login, so Claude Code has no credential at all.
 */
export async function startStack(name, { repo = true, runners = 0, model = true, credential = true, env = {}, dist = process.env.LAZYAF_E2E_DIST ?? join(FRONTEND, 'dist') } = {}) {
  if (!existsSync(join(dist, 'index.html'))) {
    throw new Error('frontend/dist is not built; run `npm run build` (npm run e2e does it).');
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'lazyaf-e2e-'));
  const home = credential ? null : join(dataDir, 'home');
  if (home) mkdirSync(home);
  const fake = model ? await startModel() : null;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log = openSync(join(dataDir, 'server.log'), 'a');
  const server = spawn(LAZYAF, ['serve', '--port', String(port), '--data-dir', dataDir], {
    stdio: ['ignore', log, log],
    env: cleanEnv({
      LAZYAF_DATA_DIR: dataDir,
      LAZYAF_FRONTEND_DIR: dist,
      LAZYAF_DEFAULT_AGENT: 'claude',
      LAZYAF_CLAUDE_BINARY: CLAUDE,
      LAZYAF_LEASE_TTL: '15',
      LAZYAF_LOG_FORMAT: 'json',
      ...(fake ? { LAZYAF_ANTHROPIC_BASE_URL: fake.url } : {}),
      // Claude Code needs a credential to start a card (the scripted model accepts any).
      ...(credential ? { LAZYAF_ANTHROPIC_API_KEY: 'sk-ant-e2e-not-a-real-key' } : { HOME: home }),
      ...env,
    }),
  });
  closeSync(log);
  live.add(server);
  if (fake) live.add(fake.proc);
  server.on('exit', () => live.delete(server));
  fake?.proc.on('exit', () => live.delete(fake.proc));
  const stack = new Stack({ dataDir, url, server, model: fake, modelUrl: fake?.url, name });
  stack.home = home;
  try {
    await waitFor(async () => {
      if (server.exitCode !== null) throw Object.assign(new Error(`lazyaf serve exited with ${server.exitCode}`), { fatal: true });
      const response = await fetch(`${url}/api/health`);
      return response.ok;
    }, { timeout: 30_000, interval: 100, what: 'lazyaf serve to answer /api/health' });
    if (repo) await stack.ingest();
    if (runners) await stack.scaleLocal(runners);
  } catch (err) {
    await stack.close();
    const tail = readFileSync(join(dataDir, 'server.log'), 'utf8').split('\n').slice(-20).join('\n');
    throw new Error(`${err.message}\n--- server.log (tail) ---\n${tail}`);
  }
  return stack;
}

/** Run `fn(stack)` with a fresh stack; saves artifacts when it throws; always tears down. */
export async function withStack(t, options, fn) {
  const stack = await startStack(t.name, options);
  let failed = true;
  try {
    await fn(stack);
    // The board must work under the backend's Content-Security-Policy (backend boundary.py):
    // anything the browser refused to run or load fails the test that hit it.
    assert.deepEqual(stack.cspViolations, [], 'the page broke the Content-Security-Policy');
    failed = false;
  } catch (err) {
    const dir = await stack.saveFailureArtifacts().catch(() => null);
    if (dir) err.message += `\n(artifacts: ${dir}; data dir: ${stack.dataDir})`;
    if (stack.pageErrors.length) err.message += `\n(page errors: ${stack.pageErrors.join(' | ')})`;
    throw err;
  } finally {
    await stack.close();
    if (!failed) rmSync(stack.dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 }); // a killed runner may still be writing
  }
}

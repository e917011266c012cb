// The board's frame: the empty state, the header, search, the runner panel.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor, withStack } from './harness.mjs';
import { column, expectCardIn, expectLive, markDocument } from './board.mjs';

test('with no repo yet the board shows the lazyaf ingest command', { timeout: 60_000 }, async (t) => {
  await withStack(t, { repo: false, model: false }, async (stack) => {
    const page = await stack.page();
    await expectLive(page);
    await page.getByText('lazyaf ingest', { exact: false }).first().waitFor();
    assert.equal(await page.getByRole('region', { name: 'To Do', exact: true }).count(), 0);
    assert.equal((await stack.get('/repos')).length, 0);
  });
});

test('a repo ingested while the board is open appears on it live', { timeout: 60_000 }, async (t) => {
  await withStack(t, { repo: false, model: false }, async (stack) => {
    const page = await stack.page();
    await expectLive(page);
    await page.getByText('lazyaf ingest', { exact: false }).first().waitFor();
    const sameDocument = await markDocument(page);
    const repo = await stack.ingest('fresh');
    await stack.createCard('First card');
    const select = page.getByLabel('Repository', { exact: true });
    await waitFor(async () => (await select.inputValue()) === repo.id, { what: 'the new repo to be selected' });
    await expectCardIn(page, 'To Do', 'First card');
    await sameDocument();
  });
});

test('search narrows the board to matching cards and says when none match; the theme toggles', { timeout: 60_000 }, async (t) => {
  await withStack(t, { model: false }, async (stack) => {
    for (const title of ['Fix the login bug', 'Write the changelog', 'Fix the logout bug']) await stack.createCard(title);
    const page = await stack.page();
    await expectLive(page);
    const todo = column(page, 'To Do');
    await expectCardIn(page, 'To Do', 'Write the changelog');
    await page.getByRole('searchbox', { name: 'Search cards' }).fill('bug');
    await waitFor(async () => (await todo.getByRole('listitem').count()) === 2, { what: 'two matching cards' });
    await expectCardIn(page, 'To Do', 'Fix the login bug');
    await expectCardIn(page, 'To Do', 'Fix the logout bug');
    await page.getByRole('searchbox', { name: 'Search cards' }).fill('zebra');
    await page.getByText('No card matches “zebra”.').waitFor();
    assert.equal(await todo.getByRole('listitem').count(), 0);
    await page.getByRole('button', { name: 'Show every card' }).click();
    await waitFor(async () => (await todo.getByRole('listitem').count()) === 3, { what: 'all cards back' });
    assert.equal(await page.getByRole('searchbox', { name: 'Search cards' }).inputValue(), '');

    const theme = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const before = await theme();
    await page.getByRole('button', { name: 'Toggle theme' }).click();
    await waitFor(async () => (await theme()) !== before, { what: 'the background to change with the theme' });
  });
});

test('the runner panel scales local runners and shows the docker run command', { timeout: 90_000 }, async (t) => {
  await withStack(t, { model: false }, async (stack) => {
    const page = await stack.page();
    await expectLive(page);
    let panel = page.getByRole('region', { name: 'Runners', exact: true });
    if (!(await panel.isVisible())) await page.getByRole('button', { name: /^Runners\b/ }).click();
    panel = page.getByRole('region', { name: 'Runners', exact: true });
    await panel.waitFor();

    await panel.getByRole('button', { name: 'Add local runner' }).click();
    await waitFor(async () => {
      const pool = await stack.get('/runners');
      return pool.local === 1 && pool.runners.some((r) => r.kind === 'local' && r.status === 'idle');
    }, { timeout: 60_000, what: 'one idle local runner' });
    await panel.getByText(/idle/i).first().waitFor();
    await panel.getByLabel('1 local runner', { exact: true }).waitFor({ timeout: 60_000 });

    await panel.getByRole('button', { name: 'Remove local runner' }).click();
    await waitFor(async () => (await stack.get('/runners')).local === 0, { timeout: 30_000, what: 'no local runner' });
    await panel.getByLabel('0 local runners', { exact: true }).waitFor({ timeout: 30_000 });

    await panel.getByRole('button', { name: 'Add a runner by hand' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add a runner by hand' });
    const command = (await stack.get('/runners/docker-command')).command;
    await waitFor(async () => (await dialog.getByLabel('docker run command', { exact: true }).textContent()) === command, {
      what: "the dialog to show the server's docker run command",
    });
    const runnerLine = `lazyaf runner --server ${(await stack.get('/health')).public_url}`;
    assert.equal(await dialog.getByLabel('lazyaf runner command', { exact: true }).textContent(), runnerLine);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.url });
    await dialog.getByRole('button', { name: 'Copy the docker run command' }).click();
    await waitFor(async () => (await page.evaluate(() => navigator.clipboard.readText())) === command, {
      what: 'the docker command on the clipboard',
    });
    await dialog.getByRole('button', { name: 'Copy the lazyaf runner command' }).click();
    await waitFor(async () => (await page.evaluate(() => navigator.clipboard.readText())) === runnerLine, {
      what: 'the runner command on the clipboard',
    });
  });
});

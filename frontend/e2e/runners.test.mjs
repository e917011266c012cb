// Runners you can manage: one added by hand that has stopped is removed from the panel; a card
// queued with no runner says so and starts one with a click.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TIMEOUT, waitFor, withStack } from './harness.mjs';
import { cardItem, column, expectCardIn, expectLive } from './board.mjs';

test('a stopped runner added by hand is removed from the runner panel', { timeout: 120_000 }, async (t) => {
  await withStack(t, { model: false }, async (stack) => {
    const proc = await stack.handRunner('laptop');
    const page = await stack.page();
    await expectLive(page);
    let panel = page.getByRole('region', { name: 'Runners', exact: true });
    if (!(await panel.isVisible())) await page.getByRole('button', { name: /^Runners\b/ }).click();
    panel = page.getByRole('region', { name: 'Runners', exact: true });
    await panel.getByText('laptop', { exact: true }).waitFor();
    // Connected: nothing to remove.
    assert.equal(await panel.getByRole('button', { name: 'Remove runner laptop' }).count(), 0);

    await stack.stopHandRunner(proc, 'laptop'); // Ctrl-C where it runs
    const remove = panel.getByRole('button', { name: 'Remove runner laptop' });
    await remove.click();
    await waitFor(async () => (await stack.get('/runners')).runners.length === 0, { what: 'the runner gone from the API' });
    await waitFor(async () => (await panel.getByText('laptop', { exact: true }).count()) === 0, { what: 'the runner gone from the panel' });
  });
});

test('a card queued with no runner says so, and one click starts a runner that runs it', { timeout: 150_000 }, async (t) => {
  await withStack(t, { runners: 0 }, async (stack) => {
    const page = await stack.page();
    await expectLive(page);
    const card = await stack.createCard('Wait for me', { description: 'Write hello.txt with a greeting.' });
    await stack.post(`/cards/${card.id}/start`);

    // The tile and the banner say why it waits; the API says the same.
    const banner = page.getByRole('status', { name: 'Waiting for a runner' });
    await banner.waitFor();
    assert.match(await banner.textContent(), /1 card waiting for a runner — none is running\./);
    await cardItem(column(page, 'In Progress'), 'Wait for me').getByText('waiting for a runner — none is running').waitFor();
    const detail = await stack.card(card.id);
    assert.equal(detail.waiting_reason.code, 'no_runner');
    assert.equal(detail.waiting_reason.message, 'waiting for a runner — none is running');
    await stack.screenshot(page, 'waiting-for-a-runner');

    await banner.getByRole('button', { name: 'Start a local runner' }).click();
    await stack.waitCardStatus(card.id, 'in_review', TIMEOUT.job);
    await expectCardIn(page, 'In Review', 'Wait for me', TIMEOUT.job);
    await waitFor(async () => (await banner.count()) === 0, { what: 'the banner to go' });
    const pool = await stack.get('/runners');
    assert.equal(pool.local, 1);
    assert.deepEqual(pool.waiting, {});
    assert.equal((await stack.card(card.id)).waiting_reason, null);
  });
});

// Budgets and limits on the board: work a limit holds is badged on its tile and listed in the queue
// view with the reason and its figures; a held card is cancelled from there; raising the limit in
// the limits dialog releases the other, which the real Claude Code CLI then runs to review.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TIMEOUT, waitFor, withStack } from './harness.mjs';
import { cardItem, column, expectCardIn, expectLive } from './board.mjs';

test('held work shows on its tile and in the queue view; raising the limit releases it', { timeout: 180_000 }, async (t) => {
  await withStack(t, { runners: 1 }, async (stack) => {
    await stack.api('PUT', '/limits', { max_running: 0 });
    const page = await stack.page();
    await expectLive(page);
    const first = await stack.createCard('Held first', { description: 'Write hello.txt with a greeting.' });
    const second = await stack.createCard('Held second', { description: 'Write hello.txt with a greeting.' });
    await stack.post(`/cards/${first.id}/start`);
    await stack.post(`/cards/${second.id}/start`);

    // The tile says it is held, which limit holds it and the figures.
    const tile = cardItem(column(page, 'In Progress'), 'Held first');
    await tile.getByText('held', { exact: true }).waitFor();
    await tile.getByText('held: max_running 0 of 0').waitFor();
    assert.equal((await stack.card(first.id)).waiting_reason.message, 'held: max_running 0 of 0');

    // The queue view lists both in dispatch order, held, with the stats.
    await page.getByRole('button', { name: /^Queue: 2 waiting, 2 held/ }).click();
    const queue = page.getByRole('dialog', { name: 'Queue' });
    const list = queue.getByRole('list', { name: 'Queued attempts in dispatch order' });
    await list.getByText('Held second').waitFor();
    const rows = list.getByRole('listitem');
    assert.deepEqual(await rows.locator('.title').allTextContents(), ['Held first', 'Held second']);
    assert.equal(await rows.first().getByText('held: max_running 0 of 0').count(), 1);
    assert.match(await queue.getByLabel('Queue stats').textContent(), /2 attempts queued · 2 held · 0 running/);
    await stack.screenshot(page, 'queue-view-held');

    // Cancel the second from the queue view: gone from the queue, back to To Do.
    await queue.getByRole('button', { name: 'Cancel Held second' }).click();
    await waitFor(async () => (await list.getByText('Held second').count()) === 0, { what: 'the cancelled card gone from the queue view' });
    await stack.waitCardStatus(second.id, 'todo', TIMEOUT.ui);
    assert.deepEqual((await stack.get('/queue')).jobs.map((e) => e.card_title), ['Held first']);
    await queue.getByRole('button', { name: 'Close' }).click();

    // Raise the limit in the limits dialog: the held card runs, on the real agent, to review.
    await page.getByRole('button', { name: /^Limits and spend: \$0\.00 today/ }).click();
    const dialog = page.getByRole('dialog', { name: 'Limits and spend' });
    const running = dialog.getByRole('group', { name: 'All repos' }).getByLabel(/^Running at once/);
    assert.equal(await running.inputValue(), '0');
    await running.fill('1');
    await dialog.getByRole('button', { name: 'Save limits' }).click();
    await waitFor(async () => (await dialog.count()) === 0 || !(await dialog.isVisible()), { what: 'the dialog to close' });
    assert.equal((await stack.get('/limits')).limits.max_running, 1);
    await stack.waitCardStatus(first.id, 'in_review', TIMEOUT.job);
    await expectCardIn(page, 'In Review', 'Held first', TIMEOUT.job);

    // Its run's cost is today's spend, in the header too (live, from limits_updated).
    const spent = (await stack.get('/limits')).usage.spent_usd;
    assert.ok(spent > 0, 'the run reported a cost');
    await page.getByRole('button', { name: /^Limits and spend: (<\$0\.01|\$\d+\.\d\d) today$/ }).filter({ hasNotText: '$0.00' }).waitFor();
  });
});

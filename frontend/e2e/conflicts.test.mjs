// Predicted collisions on the board, with the real backend, a real local runner and the real
// Claude Code CLI on the scripted model (which writes hello.txt for every card): two cards in
// review both add hello.txt, so each tile names the other; approving one moves the other's badge
// to the target branch, live; the card modal lists what collides, with the files.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TIMEOUT, waitFor, withStack } from './harness.mjs';
import { cardItem, expectLive, openCard, openTab } from './board.mjs';

const LIMIT = { timeout: 240_000 };

const badge = (page, title, text) => cardItem(page, title).getByText(text, { exact: false });

test('tiles name the cards they collide with, and follow a merge live', LIMIT, async (t) => {
  await withStack(t, { runners: 1 }, async (stack) => {
    const first = await stack.cardInReview('Greet first');
    const second = await stack.cardInReview('Greet second');
    const predicted = await waitFor(async () => {
      const listed = await stack.get(`/cards/${first.id}/conflicts`);
      return listed.length ? listed : null;
    }, { timeout: TIMEOUT.job, what: 'a prediction between the two cards' });
    assert.deepEqual(
      predicted.map((c) => [c.with, c.kind, c.files]),
      [[second.id, 'overlap', ['hello.txt']]],
    );

    const page = await stack.page();
    await expectLive(page);
    const onFirst = badge(page, 'Greet first', 'overlaps');
    await onFirst.waitFor({ state: 'visible' });
    assert.match((await onFirst.textContent()).replace(/\s+/g, ' '), /overlaps Greet second/);
    assert.equal(await onFirst.getAttribute('title'), 'Overlaps Greet second in hello.txt');
    assert.match((await badge(page, 'Greet second', 'overlaps').textContent()).replace(/\s+/g, ' '), /overlaps Greet first/);
    await stack.screenshot(page, 'conflict-badges');

    // Approve the first card (over the API): the second's badge now names main, without a reload.
    await stack.post(`/cards/${first.id}/approve`);
    await waitFor(async () => /overlaps main/.test(((await badge(page, 'Greet second', 'overlaps').textContent()) ?? '').replace(/\s+/g, ' ')), {
      what: 'the second tile to name main',
    });
    assert.equal(await badge(page, 'Greet first', 'overlaps').count(), 0);

    const dialog = await openCard(page, 'Greet second');
    await openTab(dialog, 'Details');
    const list = dialog.getByRole('list', { name: 'Predicted conflicts' });
    await list.waitFor({ state: 'visible' });
    await stack.screenshot(page, 'conflicts-in-the-card');
    assert.equal((await list.getByRole('listitem').allTextContents()).map((s) => s.replace(/\s+/g, ' ').trim()).join('|'), 'overlap with the target branch main hello.txt');
  });
});

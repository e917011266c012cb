// Moving cards by keyboard, and a move the rules refuse (no agent runs here: no runners).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor, withStack } from './harness.mjs';
import { column, countIn, expectCardIn, expectLive, keyboardDrag, mouseDrag } from './board.mjs';

const LIMIT = { timeout: 60_000 };

test('a card dragged with the keyboard to In Progress starts its job', LIMIT, async (t) => {
  await withStack(t, { runners: 0, model: false }, async (stack) => {
    const title = 'Keyboard card';
    const card = await stack.createCard(title);
    await stack.createCard('A neighbour');
    const page = await stack.page();
    await expectLive(page);
    await expectCardIn(page, 'To Do', title);

    await keyboardDrag(page, title, 'In Progress');
    const started = await waitFor(async () => {
      const now = await stack.card(card.id);
      return now.status === 'in_progress' && now;
    }, { what: 'the card to be in_progress in the API' });
    const job = await stack.job(started.job_id);
    assert.equal(job.kind, 'build');
    assert.equal(job.status, 'queued'); // no runner: it waits
    await expectCardIn(page, 'In Progress', title);
    assert.equal(await countIn(page, 'To Do', title), 0);
    await expectCardIn(page, 'To Do', 'A neighbour');
    assert.equal((await stack.cardByTitle('A neighbour')).status, 'todo');
  });
});

test('a refused move (To Do → Done) snaps back and says why', LIMIT, async (t) => {
  await withStack(t, { runners: 0, model: false }, async (stack) => {
    const title = 'Not done yet';
    const card = await stack.createCard(title);
    const page = await stack.page();
    await expectLive(page);
    await expectCardIn(page, 'To Do', title);

    await mouseDrag(page, title, 'Done');
    const alert = page.getByRole('alert').filter({ visible: true, hasText: /Done/ });
    await alert.first().waitFor();
    // The client's rule or the backend's sentence (transitions.refusal) may say it.
    assert.match(
      await alert.first().textContent(),
      /cannot move from To Do to Done|Only a card in review can become done/,
    );
    await expectCardIn(page, 'To Do', title);
    await waitFor(async () => (await countIn(page, 'Done', title)) === 0, { what: 'the card to leave Done' });
    const after = await stack.card(card.id);
    assert.equal(after.status, 'todo');
    assert.equal(after.job_id, null);
    assert.equal((await stack.get(`/cards/${card.id}/jobs`)).length, 0);
  });
});

test('a refused move the backend decides (In Progress → To Do) snaps back with the backend\'s reason', LIMIT, async (t) => {
  await withStack(t, { runners: 0, model: false }, async (stack) => {
    const title = 'Busy card';
    const card = await stack.createCard(title);
    await stack.post(`/cards/${card.id}/start`);
    const page = await stack.page();
    await expectLive(page);
    await expectCardIn(page, 'In Progress', title);

    await mouseDrag(page, title, 'To Do');
    const alert = page.getByRole('alert').filter({ visible: true });
    await alert.first().waitFor();
    assert.match(await alert.first().textContent(), /cancel (its|the) job/i);
    await expectCardIn(page, 'In Progress', title);
    await waitFor(async () => (await countIn(page, 'To Do', title)) === 0, { what: 'the card to leave To Do' });
    assert.equal((await stack.card(card.id)).status, 'in_progress');
    assert.equal(await column(page, 'In Progress').getByRole('listitem').count(), 1);
  });
});

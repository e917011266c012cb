// Moving cards by keyboard, and a move the rules refuse (no agent runs here: no runners).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor, withStack } from './harness.mjs';
import { cardDialog, cardItem, cardTitle, column, countIn, expectCardIn, expectLive, mouseDrag, touchDrag } from './board.mjs';

const LIMIT = { timeout: 60_000 };

test('a card dragged with the keyboard from To Do to In Progress by arrow keys alone starts its job', LIMIT, async (t) => {
  await withStack(t, { runners: 0, model: false }, async (stack) => {
    const title = 'Keyboard card';
    const card = await stack.createCard(title);
    await stack.createCard('A neighbour');
    const page = await stack.page();
    await expectLive(page);
    await expectCardIn(page, 'To Do', title);

    const item = cardItem(page, title).first();
    await item.focus();
    await page.keyboard.press('Space');
    await page.keyboard.press('ArrowRight');
    // Held over In Progress: shown there, still focused, announced by name, nothing sent yet.
    await expectCardIn(page, 'In Progress', title);
    assert.equal(await cardItem(column(page, 'In Progress'), title).evaluate((el) => el === document.activeElement), true);
    const announced = await page.locator('[aria-live="assertive"]').textContent();
    assert.match(announced, /“Keyboard card” in In Progress/);
    assert.equal((await stack.card(card.id)).status, 'todo');
    await page.keyboard.press('Space');

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

test('Escape puts a card held with the keyboard back, and nothing is sent', LIMIT, async (t) => {
  await withStack(t, { runners: 0, model: false }, async (stack) => {
    const card = await stack.createCard('Put me back');
    const page = await stack.page();
    await expectLive(page);
    await expectCardIn(page, 'To Do', 'Put me back');
    await cardItem(page, 'Put me back').first().focus();
    await page.keyboard.press('Space');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await expectCardIn(page, 'In Review', 'Put me back');
    await page.keyboard.press('Escape');
    await expectCardIn(page, 'To Do', 'Put me back');
    assert.equal(await countIn(page, 'In Review', 'Put me back'), 0);
    const after = await stack.card(card.id);
    assert.equal(after.status, 'todo');
    assert.equal(after.job_id, null);
  });
});

test('a card dragged by the centre of its title to In Progress starts; a click on the title opens it', LIMIT, async (t) => {
  await withStack(t, { runners: 0, model: false }, async (stack) => {
    const card = await stack.createCard('Grab my title');
    await stack.createCard('Click my title');
    const page = await stack.page();
    await expectLive(page);
    await expectCardIn(page, 'To Do', 'Grab my title');

    await mouseDrag(page, 'Grab my title', 'In Progress', { grab: 'title' });
    await waitFor(async () => (await stack.card(card.id)).status === 'in_progress', { what: 'the card to start' });
    await expectCardIn(page, 'In Progress', 'Grab my title');
    assert.equal(await page.getByRole('dialog').count(), 0, 'a drag does not open the card');

    // A press and release without moving opens the card.
    const clicked = await stack.cardByTitle('Click my title');
    await cardTitle(page, 'Click my title').click();
    await cardDialog(page, 'Click my title').waitFor();
    assert.equal(new URL(page.url()).searchParams.get('card'), clicked.id);
    assert.equal((await stack.card(clicked.id)).status, 'todo');
  });
});

test('with touch, a card dragged by its title to In Progress starts; a tap on a title opens the card', LIMIT, async (t) => {
  await withStack(t, { runners: 0, model: false }, async (stack) => {
    const card = await stack.createCard('Touch my title');
    const tapped = await stack.createCard('Tap my title');
    const page = await stack.page({ hasTouch: true });
    await expectLive(page);
    await expectCardIn(page, 'To Do', 'Touch my title');

    await touchDrag(page, 'Touch my title', 'In Progress');
    await waitFor(async () => (await stack.card(card.id)).status === 'in_progress', { what: 'the card to start' });
    await expectCardIn(page, 'In Progress', 'Touch my title');
    assert.equal(await page.getByRole('dialog').count(), 0, 'a drag does not open the card');

    await cardTitle(page, 'Tap my title').tap();
    await cardDialog(page, 'Tap my title').waitFor();
    assert.equal(new URL(page.url()).searchParams.get('card'), tapped.id);
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
    // The server's sentence (GET /api/meta/transitions: the board keeps no copy of the rules).
    const reason = "Only a card in review can become done; it needs an agent's work to review first.";
    const alert = page.getByRole('alert').filter({ visible: true, hasText: reason });
    await alert.first().waitFor();
    assert.match(await alert.first().textContent(), /Only a card in review can become done; it needs an agent's work/);
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

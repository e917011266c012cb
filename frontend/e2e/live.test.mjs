// Two browsers on one board: what one does, the other sees without reloading.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor, withStack } from './harness.mjs';
import { countIn, createCardInUI, expectCardIn, expectLive, markDocument, mouseDrag, openCard } from './board.mjs';

test('a second browser context sees the first one\'s changes live', { timeout: 60_000 }, async (t) => {
  await withStack(t, { runners: 0, model: false }, async (stack) => {
    const a = await stack.page();
    const b = await stack.page({ sameBrowserAs: stack.browsers[0] });
    assert.notEqual(a.context(), b.context());
    await expectLive(a);
    await expectLive(b);
    const bSameDocument = await markDocument(b);

    const title = 'Made in context A';
    await createCardInUI(a, { title, description: 'Seen in B?' });
    await expectCardIn(b, 'To Do', title);
    const card = await stack.cardByTitle(title);
    assert.equal(card.status, 'todo');

    await mouseDrag(a, title, 'In Progress');
    await waitFor(async () => (await stack.card(card.id)).status === 'in_progress', { what: 'the card to start' });
    await expectCardIn(b, 'In Progress', title);
    await waitFor(async () => (await countIn(b, 'To Do', title)) === 0, { what: 'B to drop the card from To Do' });

    // A change made outside any browser (the API) reaches both.
    await stack.createCard('Made through the API');
    await expectCardIn(a, 'To Do', 'Made through the API');
    await expectCardIn(b, 'To Do', 'Made through the API');
    await bSameDocument();
  });
});

test('an open card survives a reload: its ?card= link opens it again', { timeout: 60_000 }, async (t) => {
  await withStack(t, { runners: 0, model: false }, async (stack) => {
    const page = await stack.page();
    await expectLive(page);
    await stack.createCard('Shared by link');
    await openCard(page, 'Shared by link');
    const card = await stack.cardByTitle('Shared by link');
    assert.equal(new URL(page.url()).searchParams.get('card'), card.id);
    // The runner list answers only once the card is closed: a slow first load must not reopen it.
    let release;
    const held = new Promise((resolve) => (release = resolve));
    await page.route('**/api/runners', async (route) => {
      await held;
      await route.continue();
    });
    await page.reload();
    const dialog = page.getByRole('dialog', { name: 'Shared by link', exact: true });
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await waitFor(async () => !new URL(page.url()).searchParams.has('card'), { what: 'the link to drop the card' });
    const runnersLoaded = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/runners');
    release();
    await runnersLoaded;
    await page.unroute('**/api/runners');
    await expectLive(page);
    assert.equal(await dialog.isVisible(), false);
    assert.equal(new URL(page.url()).searchParams.has('card'), false);
  });
});

// Small things in a real browser: Escape on an edited card form asks before discarding (the
// native <dialog> would close on it), and actions that need the server are off while it is down.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor, withStack } from './harness.mjs';
import { cardDialog, cardItem, countIn, expectCardIn, expectLive, openCard } from './board.mjs';

test('Escape on an edited card form asks before discarding; unedited, it just closes', { timeout: 60_000 }, async (t) => {
  await withStack(t, { model: false }, async (stack) => {
    const card = await stack.createCard('Edit me');
    const page = await stack.page();
    await expectLive(page);
    const dialog = await openCard(page, 'Edit me');
    await dialog.getByLabel('Title', { exact: true }).fill('Edited but not saved');
    await page.keyboard.press('Escape');
    const ask = dialog.getByRole('alert').filter({ hasText: 'Discard your changes to this card?' });
    await ask.waitFor();
    assert.equal(await dialog.isVisible(), true);
    await ask.getByRole('button', { name: 'Keep editing' }).click();
    assert.equal(await dialog.getByLabel('Title', { exact: true }).inputValue(), 'Edited but not saved');
    await page.keyboard.press('Escape');
    await ask.getByRole('button', { name: 'Discard changes' }).click();
    await dialog.waitFor({ state: 'hidden' });
    assert.equal((await stack.card(card.id)).title, 'Edit me');

    await openCard(page, 'Edit me');
    await page.keyboard.press('Escape');
    await cardDialog(page, 'Edit me').waitFor({ state: 'hidden' });

    // The New card form too.
    await page.getByRole('button', { name: 'New card', exact: true }).click();
    const form = page.getByRole('dialog', { name: 'New card' });
    await form.getByLabel('Title', { exact: true }).fill('Half typed');
    await page.keyboard.press('Escape');
    await form.getByRole('button', { name: 'Discard changes' }).click();
    await form.waitFor({ state: 'hidden' });
    assert.equal((await stack.cards()).length, 1);
  });
});

test('while the server is unreachable, New card, Start and dragging are off, saying why', { timeout: 60_000 }, async (t) => {
  await withStack(t, { model: false }, async (stack) => {
    await stack.createCard('Waiting for the server');
    const page = await stack.page();
    await expectLive(page);
    await expectCardIn(page, 'To Do', 'Waiting for the server');
    stack.server.kill('SIGTERM');
    await page.getByRole('status').filter({ hasText: /^Offline$/ }).waitFor({ timeout: 30_000 });
    const newCard = page.getByRole('button', { name: 'New card', exact: true });
    await waitFor(() => newCard.isDisabled(), { what: 'New card to be off' });
    assert.match(await newCard.getAttribute('title'), /server is unreachable/);
    await cardItem(page, 'Waiting for the server').first().focus();
    await page.keyboard.press('Space');
    assert.match(await page.locator('[aria-live="assertive"]').textContent(), /server is unreachable/);
    await page.keyboard.press('ArrowRight');
    assert.equal(await countIn(page, 'In Progress', 'Waiting for the server'), 0);
    const dialog = await openCard(page, 'Waiting for the server');
    const start = dialog.getByRole('button', { name: 'Start', exact: true });
    assert.equal(await start.isDisabled(), true);
  });
});

// Page helpers for the board, written only with role and label locators (the UI contract).
import assert from 'node:assert/strict';
import { TIMEOUT, waitFor } from './harness.mjs';

/** A column: `<section aria-label="To Do">` and friends. */
export const column = (page, name) => page.getByRole('region', { name, exact: true });

/** A card's title on the board: a link to the card (?card=<id>). */
export const cardTitle = (scope, title, options = {}) => scope.getByRole('link', { name: title, exact: true, ...options });

/** The draggable item (svelte-dnd-action gives it role listitem) holding the card titled `title`. */
export const cardItem = (scope, title) => {
  const page = typeof scope.page === 'function' ? scope.page() : scope; // `has` is relative to each item
  return scope.getByRole('listitem').filter({ has: cardTitle(page, title) });
};

/** The open card modal. */
export const cardDialog = (page, title) => page.getByRole('dialog', { name: title, exact: true });

/** How many elements in column `name` carry the card's title (placeholders included, hidden or not). */
export async function countIn(page, name, title) {
  return cardTitle(column(page, name), title, { includeHidden: true }).count();
}

/** Wait until the card titled `title` is shown in column `name` (and only there). */
export async function expectCardIn(page, name, title, timeout = TIMEOUT.ui) {
  await cardItem(column(page, name), title).waitFor({ state: 'visible', timeout });
}

/** Wait for the connection indicator to say Live. */
export async function expectLive(page) {
  const status = page.getByRole('status').filter({ hasText: /^(Live|Connecting…|Offline)$/ });
  await waitFor(async () => (await status.textContent())?.trim() === 'Live', { what: 'the connection status to be Live' });
}

/** Mark the document so a test can prove later that it was never reloaded. */
export async function markDocument(page) {
  const token = `doc-${Math.random().toString(36).slice(2)}`;
  await page.evaluate((t) => {
    window.__e2eDocument = t;
  }, token);
  return async () => assert.equal(await page.evaluate(() => window.__e2eDocument), token, 'the page was reloaded');
}

/** Fill and submit the New card form. */
export async function createCardInUI(page, { title, description = '', priority }) {
  await page.getByRole('button', { name: 'New card', exact: true }).click();
  await page.getByLabel('Title', { exact: true }).fill(title);
  if (description) await page.getByLabel('Description', { exact: true }).fill(description);
  // The form's fields by their labels.
  if (priority) await page.getByRole('dialog', { name: 'New card' }).getByLabel('Priority', { exact: true }).selectOption({ label: priority });
  await page.getByRole('button', { name: 'Create card', exact: true }).click();
  await expectCardIn(page, 'To Do', title);
}

/**
 * Drag a card with the real mouse (pointer events, as a person would) into column `to`, grabbing
 * the tile by its lower padding or, with `grab: 'title'`, by the centre of its title. Waits until
 * the column shows the dragged card's placeholder before releasing, like a person would wait to
 * see where the card will land.
 */
export async function mouseDrag(page, title, to, { grab = 'padding' } = {}) {
  const item = cardItem(page, title).first();
  await item.scrollIntoViewIfNeeded();
  const from = await (grab === 'title' ? cardTitle(item, title) : item).boundingBox();
  const target = await column(page, to).boundingBox();
  assert.ok(from && target, 'card and column are on screen');
  const sx = grab === 'title' ? from.x + from.width / 2 : from.x + 10;
  const sy = grab === 'title' ? from.y + from.height / 2 : from.y + from.height - 5;
  await page.mouse.move(sx, sy);
  await page.mouse.down();
  await page.mouse.move(sx + 6, sy + 6, { steps: 3 });
  const tx = target.x + target.width / 2;
  const ty = target.y + Math.min(target.height / 2, 160);
  await page.mouse.move(tx, ty, { steps: 25 });
  await waitFor(async () => {
    await page.mouse.move(tx + 1, ty + 1);
    await page.mouse.move(tx, ty);
    return (await countIn(page, to, title)) > 0;
  }, { what: `the dragged card "${title}" to hover over ${to}` });
  await page.mouse.up();
}

/**
 * Drag a card by the centre of its title with a finger (real touch events through the DevTools
 * protocol; the page needs `hasTouch`) into column `to`.
 */
export async function touchDrag(page, title, to) {
  const cdp = await page.context().newCDPSession(page);
  const touch = (type, x, y) => cdp.send('Input.dispatchTouchEvent', { type, touchPoints: type === 'touchEnd' ? [] : [{ x, y }] });
  const from = await cardTitle(cardItem(page, title).first(), title).boundingBox();
  const target = await column(page, to).boundingBox();
  assert.ok(from && target, 'card and column are on screen');
  const [sx, sy] = [from.x + from.width / 2, from.y + from.height / 2];
  const [tx, ty] = [target.x + target.width / 2, target.y + Math.min(target.height / 2, 160)];
  await touch('touchStart', sx, sy);
  for (let step = 1; step <= 20; step++) await touch('touchMove', sx + ((tx - sx) * step) / 20, sy + ((ty - sy) * step) / 20);
  await waitFor(async () => {
    await touch('touchMove', tx + 1, ty + 1);
    await touch('touchMove', tx, ty);
    return (await countIn(page, to, title)) > 0;
  }, { what: `the card "${title}" dragged by touch to hover over ${to}` });
  await touch('touchEnd');
  await cdp.detach();
}

/** Open a card's modal by clicking its title. */
export async function openCard(page, title) {
  await cardTitle(page, title).first().click();
  const dialog = cardDialog(page, title);
  await dialog.waitFor({ state: 'visible' });
  return dialog;
}

export async function openTab(dialog, name) {
  const tab = dialog.getByRole('tab', { name, exact: true });
  await tab.click();
  await waitFor(async () => (await tab.getAttribute('aria-selected')) === 'true', { what: `the ${name} tab to be selected` });
}

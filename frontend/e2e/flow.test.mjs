// A card's whole life on the board, with the real backend, a real local runner and the real
// Claude Code CLI on the scripted model (frontend/e2e/fakemodel_server.py).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MODEL, TIMEOUT, waitFor, withStack } from './harness.mjs';
import {
  cardDialog,
  column,
  countIn,
  createCardInUI,
  expectCardIn,
  expectLive,
  markDocument,
  mouseDrag,
  openCard,
  openTab,
} from './board.mjs';

const LIMIT = { timeout: 150_000 };

test('a card created on the board, dragged to In Progress, reaches In Review live and shows its diff and logs', LIMIT, async (t) => {
  await withStack(t, { runners: 1 }, async (stack) => {
    const page = await stack.page();
    await expectLive(page);
    const sameDocument = await markDocument(page);
    const title = 'Greet the reader';

    await createCardInUI(page, { title, description: 'Write hello.txt with a greeting.', priority: 'High' });
    const created = await waitFor(() => stack.cardByTitle(title), { what: 'the card in the API' });
    assert.equal(created.status, 'todo');
    assert.equal(created.description, 'Write hello.txt with a greeting.');
    assert.equal(created.priority, 2);

    await mouseDrag(page, title, 'In Progress');
    await expectCardIn(page, 'In Progress', title);
    const started = await waitFor(async () => {
      const card = await stack.card(created.id);
      return card.job_id && card;
    }, { what: 'the card to have a job' });
    assert.notEqual(started.status, 'todo');
    const job = await stack.job(started.job_id);
    assert.equal(job.kind, 'build');

    // The runner does the work; the board follows over its WebSocket (no reload).
    await expectCardIn(page, 'In Review', title, TIMEOUT.job);
    assert.equal(await countIn(page, 'In Progress', title), 0);
    const reviewed = await stack.card(created.id);
    assert.equal(reviewed.status, 'in_review');
    assert.equal((await stack.job(reviewed.job_id)).status, 'completed');
    await sameDocument();
    await stack.screenshot(page, 'board');

    const dialog = await openCard(page, title);
    await openTab(dialog, 'Diff');
    await dialog.getByText(MODEL.file).first().waitFor();
    await dialog.getByText(MODEL.buildLine, { exact: false }).first().waitFor();
    await stack.screenshot(page, 'card-modal-diff');

    await openTab(dialog, 'Logs');
    await dialog.getByText(MODEL.buildText).first().waitFor();
    await dialog.getByText(MODEL.buildFinal).first().waitFor();
    await stack.screenshot(page, 'card-modal');
    await sameDocument();
  });
});

test('a comment on a diff line and "Request changes" queue an iterate job', LIMIT, async (t) => {
  await withStack(t, { runners: 1 }, async (stack) => {
    const title = 'Review me';
    const card = await stack.cardInReview(title, { description: 'Write hello.txt.' });
    const page = await stack.page();
    await expectLive(page);
    await expectCardIn(page, 'In Review', title);

    const dialog = await openCard(page, title);
    await openTab(dialog, 'Diff');
    await dialog.getByText(MODEL.buildLine).first().waitFor();
    await dialog.getByRole('button', { name: /^Review line 1 of / }).first().click();
    const body = 'Say hello to the reviewer too.';
    await dialog.getByLabel('Comment', { exact: true }).fill(body);
    await dialog.getByRole('button', { name: 'Add comment', exact: true }).click();

    const comment = await waitFor(async () => {
      const list = await stack.get(`/cards/${card.id}/comments`);
      return list.find((c) => c.body === body);
    }, { what: 'the comment in the API' });
    assert.equal(comment.file, MODEL.file);
    assert.equal(comment.line, 1);

    await dialog.getByRole('button', { name: 'Request changes', exact: true }).click();
    const iterate = await waitFor(async () => {
      const jobs = await stack.get(`/cards/${card.id}/jobs`);
      return jobs.find((j) => j.kind === 'iterate');
    }, { what: 'an iterate job for the card' });
    assert.ok(['queued', 'running', 'completed'].includes(iterate.status), iterate.status);

    // The iterate job runs on the same branch and the card comes back for review, live.
    const back = await stack.waitCardStatus(card.id, 'in_review');
    assert.equal(back.job_id, iterate.id);
    assert.equal((await stack.job(iterate.id)).status, 'completed');
    await page.keyboard.press('Escape');
    await expectCardIn(page, 'In Review', title, TIMEOUT.job);
    const again = await openCard(page, title);
    await openTab(again, 'Diff');
    await again.getByText(MODEL.iterateLine).first().waitFor();
  });
});

test('approving a card in review moves it to Done and merges its branch', LIMIT, async (t) => {
  await withStack(t, { runners: 1 }, async (stack) => {
    const title = 'Approve me';
    const card = await stack.cardInReview(title);
    const page = await stack.page();
    await expectLive(page);
    const sameDocument = await markDocument(page);

    const dialog = await openCard(page, title);
    await dialog.getByRole('button', { name: 'Approve', exact: true }).click();
    const done = await stack.waitCardStatus(card.id, 'done', TIMEOUT.ui);
    assert.match(done.merge_sha ?? '', /^[0-9a-f]{40}$/);
    if (await cardDialog(page, title).isVisible()) await page.keyboard.press('Escape');
    await expectCardIn(page, 'Done', title);
    assert.equal(await countIn(page, 'In Review', title), 0);
    // The merge is on the default branch of the internal repo.
    const commits = await stack.get(`/repos/${stack.repo.id}/commits`);
    assert.ok(commits.some((c) => c.sha === done.merge_sha), 'the merge commit is on main');
    await sameDocument();
  });
});

test('dragging a card from In Review to Done approves it', LIMIT, async (t) => {
  await withStack(t, { runners: 1 }, async (stack) => {
    const title = 'Drag me to Done';
    const card = await stack.cardInReview(title);
    const page = await stack.page();
    await expectLive(page);
    await expectCardIn(page, 'In Review', title);
    await mouseDrag(page, title, 'Done');
    const done = await stack.waitCardStatus(card.id, 'done', TIMEOUT.ui);
    assert.match(done.merge_sha ?? '', /^[0-9a-f]{40}$/);
    await expectCardIn(page, 'Done', title);
  });
});

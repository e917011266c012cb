// No dead ends in review, with the real backend, a real local runner and the real Claude Code
// CLI on the scripted model: a comment on the whole card, a spent attempt limit, reject and start
// again (on the old branch or fresh).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MODEL, TIMEOUT, waitFor, withStack } from './harness.mjs';
import { cardDialog, cardItem, expectCardIn, expectLive, openCard, openTab } from './board.mjs';

const LIMIT = { timeout: 240_000 };

const branches = async (stack) => (await stack.get(`/repos/${stack.repo.id}/branches`)).map((b) => b.name);
const mainSha = async (stack) => (await stack.get(`/repos/${stack.repo.id}/branches`)).find((b) => b.name === 'main').sha;

test('a comment on the whole card, then Request changes, queues an iterate job that comes back for review', LIMIT, async (t) => {
  await withStack(t, { runners: 1 }, async (stack) => {
    const title = 'Review as a whole';
    const card = await stack.cardInReview(title);
    const page = await stack.page();
    await expectLive(page);
    const dialog = await openCard(page, title);
    await openTab(dialog, 'Diff');
    const body = 'Make the greeting warmer.';
    await dialog.getByLabel('Comment on the whole card').fill(body);
    await dialog.getByRole('button', { name: 'Add card comment' }).click();
    const comment = await waitFor(async () => (await stack.get(`/cards/${card.id}/comments`)).find((c) => c.body === body), {
      what: 'the comment in the API',
    });
    assert.equal(comment.file, null);
    assert.equal(comment.line, null);

    await dialog.getByRole('button', { name: 'Request changes', exact: true }).click();
    const iterate = await waitFor(async () => (await stack.get(`/cards/${card.id}/jobs`)).find((j) => j.kind === 'iterate'), {
      what: 'an iterate job',
    });
    const back = await stack.waitCardStatus(card.id, 'in_review');
    assert.equal(back.job_id, iterate.id);
    assert.equal((await stack.get(`/cards/${card.id}/comments`)).find((c) => c.id === comment.id).job_id, iterate.id);
    await dialog.getByText(MODEL.iterateLine).first().waitFor({ timeout: TIMEOUT.job });
    // The job picker counts attempts, whatever their kind.
    await openTab(dialog, 'Logs');
    const picker = dialog.getByLabel('Job', { exact: true });
    assert.deepEqual(
      (await picker.locator('option').allTextContents()).map((o) => o.split(' · ').slice(0, 2).join(' · ')),
      ['Attempt 1 · build', 'Attempt 2 · iterate'],
    );
  });
});

test('Request changes with nothing written asks what to change, and sends that', LIMIT, async (t) => {
  await withStack(t, { runners: 1 }, async (stack) => {
    const title = 'Nothing written yet';
    const card = await stack.cardInReview(title);
    const page = await stack.page();
    await expectLive(page);
    const dialog = await openCard(page, title);
    await dialog.getByRole('button', { name: 'Request changes', exact: true }).click();
    const ask = page.getByRole('dialog', { name: 'Request changes' });
    await ask.getByLabel('What should the agent change?').fill('Say hello to the reviewer too.');
    await ask.getByRole('button', { name: 'Send to the agent' }).click();
    const iterate = await waitFor(async () => (await stack.get(`/cards/${card.id}/jobs`)).find((j) => j.kind === 'iterate'), {
      what: 'an iterate job',
    });
    const [comment] = await stack.get(`/cards/${card.id}/comments`);
    assert.equal(comment.body, 'Say hello to the reviewer too.');
    assert.equal(comment.job_id, iterate.id);
  });
});

test('once its attempts are spent, Retry offers to raise the limit, and retries', LIMIT, async (t) => {
  await withStack(t, { runners: 1 }, async (stack) => {
    // A test command that fails: the agent's work is kept, the card fails with its one attempt used.
    await stack.patch(`/repos/${stack.repo.id}`, { test_command: 'false' });
    const title = 'One attempt only';
    const card = await stack.createCard(title, { max_attempts: 1 });
    await stack.post(`/cards/${card.id}/start`);
    await stack.waitCardStatus(card.id, 'failed');
    const page = await stack.page();
    await expectLive(page);
    await expectCardIn(page, 'Failed', title);

    await cardItem(page, title).getByRole('button', { name: 'Retry' }).click();
    const ask = page.getByRole('dialog', { name: 'Attempts used up' });
    await ask.getByText(/has used all 1 attempt/).waitFor();
    assert.equal(await ask.getByLabel('Attempts allowed').inputValue(), '2');
    // The build and its checks (the run's verify step): nothing more was sent by asking.
    assert.deepEqual((await stack.get(`/cards/${card.id}/jobs`)).map((j) => j.kind), ['build', 'verify'], 'asking sent nothing');
    await ask.getByRole('button', { name: 'Raise the limit and retry' }).click();

    // The checks failed: the build step goes back with their output.
    const retry = await waitFor(async () => (await stack.get(`/cards/${card.id}/jobs`)).find((j) => j.kind === 'fix'), {
      what: 'a fix job',
    });
    assert.ok(retry);
    assert.equal((await stack.card(card.id)).max_attempts, 2);
    await ask.waitFor({ state: 'hidden' });
    // The same check fails again: the card is back in Failed, its limit spent once more.
    await stack.waitCardStatus(card.id, 'failed');
    await expectCardIn(page, 'Failed', title, TIMEOUT.job);
  });
});

test('reject keeping the branch, start fresh; reject deleting the branch, start again from main', LIMIT, async (t) => {
  await withStack(t, { runners: 1 }, async (stack) => {
    const title = 'Start me over';
    const first = await stack.cardInReview(title);
    const oldBranch = first.branch_name;
    const page = await stack.page();
    await expectLive(page);
    const dialog = await openCard(page, title);

    // Reject, keeping the branch: the next start asks, continuing by default.
    await dialog.getByRole('button', { name: 'Reject', exact: true }).click();
    let ask = page.getByRole('dialog', { name: 'Reject card' });
    await ask.getByRole('button', { name: 'Reject', exact: true }).click();
    await stack.waitCardStatus(first.id, 'todo', TIMEOUT.ui);
    assert.ok((await branches(stack)).includes(oldBranch));
    await dialog.getByRole('button', { name: 'Start', exact: true }).click();
    ask = page.getByRole('dialog', { name: 'Start card again' });
    assert.equal(await ask.getByRole('radio', { name: /Continue its branch/ }).isChecked(), true);
    await ask.getByRole('radio', { name: /Start fresh from main/ }).check();
    const base = await mainSha(stack);
    await ask.getByRole('button', { name: 'Start', exact: true }).click();
    const fresh = await waitFor(async () => {
      const card = await stack.card(first.id);
      return card.status !== 'todo' && card;
    }, { what: 'the card to start' });
    const job = await stack.job(fresh.job_id);
    assert.equal(job.branch, `${oldBranch}-2`);
    assert.equal(job.base_sha, base);
    assert.ok((await branches(stack)).includes(oldBranch), 'the old branch stays in git');
    const reviewed = await stack.waitCardStatus(first.id, 'in_review');
    assert.equal((await stack.get(`/cards/${first.id}/commits`)).length, 1, 'one commit, made fresh from main');

    // Reject deleting the branch: nothing to continue, so Start starts fresh at once.
    await dialog.getByRole('button', { name: 'Reject', exact: true }).click();
    ask = page.getByRole('dialog', { name: 'Reject card' });
    await ask.getByRole('checkbox', { name: /Also delete its branch/ }).check();
    await ask.getByRole('button', { name: 'Reject and delete the branch' }).click();
    const rejected = await stack.waitCardStatus(first.id, 'todo', TIMEOUT.ui);
    assert.equal(rejected.branch_name, null);
    assert.ok(!(await branches(stack)).includes(reviewed.branch_name), 'the branch is deleted');
    await dialog.getByRole('button', { name: 'Start', exact: true }).click();
    const again = await waitFor(async () => {
      const card = await stack.card(first.id);
      return card.status !== 'todo' && card;
    }, { what: 'the card to start again' });
    assert.equal(await page.getByRole('dialog', { name: 'Start card again' }).count(), 0);
    assert.equal((await stack.job(again.job_id)).base_sha, await mainSha(stack));
    await stack.waitCardStatus(first.id, 'in_review');
    assert.equal(await cardDialog(page, title).isVisible(), true);
  });
});

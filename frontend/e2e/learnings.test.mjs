// Learnings and stalled agents on the board, with the real backend and real local runners: the
// repo settings' list (accept, edit, retire, live), a comment kept as a learning, a card marking
// the learnings its agent was given, and the stalled badge on a silent agent's tile.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TIMEOUT, waitFor, withStack } from './harness.mjs';
import { cardItem, expectLive, openCard, openTab } from './board.mjs';

const LIMIT = { timeout: 240_000 };

async function openLearnings(page) {
  await page.getByRole('button', { name: 'Repository settings' }).click();
  const dialog = page.getByRole('dialog', { name: 'Repository settings' });
  await dialog.getByRole('tab', { name: /Learnings/ }).click();
  return dialog;
}

test('the repo settings list accepts, edits and retires learnings, and follows changes live', LIMIT, async (t) => {
  await withStack(t, { model: false }, async (stack) => {
    const proposed = await stack.post(`/repos/${stack.repo.id}/learnings`, {
      text: 'Run make fmt before committing.',
      paths: ['src/**'],
      status: 'proposed',
    });
    const page = await stack.page();
    await expectLive(page);
    const dialog = await openLearnings(page);
    const item = dialog.getByRole('article', { name: `Learning: ${proposed.text}` });
    await item.getByRole('button', { name: 'Accept' }).click();
    await waitFor(async () => (await stack.get(`/learnings/${proposed.id}`)).status === 'accepted', { what: 'accepted' });

    await dialog.getByRole('button', { name: /^Accepted/ }).click();
    await item.getByRole('button', { name: 'Edit' }).click();
    await item.getByLabel('Learning text').fill('Run make fmt, then make lint, before committing.');
    await item.getByLabel('Learning paths').fill('src/**, tests/**');
    await item.getByRole('button', { name: 'Save learning' }).click();
    const edited = await waitFor(async () => {
      const now = await stack.get(`/learnings/${proposed.id}`);
      return now.text.startsWith('Run make fmt, then') && now;
    }, { what: 'the edit saved' });
    assert.deepEqual(edited.paths, ['src/**', 'tests/**']);
    assert.equal(edited.status, 'accepted');

    const retire = dialog.getByRole('article', { name: `Learning: ${edited.text}` }).getByRole('button', { name: 'Retire' });
    await retire.click();
    await waitFor(async () => (await stack.get(`/learnings/${proposed.id}`)).status === 'retired', { what: 'retired' });

    // Another client proposes one: it shows up here without a reload.
    await dialog.getByRole('button', { name: /^Proposed/ }).click();
    await stack.post(`/repos/${stack.repo.id}/learnings`, { text: 'Proposed elsewhere.', status: 'proposed' });
    await dialog.getByRole('article', { name: 'Learning: Proposed elsewhere.' }).waitFor({ timeout: TIMEOUT.ui });
  });
});

test('a review comment is kept as a learning about its file', LIMIT, async (t) => {
  await withStack(t, { runners: 1 }, async (stack) => {
    const title = 'Keep what the reviewer said';
    const card = await stack.cardInReview(title);
    const page = await stack.page();
    await expectLive(page);
    const dialog = await openCard(page, title);
    await openTab(dialog, 'Diff');
    await dialog.getByLabel('Comment on the whole card').fill('Greetings end with a full stop.');
    await dialog.getByRole('button', { name: 'Add card comment' }).click();
    await dialog.getByRole('button', { name: /1 comment, 1 open/ }).click();
    await dialog.getByRole('button', { name: 'Keep as learning' }).click();
    const form = dialog.getByRole('form', { name: 'Keep the comment as a learning' });
    await form.getByLabel('Learning paths').fill('hello.txt');
    await form.getByRole('button', { name: 'Save learning' }).click();
    const kept = await waitFor(async () => (await stack.get(`/repos/${stack.repo.id}/learnings`))[0], { what: 'the learning' });
    assert.equal(kept.text, 'Greetings end with a full stop.');
    assert.deepEqual(kept.paths, ['hello.txt']);
    assert.equal(kept.source, 'review');
    assert.equal(kept.status, 'accepted');
    assert.equal(kept.card_id, card.id);
  });
});

// An agent that says one line, then nothing (a command agent: the test controls its silence).
const SILENT_AGENT = `python3 -c "import time; print('thinking', flush=True); time.sleep(600)"`;

test("a silent agent's tile shows it stalled, and its card marks the learnings it was given", LIMIT, async (t) => {
  const env = { LAZYAF_DEFAULT_AGENT: 'command', LAZYAF_AGENT_COMMAND: SILENT_AGENT, LAZYAF_STALL_AFTER_S: '1', LAZYAF_KILL_AFTER_S: '3600' };
  await withStack(t, { model: false, runners: 1, env }, async (stack) => {
    const learning = await stack.post(`/repos/${stack.repo.id}/learnings`, { text: 'Keep functions short.' });
    const title = 'Think quietly';
    const card = await stack.createCard(title);
    const job = await stack.post(`/cards/${card.id}/start`);
    const page = await stack.page();
    await expectLive(page);
    const tile = cardItem(page, title);
    await tile.getByText('stalled', { exact: true }).waitFor({ timeout: 60_000 });
    assert.ok((await stack.job(job.id)).stalled_at, 'the server marked it');
    assert.equal((await stack.job(job.id)).status, 'running'); // a mark: nothing was stopped

    const dialog = await openCard(page, title);
    await openTab(dialog, 'Learnings');
    const given = dialog.getByRole('region', { name: "Learnings given to this card's agents" });
    const item = given.getByRole('listitem', { name: `Learning: ${learning.text}` });
    await item.getByRole('button', { name: 'Helpful' }).click();
    await waitFor(async () => (await stack.get(`/learnings/${learning.id}`)).helpful === 1, { what: 'marked helpful' });
    assert.equal(await item.getByRole('button', { name: 'Helpful' }).getAttribute('aria-pressed'), 'true');
    await stack.post(`/jobs/${job.id}/cancel`);
  });
});

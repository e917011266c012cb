// The repo settings' GitHub section against the fake GitHub: link (the token never comes back),
// verify, sync now (cards appear with their issue number and labels), the automation switch with
// a WIP limit of 1 (one card in progress, the others waiting for a slot).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cardItem, column, expectCardIn, expectLive } from './board.mjs';
import { startGitHub } from './github.mjs';
import { waitFor, withStack } from './harness.mjs';

const TOKEN = `ghp_e2e${'0123456789abcdef'.repeat(2)}`;
const REPO = 'octo-org/hello-world';

test('link a repo to GitHub, verify, sync now, and let automation start cards under the WIP limit', { timeout: 120_000 }, async (t) => {
  const github = await startGitHub(t, {
    tokens: [{ user: 'lazyaf-bot', token: TOKEN }],
    repos: [{ full_name: REPO, collaborators: { 'lazyaf-bot': 'write' } }],
    issues: [
      { repo: REPO, title: 'Fix the greeting', body: 'It says Helo.', labels: ['bug'] },
      { repo: REPO, title: 'Add a farewell', labels: ['feature'] },
      { repo: REPO, title: 'Not for the agent', labels: ['lazyaf:skip'] },
    ],
    pulls: [{ repo: REPO, title: 'A pull request, not an issue', head: 'topic' }],
  });
  await withStack(t, { model: false }, async (stack) => {
    const page = await stack.page();
    await expectLive(page);
    await page.getByRole('button', { name: 'Repository settings' }).click();
    const dialog = page.getByRole('dialog', { name: 'Repository settings' });
    const section = dialog.getByRole('region', { name: 'GitHub' });

    // Link: the token goes in once and never comes back.
    await section.getByLabel('GitHub repository').fill(REPO);
    await section.getByLabel('Token').fill(TOKEN);
    await section.getByLabel('API URL').fill(github.url);
    await section.getByLabel('Git URL').fill(github.gitUrl(REPO));
    await section.getByRole('button', { name: 'Link to GitHub' }).click();
    await section.getByText(`Linked to ${REPO}`).waitFor();
    const link = await stack.get(`/repos/${stack.repo.id}/github`);
    assert.equal(link.has_token, true);
    assert.ok(!JSON.stringify(link).includes(TOKEN));

    // Verify: the token, its write access, and that git reaches the repository with it.
    await section.getByRole('button', { name: 'Verify' }).click();
    await section.getByText('✓ lazyaf-bot has write access · default branch main').waitFor();
    await section.getByLabel('GitHub quota').waitFor();

    // The sync rule (defaults: open issues, skip lazyaf:skip), then Sync now.
    await section.getByRole('button', { name: 'Save sync rule' }).click();
    await waitFor(async () => (await stack.get(`/repos/${stack.repo.id}/github`)).sync_rule, { what: 'the rule saved' });
    await section.getByRole('button', { name: 'Sync now' }).click();
    await section.getByText('Synced: 2 cards created, 0 updated, 0 closed, 1 issue skipped.').waitFor();
    assert.ok(!(await page.content()).includes(TOKEN));
    await stack.screenshot(page, 'github-settings');

    // Auto-start under a WIP limit of 1, with automation on.
    await section.getByLabel('Start synced cards by themselves').check();
    await section.getByLabel('WIP limit').fill('1');
    await section.getByRole('button', { name: 'Save sync rule' }).click();
    await waitFor(async () => (await stack.get(`/repos/${stack.repo.id}/github`)).sync_rule?.auto_start, { what: 'auto-start saved' });
    await section.getByRole('switch', { name: /Automation/ }).check();
    await waitFor(async () => (await stack.get(`/repos/${stack.repo.id}/github`)).automation_enabled, { what: 'automation on' });
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });

    // The cards arrived live: issue number, link and labels on the tile; one in progress, one waiting.
    const inProgress = column(page, 'In Progress');
    await inProgress.getByText('limit 1').waitFor();
    await waitFor(async () => (await inProgress.getByRole('listitem').count()) === 1, { what: 'one card in progress' });
    const cards = await stack.cards();
    assert.deepEqual(cards.map((c) => c.github_issue_number).sort(), [1, 2]);
    const started = cards.find((c) => c.status === 'in_progress');
    const waiting = cards.find((c) => c.status === 'todo');
    assert.ok(started && waiting && waiting.start_waiting_since);
    await expectCardIn(page, 'To Do', waiting.title);
    const tile = cardItem(column(page, 'To Do'), waiting.title);
    await tile.getByText('waiting for a slot').waitFor();
    const issueLink = tile.getByRole('link', { name: `#${waiting.github_issue_number}` });
    assert.equal(await issueLink.getAttribute('href'), `https://github.com/${REPO}/issues/${waiting.github_issue_number}`);
    await tile.getByText(waiting.labels[0], { exact: true }).waitFor();
    await stack.screenshot(page, 'github-synced-board');
    assert.deepEqual(await github.violations(), []);
  });
});

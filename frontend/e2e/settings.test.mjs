// The repo settings dialog: saving a verification command, deleting the repo.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor, withStack } from './harness.mjs';
import { expectCardIn, expectLive } from './board.mjs';

test('the repo settings dialog saves a test command', { timeout: 60_000 }, async (t) => {
  await withStack(t, { model: false }, async (stack) => {
    const page = await stack.page();
    await expectLive(page);
    await page.getByRole('button', { name: 'Repository settings' }).click();
    const dialog = page.getByRole('dialog', { name: 'Repository settings' });
    await dialog.getByLabel('Test command').fill('python -m pytest -q');
    await dialog.getByLabel('Merge strategy').selectOption({ label: 'Squash into one commit' });
    await dialog.getByRole('button', { name: 'Save settings' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const repo = await stack.get(`/repos/${stack.repo.id}`);
    assert.equal(repo.test_command, 'python -m pytest -q');
    assert.equal(repo.merge_strategy, 'squash');
    assert.equal(repo.lint_command, null); // untouched fields stay as they were
    assert.equal(repo.remote_url, null);

    // Reopened, the dialog shows what was saved.
    await page.getByRole('button', { name: 'Repository settings' }).click();
    assert.equal(await dialog.getByLabel('Test command').inputValue(), 'python -m pytest -q');
  });
});

test('deleting a repo from its settings asks for its name first', { timeout: 60_000 }, async (t) => {
  await withStack(t, { model: false }, async (stack) => {
    const doomed = stack.repo;
    await stack.createCard('Goes with the repo');
    await stack.ingest('keeper');
    const page = await stack.page();
    await expectLive(page);
    await page.getByLabel('Repository', { exact: true }).selectOption({ label: 'demo' });
    await expectCardIn(page, 'To Do', 'Goes with the repo');
    await page.getByRole('button', { name: 'Repository settings' }).click();
    const dialog = page.getByRole('dialog', { name: 'Repository settings' });
    await dialog.getByRole('button', { name: 'Delete this repo…' }).click();
    const remove = dialog.getByRole('button', { name: 'Delete repo', exact: true });
    await dialog.getByLabel('Type the repo name to confirm').fill('dem');
    assert.equal(await remove.isDisabled(), true);
    assert.equal((await stack.get('/repos')).length, 2);
    await dialog.getByLabel('Type the repo name to confirm').fill('demo');
    await remove.click();
    await waitFor(async () => (await stack.get('/repos')).every((r) => r.id !== doomed.id), { what: 'the repo deleted' });
    await dialog.waitFor({ state: 'hidden' });
    const select = page.getByLabel('Repository', { exact: true });
    await waitFor(async () => (await select.inputValue()) === (await stack.get('/repos'))[0].id, { what: 'the board on the other repo' });
  });
});

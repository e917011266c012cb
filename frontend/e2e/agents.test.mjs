// Claude Code with no credential at all: the board says what to do in a banner (the server's
// sentence), a start is refused with the same sentence and queues nothing; once the user logs in
// (a Claude Code login appears in their home), "Check again" clears the banner and the card runs
// to review with that login.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { TIMEOUT, waitFor, withStack } from './harness.mjs';
import { createCardInUI, expectCardIn, expectLive, mouseDrag } from './board.mjs';

test('no credential: the banner and a refused start say what to do; after a login the card runs', { timeout: 180_000 }, async (t) => {
  await withStack(t, { runners: 1, credential: false }, async (stack) => {
    const agents = await stack.get('/agents');
    const claude = agents.agents.find((a) => a.name === 'claude');
    assert.equal(claude.ready, false);
    const sentence = claude.problem;
    assert.match(sentence, /^Claude Code has no credential to run with: run `claude login` on this machine/);

    const page = await stack.page();
    await expectLive(page);
    const banner = page.getByRole('alert', { name: 'Agent setup' });
    await banner.waitFor();
    const text = (await banner.textContent()).replace(/\s+/g, ' ');
    assert.ok(text.includes(sentence.replaceAll('`', '')), text);
    assert.deepEqual(await banner.locator('code').allTextContents(), ['claude login', 'claude setup-token']);
    await stack.screenshot(page, 'no-credential-banner');

    // A start, dragged on the board: refused with the same sentence, the card back in To Do, no job.
    const title = 'Greet the reader';
    await createCardInUI(page, { title, description: 'Write hello.txt with a greeting.' });
    const card = await waitFor(() => stack.cardByTitle(title), { what: 'the card in the API' });
    await mouseDrag(page, title, 'In Progress');
    await page.getByText(`Could not move “${title}”: ${sentence}`, { exact: true }).waitFor();
    await expectCardIn(page, 'To Do', title);
    assert.deepEqual(await stack.get(`/cards/${card.id}/jobs`), []);
    const refused = await stack.request('POST', `/cards/${card.id}/start`);
    assert.deepEqual([refused.status, refused.body], [409, { detail: sentence, code: 'no_credential' }]);

    // `claude login` on this machine (what it writes on Linux), then back to the board.
    const login = join(stack.home, '.claude', '.credentials.json');
    mkdirSync(join(stack.home, '.claude'));
    const expiresAt = Date.now() + 8 * 3600_000;
    writeFileSync(login, JSON.stringify({ claudeAiOauth: { accessToken: 'sk-ant-oat01-e2e-login', refreshToken: 'sk-ant-ort01-e2e', expiresAt, scopes: ['user:inference'] } }), { mode: 0o600 });
    await banner.getByRole('button', { name: 'Check again' }).click();
    await waitFor(async () => (await banner.count()) === 0, { what: 'the banner to go' });
    const ready = (await stack.get('/agents')).agents.find((a) => a.name === 'claude');
    assert.equal(ready.credential.kind, 'claude_login');
    assert.equal(Date.parse(ready.credential.expires_at), expiresAt);

    await mouseDrag(page, title, 'In Progress');
    await expectCardIn(page, 'In Review', title, TIMEOUT.job);
  });
});

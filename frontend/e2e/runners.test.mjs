// Runners you can manage: one added by hand that has stopped is removed from the panel.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor, withStack } from './harness.mjs';
import { expectLive } from './board.mjs';

test('a stopped runner added by hand is removed from the runner panel', { timeout: 120_000 }, async (t) => {
  await withStack(t, { model: false }, async (stack) => {
    const proc = await stack.handRunner('laptop');
    const page = await stack.page();
    await expectLive(page);
    let panel = page.getByRole('region', { name: 'Runners', exact: true });
    if (!(await panel.isVisible())) await page.getByRole('button', { name: /^Runners\b/ }).click();
    panel = page.getByRole('region', { name: 'Runners', exact: true });
    await panel.getByText('laptop', { exact: true }).waitFor();
    // Connected: nothing to remove.
    assert.equal(await panel.getByRole('button', { name: 'Remove runner laptop' }).count(), 0);

    await stack.stopHandRunner(proc, 'laptop'); // Ctrl-C where it runs
    const remove = panel.getByRole('button', { name: 'Remove runner laptop' });
    await remove.click();
    await waitFor(async () => (await stack.get('/runners')).runners.length === 0, { what: 'the runner gone from the API' });
    await waitFor(async () => (await panel.getByText('laptop', { exact: true }).count()) === 0, { what: 'the runner gone from the panel' });
  });
});

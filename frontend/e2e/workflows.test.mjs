// A card run with a workflow: picked in the card's start action, its steps on the tile as they
// go, and the Steps tab with each step's figures and its own slice of the log. The real backend,
// a real local runner and the real Claude Code CLI on the scripted model, which writes the plan
// file the plan step's prompt names, then hello.txt.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MODEL, TIMEOUT, waitFor, withStack } from './harness.mjs';
import { cardItem, expectCardIn, expectLive, openCard, openTab } from './board.mjs';

const LIMIT = { timeout: 240_000 };

test('a plan_build card started from its modal shows its steps on the tile and in the Steps tab', LIMIT, async (t) => {
  await withStack(t, { runners: 1 }, async (stack) => {
    const title = 'Greet the reader';
    // The verify step runs this check on the branch the build step left.
    await stack.patch(`/repos/${stack.repo.id}`, { test_command: 'test -f hello.txt' });
    const card = await stack.createCard(title, { description: 'Write hello.txt with a greeting.' });
    const page = await stack.page();
    await expectLive(page);

    const dialog = await openCard(page, title);
    const picker = dialog.getByRole('combobox', { name: 'Workflow' });
    assert.equal(await picker.inputValue(), 'build', 'the repo default is chosen first');
    await picker.selectOption('plan_build');
    assert.equal(await dialog.getByRole('checkbox', { name: 'Review the plan' }).isChecked(), false);
    await stack.screenshot(page, 'start-picker');
    await dialog.getByRole('button', { name: 'Start', exact: true }).click();

    const [run] = await waitFor(async () => {
      const runs = await stack.get(`/cards/${card.id}/runs`);
      return runs.length && runs;
    }, { what: 'the card to have a run' });
    assert.equal(run.workflow, 'plan_build');
    assert.deepEqual(run.steps.map((s) => s.kind), ['plan', 'build', 'verify']);
    await dialog.getByRole('button', { name: 'Close' }).click();

    // The tile shows the run's steps while they go, then each one done.
    const strip = cardItem(page, title).getByRole('group', { name: /^Steps of plan_build: / });
    await strip.waitFor();
    assert.deepEqual(await strip.locator('[data-step]').allInnerTexts(), ['plan', 'build', 'verify']);
    await stack.waitCardStatus(card.id, 'in_review');
    await expectCardIn(page, 'In Review', title, TIMEOUT.job);
    await cardItem(page, title)
      .getByRole('group', { name: 'Steps of plan_build: plan done, build done, verify done' })
      .waitFor({ timeout: TIMEOUT.ui });
    await stack.screenshot(page, 'tile-steps');

    const [done] = await stack.get(`/cards/${card.id}/runs`);
    assert.equal(done.status, 'succeeded');
    const [plan, build] = done.steps;
    assert.equal(plan.files_changed, 1);
    assert.ok(build.files_changed >= 1);

    const reopened = await openCard(page, title);
    await openTab(reopened, 'Steps');
    const table = reopened.getByRole('table', { name: 'Steps of the plan_build run' });
    await table.waitFor();
    for (const name of ['plan', 'build', 'verify']) {
      const row = table.getByRole('row').filter({ has: page.getByRole('button', { name, exact: true }) });
      await row.getByText('done', { exact: true }).waitFor();
    }
    const planRow = table.getByRole('row').filter({ has: page.getByRole('button', { name: 'plan', exact: true }) });
    await planRow.getByText('1 file', { exact: false }).waitFor();

    // Each step's slice of the log: the plan's words under plan, the build's under build.
    await reopened.getByRole('button', { name: 'plan', exact: true }).click();
    const planLog = reopened.getByRole('region', { name: 'Log of the plan step' });
    await planLog.getByText(MODEL.planFinal).first().waitFor();
    assert.equal(await planLog.getByText(MODEL.buildFinal).count(), 0);
    await reopened.getByRole('button', { name: 'build', exact: true }).click();
    const buildLog = reopened.getByRole('region', { name: 'Log of the build step' });
    await buildLog.getByText(MODEL.buildFinal).first().waitFor();
    assert.equal(await buildLog.getByText(MODEL.planFinal).count(), 0);
    await stack.screenshot(page, 'steps-tab');
  });
});

import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { WorkflowState } from '../../state/workflows.svelte';
import CardModal from '../card/CardModal.svelte';
import Host from '../card/testing/Host.svelte';
import { card, CARD_ID, fakeContext, stubFetch } from '../card/testing/fixtures';
import { workflowList } from '../card/testing/runs';

beforeAll(() => {
  HTMLDialogElement.prototype.showModal ??= function (this: HTMLDialogElement) {
    this.open = true;
  };
  HTMLDialogElement.prototype.close ??= function (this: HTMLDialogElement) {
    this.open = false;
  };
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

async function open(loaded: boolean) {
  stubFetch({
    'GET /api/workflows': () => workflowList,
    [`GET /api/cards/${CARD_ID}/comments`]: () => [],
  });
  const workflows = new WorkflowState();
  if (loaded) await workflows.load(card.repo_id);
  const { context, actions } = fakeContext({ workflows });
  const todo = { ...card, status: 'todo' as const, branch_name: null, job_id: null };
  render(Host, { props: { component: CardModal, props: { card: todo, onclose: vi.fn() }, context } });
  return actions;
}

describe('the start action’s workflow picker', () => {
  it('starts the repo’s default workflow unless another is picked', async () => {
    const actions = await open(true);
    const picker = screen.getByRole('combobox', { name: 'Workflow' }) as HTMLSelectElement;
    expect(picker.value).toBe('build');
    expect([...picker.options].map((o) => o.textContent)).toEqual([
      'build (default) · build → verify',
      'plan_build · plan → build → verify',
      'test · test → verify',
    ]);
    expect(screen.queryByRole('checkbox', { name: 'Review the plan' })).toBeNull(); // build has no plan
    await fireEvent.click(screen.getByRole('button', { name: 'Start' }));
    expect(actions.start).toHaveBeenLastCalledWith(CARD_ID, { workflow: 'build', review_plan: false });
  });

  it('offers the plan review for a workflow with a plan step, and sends the choice', async () => {
    const actions = await open(true);
    await fireEvent.change(screen.getByRole('combobox', { name: 'Workflow' }), { target: { value: 'plan_build' } });
    const review = screen.getByRole('checkbox', { name: 'Review the plan' });
    await fireEvent.click(review);
    await fireEvent.click(screen.getByRole('button', { name: 'Start' }));
    expect(actions.start).toHaveBeenLastCalledWith(CARD_ID, { workflow: 'plan_build', review_plan: true });
    // Switching to a workflow without a plan drops the review.
    await fireEvent.change(screen.getByRole('combobox', { name: 'Workflow' }), { target: { value: 'test' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Start' }));
    expect(actions.start).toHaveBeenLastCalledWith(CARD_ID, { workflow: 'test', review_plan: false });
  });

  it('starts with the server’s default while the workflows are not loaded', async () => {
    const actions = await open(false);
    expect(screen.queryByRole('combobox', { name: 'Workflow' })).toBeNull();
    await fireEvent.click(screen.getByRole('button', { name: 'Start' }));
    expect(actions.start).toHaveBeenLastCalledWith(CARD_ID, {});
  });
});

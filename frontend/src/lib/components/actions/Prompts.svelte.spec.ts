import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { tick } from 'svelte';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CardActions } from '../../state/actions.svelte';
import { BoardState } from '../../state/board.svelte';
import { APP_CONTEXT_KEY } from '../../state/context';
import { makeCard } from '../../testing/cards';
import Prompts from './Prompts.svelte';

beforeAll(() => {
  HTMLDialogElement.prototype.showModal ??= function (this: HTMLDialogElement) {
    this.open = true;
  };
  HTMLDialogElement.prototype.close ??= function (this: HTMLDialogElement) {
    this.open = false;
    this.dispatchEvent(new Event('close'));
  };
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

function show(fields: Parameters<typeof makeCard>[0]) {
  const board = new BoardState();
  board.repos = [{ id: 'repo-1', default_branch: 'main' } as never];
  const card = makeCard({ title: 'Fix login', repo_id: 'repo-1', ...fields });
  board.cards = [card];
  const actions = new CardActions(board);
  render(Prompts, { context: new Map([[APP_CONTEXT_KEY, { board, actions, live: { status: 'live', unreachable: false } }]]) });
  return { actions, card };
}

describe('Prompts', () => {
  it('asks to continue the branch or start fresh from the default branch, continuing by default', async () => {
    const { actions, card } = show({ status: 'todo', branch_name: 'lazyaf/x-fix-login', job_id: 'j1' });
    const confirm = vi.spyOn(actions, 'confirmStart').mockResolvedValue(true);
    actions.prompt = { kind: 'start', cardId: card.id, choice: {} };
    await tick();
    const dialog = screen.getByRole('dialog', { name: 'Start card again' });
    expect(dialog.textContent).toContain('lazyaf/x-fix-login');
    expect(screen.getByRole('radio', { name: /Continue its branch/ })).toHaveProperty('checked', true);
    await fireEvent.click(screen.getByRole('radio', { name: /Start fresh from main/ }));
    await fireEvent.click(screen.getByRole('button', { name: 'Start' }));
    expect(confirm).toHaveBeenCalledWith(true);
  });

  it('confirms a reject and offers to delete the branch', async () => {
    const { actions, card } = show({ status: 'in_review', branch_name: 'lazyaf/x-fix-login', job_id: 'j1' });
    const confirm = vi.spyOn(actions, 'confirmReject').mockResolvedValue(true);
    actions.reject(card.id);
    await tick();
    await fireEvent.click(screen.getByRole('checkbox', { name: /Also delete its branch/ }));
    await fireEvent.click(screen.getByRole('button', { name: 'Reject and delete the branch' }));
    expect(confirm).toHaveBeenCalledWith(true);
  });

  it('says the attempts are spent and offers one more by default', async () => {
    const { actions, card } = show({ status: 'failed', max_attempts: 3, job_id: 'j3' });
    const raise = vi.spyOn(actions, 'raiseAndRetry').mockResolvedValue(true);
    actions.prompt = { kind: 'limit', cardId: card.id, used: 3 };
    await tick();
    expect(screen.getByRole('dialog', { name: 'Attempts used up' }).textContent).toMatch(/has used all 3 attempts/);
    expect(screen.getByLabelText('Attempts allowed')).toHaveProperty('value', '4');
    await fireEvent.click(screen.getByRole('button', { name: 'Raise the limit and retry' }));
    expect(raise).toHaveBeenCalledWith(4);
  });

  it('closing a question answers nothing', async () => {
    const { actions, card } = show({ status: 'in_review', branch_name: 'b', job_id: 'j1' });
    const confirm = vi.spyOn(actions, 'confirmReject');
    actions.reject(card.id);
    await tick();
    await fireEvent.click(screen.getByRole('button', { name: 'Keep in review' }));
    expect(actions.prompt).toBeNull();
    expect(confirm).not.toHaveBeenCalled();
  });
});

import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CardRead } from '../../api';
import CardModal from './CardModal.svelte';
import { defaultTab, tabAfterKey } from './tabs';
import Host from './testing/Host.svelte';
import { card, CARD_ID, diff, fakeContext, job, stubFetch } from './testing/fixtures';

beforeAll(() => {
  // jsdom has <dialog> but not its modal methods
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

function open(over: Partial<CardRead> = {}, jobOver = {}) {
  stubFetch({
    [`GET /api/cards/${CARD_ID}/diff`]: () => diff,
    [`GET /api/cards/${CARD_ID}/comments`]: () => [],
    [`GET /api/cards/${CARD_ID}/jobs`]: () => [job],
    'GET /api/jobs/': () => ({ events: [], next_after: 0, job_status: 'completed' }),
  });
  const { context, board } = fakeContext({ jobs: { [CARD_ID]: { ...job, ...jobOver } } });
  const onclose = vi.fn();
  render(Host, { props: { component: CardModal, props: { card: { ...card, ...over }, onclose }, context } });
  return { board, onclose };
}

describe('tabs', () => {
  it('opens on the tab that fits the card', () => {
    expect(defaultTab('in_review')).toBe('Diff');
    expect(defaultTab('done')).toBe('Diff');
    expect(defaultTab('in_progress')).toBe('Logs');
    expect(defaultTab('todo')).toBe('Details');
    expect(defaultTab('failed')).toBe('Details');
    expect(tabAfterKey('Timeline', 'ArrowRight')).toBe('Details');
    expect(tabAfterKey('Details', 'ArrowLeft')).toBe('Timeline');
    expect(tabAfterKey('Diff', 'Enter')).toBeNull();
  });
});

describe('CardModal', () => {
  it('is a dialog named by the card, with review actions and the Diff tab open', async () => {
    const { board } = open();
    const dialog = screen.getByRole('dialog', { name: 'Add a greeting' });
    expect(within(dialog).getByRole('tab', { name: 'Diff' }).getAttribute('aria-selected')).toBe('true');
    expect(await within(dialog).findByRole('region', { name: 'main.py' })).toBeTruthy();
    for (const name of ['Approve', 'Reject', 'Request changes']) expect(screen.getByRole('button', { name })).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Start' })).toBeNull();
    await fireEvent.click(screen.getByRole('button', { name: 'Approve' }));
    expect(board.act).toHaveBeenCalledWith(CARD_ID, 'approve', diff.head_sha); // the head whose diff was shown
  });

  it('moves between tabs with the arrow keys', async () => {
    open({ status: 'todo', branch_name: null, job_id: null });
    const details = screen.getByRole('tab', { name: 'Details' });
    expect(details.getAttribute('aria-selected')).toBe('true');
    expect(screen.getByRole('button', { name: 'Start' })).toBeTruthy();
    expect(screen.getByLabelText('Title')).toHaveProperty('value', 'Add a greeting');
    await fireEvent.keyDown(details, { key: 'ArrowRight' });
    const diffTab = screen.getByRole('tab', { name: 'Diff' });
    expect(diffTab.getAttribute('aria-selected')).toBe('true');
    expect(document.activeElement).toBe(diffTab);
    await fireEvent.keyDown(diffTab, { key: 'End' });
    expect(screen.getByRole('tab', { name: 'Timeline' }).getAttribute('aria-selected')).toBe('true');
    expect(screen.getByRole('tabpanel', { name: 'Timeline' })).toBeTruthy();
  });

  it('shows why a failed card failed, and saves edits', async () => {
    const { board } = open({ status: 'failed' }, { status: 'failed', error: 'The agent exited with code 1.' });
    expect(screen.getByRole('alert').textContent).toContain('The agent exited with code 1.');
    expect(screen.getByRole('button', { name: 'Retry' })).toBeTruthy();
    await fireEvent.input(screen.getByLabelText('Title'), { target: { value: 'Add a better greeting' } });
    await fireEvent.change(screen.getByLabelText('Priority'), { target: { value: '3' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(board.update).toHaveBeenCalledWith(CARD_ID, { title: 'Add a better greeting', description: card.description, priority: 3 });
    await fireEvent.click(screen.getByRole('button', { name: 'Delete card' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Yes, delete' }));
    expect(board.remove).toHaveBeenCalledWith(CARD_ID);
  });

  it('offers Cancel job while the card is in progress and opens on the Logs tab', () => {
    open({ status: 'in_progress' }, { status: 'running', completed_at: null });
    expect(screen.getByRole('tab', { name: 'Logs' }).getAttribute('aria-selected')).toBe('true');
    expect(screen.getByRole('button', { name: 'Cancel job' })).toBeTruthy();
  });
});

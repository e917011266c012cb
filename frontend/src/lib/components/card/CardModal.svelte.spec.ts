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

function open(
  over: Partial<CardRead> = {},
  jobOver = {},
  status: 'live' | 'offline' = 'live',
  github: Record<string, unknown> | null = null,
) {
  stubFetch({
    [`GET /api/cards/${CARD_ID}/diff`]: () => diff,
    [`GET /api/cards/${CARD_ID}/comments`]: () => [],
    [`GET /api/cards/${CARD_ID}/jobs`]: () => [job],
    'GET /api/jobs/': () => ({ events: [], next_after: 0, job_status: 'completed' }),
  });
  const { context, board, actions } = fakeContext({ jobs: { [CARD_ID]: { ...job, ...jobOver } }, status, github });
  const onclose = vi.fn();
  render(Host, { props: { component: CardModal, props: { card: { ...card, ...over }, onclose }, context } });
  return { board, actions, onclose };
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
    expect(board.act).toHaveBeenCalledWith(CARD_ID, 'approve', { head: diff.head_sha }); // the head whose diff was shown
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

  it('shows why a failed card failed, retries it, and saves edits', async () => {
    const { board, actions } = open({ status: 'failed' }, { status: 'failed', error: 'The agent exited with code 1.' });
    expect(screen.getByRole('alert').textContent).toContain('The agent exited with code 1.');
    await fireEvent.click(screen.getByRole('button', { name: 'Retry' }));
    expect(actions.retry).toHaveBeenCalledWith(CARD_ID);
    await fireEvent.input(screen.getByLabelText('Title'), { target: { value: 'Add a better greeting' } });
    await fireEvent.change(screen.getByLabelText('Priority'), { target: { value: '3' } });
    await fireEvent.input(screen.getByLabelText('Max attempts'), { target: { value: '5' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(board.update).toHaveBeenCalledWith(CARD_ID, {
      title: 'Add a better greeting',
      description: card.description,
      priority: 3,
      max_attempts: 5,
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Delete card' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Yes, delete' }));
    expect(board.remove).toHaveBeenCalledWith(CARD_ID);
  });

  it('asks before closing with unsaved edits, and closes at once without', async () => {
    const { onclose } = open({ status: 'todo', branch_name: null, job_id: null });
    const dialog = screen.getByRole('dialog', { name: 'Add a greeting' });
    await fireEvent.input(screen.getByLabelText('Title'), { target: { value: 'Edited' } });
    // Escape is held back (the browser closes a modal dialog on an Escape nobody prevented).
    expect(await fireEvent.keyDown(screen.getByLabelText('Title'), { key: 'Escape' })).toBe(false);
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Close' }));
    expect(onclose).not.toHaveBeenCalled();
    expect(screen.getByRole('alert').textContent).toContain('Discard your changes to this card?');
    await fireEvent.click(screen.getByRole('button', { name: 'Keep editing' }));
    expect(screen.queryByRole('button', { name: 'Discard changes' })).toBeNull();
    expect(screen.getByLabelText('Title')).toHaveProperty('value', 'Edited');
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Close' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Discard changes' }));
    expect(onclose).toHaveBeenCalledOnce();
  });

  it('closes on Escape when nothing was edited', async () => {
    const { onclose } = open({ status: 'todo', branch_name: null, job_id: null });
    expect(await fireEvent.keyDown(screen.getByLabelText('Title'), { key: 'Escape' })).toBe(true);
    await fireEvent.click(screen.getByRole('button', { name: 'Close' }));
    expect(onclose).toHaveBeenCalledOnce();
  });

  it('asks what to change when Request changes has no comment to send, and sends it as a card comment', async () => {
    const { board } = open();
    const posted = vi.fn();
    stubFetch({
      [`POST /api/cards/${CARD_ID}/comments`]: (_url, init) => {
        posted(JSON.parse(String(init.body)));
        return { id: 'c1', card_id: CARD_ID, body: 'Greet in French', file: null, line: null, snippet: null, job_id: null, created_at: card.created_at };
      },
      [`GET /api/cards/${CARD_ID}`]: () => [],
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Request changes' }));
    const ask = screen.getByRole('dialog', { name: 'Request changes' });
    expect(board.act).not.toHaveBeenCalled();
    await fireEvent.input(within(ask).getByLabelText('What should the agent change?'), { target: { value: 'Greet in French' } });
    await fireEvent.click(within(ask).getByRole('button', { name: 'Send to the agent' }));
    await vi.waitFor(() => expect(board.act).toHaveBeenCalledWith(CARD_ID, 'requestChanges'));
    expect(posted).toHaveBeenCalledWith({ body: 'Greet in French', file: null, line: null });
  });

  it('takes a comment on the whole card in the Diff tab', async () => {
    open();
    const posted = vi.fn();
    const box = await screen.findByLabelText('Comment on the whole card');
    stubFetch({
      [`POST /api/cards/${CARD_ID}/comments`]: (_url, init) => {
        posted(JSON.parse(String(init.body)));
        return { id: 'c2', card_id: CARD_ID, body: 'Add a test', file: null, line: null, snippet: null, job_id: null, created_at: card.created_at };
      },
    });
    await fireEvent.input(box, { target: { value: 'Add a test' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Add card comment' }));
    await vi.waitFor(() => expect(posted).toHaveBeenCalledWith({ body: 'Add a test', file: null, line: null }));
    await fireEvent.click(await screen.findByRole('button', { name: /1 comment, 1 open/ }));
    expect(screen.getByText('whole card')).toBeTruthy();
  });

  it('turns the actions off while the server is unreachable, saying why', () => {
    open({}, {}, 'offline');
    const approve = screen.getByRole('button', { name: 'Approve' }) as HTMLButtonElement;
    expect(approve.disabled).toBe(true);
    expect(approve.closest('[title]')?.getAttribute('title')).toMatch(/server is unreachable/);
  });

  it('offers Open pull request in review when the repo is linked to GitHub, then the link', async () => {
    const link = { repo_id: card.repo_id, on_approve: 'merge' };
    const { board } = open({}, {}, 'live', { link });
    await fireEvent.click(screen.getByRole('button', { name: 'Open pull request' }));
    expect((board as unknown as { github: { openPullRequest: unknown } }).github.openPullRequest).toHaveBeenCalledWith(CARD_ID);
    cleanup();
    open({ pr_status: 'queued' }, {}, 'live', { link });
    expect((screen.getByRole('button', { name: 'Opening pull request…' }) as HTMLButtonElement).disabled).toBe(true);
    cleanup();
    open({ pr_url: 'https://github.com/o/r/pull/7', pr_status: 'opened' }, {}, 'live', { link });
    expect(screen.queryByRole('button', { name: 'Open pull request' })).toBeNull();
    expect(screen.getByRole('link', { name: 'Pull request ↗' }).getAttribute('href')).toBe('https://github.com/o/r/pull/7');
  });

  it('has no pull request action when the repo is not linked', () => {
    open();
    expect(screen.queryByRole('button', { name: 'Open pull request' })).toBeNull();
  });

  it('offers Cancel job while the card is in progress and opens on the Logs tab', () => {
    open({ status: 'in_progress' }, { status: 'running', completed_at: null });
    expect(screen.getByRole('tab', { name: 'Logs' }).getAttribute('aria-selected')).toBe('true');
    expect(screen.getByRole('button', { name: 'Cancel job' })).toBeTruthy();
  });
});

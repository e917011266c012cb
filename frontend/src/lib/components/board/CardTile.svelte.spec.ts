import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CardRead, JobRead } from '../../api';
import { CardActions } from '../../state/actions.svelte';
import { BoardState } from '../../state/board.svelte';
import { APP_CONTEXT_KEY } from '../../state/context';
import CardTile from './CardTile.svelte';

const base: CardRead = {
  id: '1a2b3c4d-0000-0000-0000-000000000000',
  repo_id: 'r',
  title: 'Add a --version flag',
  description: '',
  status: 'in_progress',
  position: 0,
  priority: 3,
  branch_name: 'lazyaf/1a2b3c4d-add-a-version-flag',
  pr_url: null,
  job_id: 'j',
  max_attempts: 3,
  conflict_files: null,
  merge_sha: null,
  total_cost_usd: 0,
  merged_head_sha: null,
  merge_base_sha: null,
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
};

const job = (fields: Partial<JobRead>) => ({ id: 'j', card_id: base.id, kind: 'build', status: 'running', ...fields }) as JobRead;

function show(card: CardRead, current?: JobRead, status: 'live' | 'offline' = 'live') {
  const board = new BoardState();
  const actions = new CardActions(board);
  const context = new Map([[APP_CONTEXT_KEY, { board, actions, runners: null, live: { status, unreachable: status === 'offline' } }]]);
  render(CardTile, { props: { card, job: current }, context });
  return { board, actions };
}

afterEach(cleanup);

describe('CardTile', () => {
  it('shows the running job phase and how long it has run', () => {
    const started = new Date(Date.now() - 65_000).toISOString();
    show(base, job({ phase: 'agent', started_at: started, queued_at: started }));
    expect(screen.getByRole('link', { name: 'Add a --version flag' }).getAttribute('href')).toBe(`?card=${base.id}`);
    expect(screen.getByText('agent')).toBeTruthy();
    expect(screen.getByText(/^1m 0[5-9]s$/)).toBeTruthy();
    expect(screen.getByText('Urgent')).toBeTruthy();
    expect(screen.getByText(/lazyaf\/1a2b3c4d-add-a-version-flag/)).toBeTruthy();
  });

  it('shows stats of the last job and the cost of all of them once it is done', () => {
    const done = job({ status: 'completed', files_changed: 1, lines_added: 42, lines_removed: 7, cost_usd: 0.1234 });
    show({ ...base, status: 'in_review', total_cost_usd: 0.4567 }, done);
    expect(screen.getByText('1 file')).toBeTruthy();
    expect(screen.getByText('+42')).toBeTruthy();
    expect(screen.getByText('−7')).toBeTruthy();
    expect(screen.getByText('$0.46')).toBeTruthy(); // the card's total, not the last job's $0.12
    expect(screen.queryByText('$0.12')).toBeNull();
  });

  it('shows no cost before any job cost anything', () => {
    show({ ...base, status: 'todo', job_id: null });
    expect(screen.queryByText(/\$/)).toBeNull();
  });

  it('opens the card on a click anywhere but its buttons', async () => {
    const { board } = show({ ...base, status: 'todo' });
    await fireEvent.click(screen.getByText(/lazyaf\/1a2b3c4d/));
    expect(board.openCardId).toBe(base.id);
    board.openCardId = null;
    const link = screen.getByRole('link', { name: 'Add a --version flag' });
    expect(await fireEvent.click(link)).toBe(false); // the link's own navigation is held back
    expect(board.openCardId).toBe(base.id);
    board.openCardId = null;
    // A tap: svelte-dnd-action turns a touch without movement into a plain click Event.
    link.dispatchEvent(new Event('click', { bubbles: true, cancelable: true }));
    expect(board.openCardId).toBe(base.id);
    board.openCardId = null;
    // A ctrl-click is left to the browser (a new tab, as links do); jsdom cannot navigate, so the
    // last listener holds it back after checking that the tile did not.
    const browser = vi.fn((event: Event) => (event.defaultPrevented ? 'held' : (event.preventDefault(), 'left to the browser')));
    window.addEventListener('click', browser, { once: true });
    await fireEvent.click(link, { ctrlKey: true });
    expect(browser).toHaveReturnedWith('left to the browser');
    expect(board.openCardId).toBeNull();
  });

  it('shows why a failed card failed; Retry goes through the attempt check', async () => {
    const { board, actions } = show({ ...base, status: 'failed' }, job({ status: 'failed', error: 'Runner lost: no heartbeat for 45 s.' }));
    expect(screen.getByText('Runner lost: no heartbeat for 45 s.')).toBeTruthy();
    const retry = vi.spyOn(actions, 'retry').mockResolvedValue(true);
    await fireEvent.click(screen.getByRole('button', { name: 'Retry' }));
    expect(retry).toHaveBeenCalledWith(base.id);
    expect(board.openCardId).toBeNull(); // a button on the tile does not open the card
  });

  it('turns Retry off while the server is unreachable, saying why', () => {
    show({ ...base, status: 'failed' }, job({ status: 'failed', error: 'x' }), 'offline');
    const retry = screen.getByRole('button', { name: 'Retry' }) as HTMLButtonElement;
    expect(retry.disabled).toBe(true);
    expect(retry.title).toMatch(/server is unreachable/);
  });

  it('marks a card whose branch conflicts with the base', () => {
    show({ ...base, status: 'in_review', conflict_files: ['a.py'] });
    expect(screen.getByText('conflict')).toBeTruthy();
    expect(screen.getByText(/1 file in conflict with the base/)).toBeTruthy();
  });

  it('names the cards (and the target branch) its branch is predicted to collide with', () => {
    const other = { ...base, id: '9f9f9f9f-0000-0000-0000-000000000000', title: 'Rewrite the README' };
    const board = new BoardState();
    board.cards = [other];
    board.conflicts.repoId = base.repo_id;
    const at = '2026-01-01T00:00:00Z';
    board.conflicts.apply({
      seq: 1,
      at,
      type: 'card_conflicts',
      data: {
        card_id: base.id,
        repo_id: base.repo_id,
        conflicts: [
          { with: other.id, with_title: 'old title', target: false, files: ['README.md'], kind: 'conflict', detected_at: at },
          { with: 'main', target: true, files: ['src/app.py', 'b.py'], kind: 'overlap', detected_at: at },
          { with: 'x', with_title: 'Third', target: false, files: ['c.py'], kind: 'overlap', detected_at: at },
        ],
      },
    });
    const actions = new CardActions(board);
    const context = new Map([[APP_CONTEXT_KEY, { board, actions, runners: null, live: { status: 'live', unreachable: false } }]]);
    render(CardTile, { props: { card: { ...base, status: 'in_review' }, job: undefined }, context });
    const conflict = screen.getByText('Rewrite the README').closest('.badge') as HTMLElement;
    expect(conflict.textContent).toMatch(/conflicts with\s+Rewrite the README/);
    expect(conflict.title).toBe('Conflicts with Rewrite the README in README.md');
    expect(screen.getByText('main').closest('.badge')?.getAttribute('title')).toBe('Overlaps main in src/app.py, b.py');
    expect(screen.getByText('+1').getAttribute('title')).toBe('Overlaps Third in c.py');
    expect(screen.queryByText('Third')).toBeNull();
  });

  it('shows no collision badge without predictions', () => {
    show({ ...base, status: 'in_review' });
    expect(screen.queryByText(/conflicts with|overlaps/)).toBeNull();
  });

  it('shows the GitHub issue, its labels and the pull request; their links do not open the card', async () => {
    const { board } = show({
      ...base,
      status: 'in_review',
      github_issue_number: 12,
      github_url: 'https://github.com/o/r/issues/12',
      github_issue_state: 'closed',
      labels: ['bug', 'good first issue'],
      pr_url: 'https://github.com/o/r/pull/13',
      pr_status: 'opened',
    });
    const issue = screen.getByRole('link', { name: '#12' });
    expect(issue.getAttribute('href')).toBe('https://github.com/o/r/issues/12');
    expect(issue.getAttribute('target')).toBe('_blank');
    expect(screen.getByText('good first issue')).toBeTruthy();
    expect(screen.getByText('issue closed')).toBeTruthy();
    expect(screen.getByRole('link', { name: 'Pull request ↗' }).getAttribute('href')).toBe('https://github.com/o/r/pull/13');
    await fireEvent.click(issue);
    expect(board.openCardId).toBeNull();
  });

  it('shows the @lazyaf command that set a card from GitHub to work, and who gave it', () => {
    show({
      ...base,
      status: 'in_progress',
      github_issue_number: 7,
      github_url: 'https://github.com/o/r/issues/7',
      github_command: 'plan',
      github_command_by: 'octocat',
    });
    const command = screen.getByText('plan · @octocat');
    expect(command.getAttribute('title')).toBe('Started by @lazyaf plan from @octocat on GitHub');
    expect(screen.getByRole('link', { name: '#7' }).getAttribute('href')).toBe('https://github.com/o/r/issues/7');
  });

  it('says when a card waits for a WIP slot, and what went wrong with its pull request', () => {
    show({ ...base, status: 'todo', start_waiting_since: '2026-01-01T00:00:00Z' });
    expect(screen.getByText('waiting for a slot')).toBeTruthy();
    cleanup();
    show({ ...base, status: 'in_review', pr_status: 'held', github_error: 'GitHub refused the token; link it again.' });
    expect(screen.getByText('GitHub refused the token; link it again.')).toBeTruthy();
  });

  it('shows a stalled badge while the agent is silent, and none once it speaks again', () => {
    const started = new Date(Date.now() - 700_000).toISOString();
    const silent = job({ phase: 'agent', started_at: started, queued_at: started, agent_started_at: started, stalled_at: new Date().toISOString() });
    show(base, silent);
    const badge = screen.getByText('stalled');
    expect(badge.getAttribute('title')).toMatch(/^The agent has emitted nothing for 11m 4\ds; LazyAF stops it/);
    cleanup();
    show(base, { ...silent, stalled_at: null });
    expect(screen.queryByText('stalled')).toBeNull();
  });
});

import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import type { CardRead, JobRead } from '../../api';
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
  merged_head_sha: null,
  merge_base_sha: null,
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
};

const job = (fields: Partial<JobRead>) => ({ id: 'j', card_id: base.id, kind: 'build', status: 'running', ...fields }) as JobRead;

function show(card: CardRead, current?: JobRead) {
  const board = new BoardState();
  const context = new Map([[APP_CONTEXT_KEY, { board, runners: null, live: null }]]);
  render(CardTile, { props: { card, job: current }, context });
  return board;
}

describe('CardTile', () => {
  it('shows the running job phase and how long it has run', () => {
    const started = new Date(Date.now() - 65_000).toISOString();
    show(base, job({ phase: 'agent', started_at: started, queued_at: started }));
    expect(screen.getByRole('button', { name: 'Add a --version flag' })).toBeTruthy();
    expect(screen.getByText('agent')).toBeTruthy();
    expect(screen.getByText(/^1m 0[5-9]s$/)).toBeTruthy();
    expect(screen.getByText('Urgent')).toBeTruthy();
    expect(screen.getByText(/lazyaf\/1a2b3c4d-add-a-version-flag/)).toBeTruthy();
  });

  it('shows stats and cost once the job is done', () => {
    const done = job({ status: 'completed', files_changed: 3, lines_added: 42, lines_removed: 7, cost_usd: 0.1234 });
    show({ ...base, status: 'in_review' }, done);
    expect(screen.getByText('3 files')).toBeTruthy();
    expect(screen.getByText('+42')).toBeTruthy();
    expect(screen.getByText('−7')).toBeTruthy();
    expect(screen.getByText('$0.12')).toBeTruthy();
  });

  it('shows why a failed card failed, and retries it', async () => {
    const board = show({ ...base, status: 'failed' }, job({ status: 'failed', error: 'Runner lost: no heartbeat for 45 s.' }));
    expect(screen.getByText('Runner lost: no heartbeat for 45 s.')).toBeTruthy();
    const act = vi.spyOn(board, 'act').mockResolvedValue(true);
    await fireEvent.click(screen.getByRole('button', { name: 'Retry' }));
    expect(act).toHaveBeenCalledWith(base.id, 'retry');
  });

  it('marks a card whose branch conflicts with the base', () => {
    show({ ...base, status: 'in_review', conflict_files: ['a.py', 'b.py'] });
    expect(screen.getByText('conflict')).toBeTruthy();
    expect(screen.getByText(/2 file\(s\) conflict/)).toBeTruthy();
  });
});

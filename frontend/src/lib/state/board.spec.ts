import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CardRead, JobRead } from '../api';
import { makeCard } from '../testing/cards';
import { transitions } from '../testing/transitions';
import { BoardState } from './board.svelte';
import { toasts } from './toasts.svelte';

function card(id: string, status: CardRead['status'], position: number): CardRead {
  return makeCard({ id, title: `Card ${id}`, status, position });
}

type Route = (method: string, url: string, body: unknown) => Response | undefined | Promise<Response | undefined>;

function serve(route: Route) {
  const calls: { method: string; url: string; body: unknown }[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit = {}) => {
      const method = init.method ?? 'GET';
      const body = init.body ? JSON.parse(String(init.body)) : undefined;
      calls.push({ method, url, body });
      return (await route(method, url, body)) ?? new Response(JSON.stringify({ detail: 'Not found.' }), { status: 404 });
    }),
  );
  return calls;
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status });

describe('BoardState', () => {
  beforeEach(() => {
    toasts.items = [];
    localStorage.clear();
  });
  afterEach(() => vi.unstubAllGlobals());

  /** The board's reads, as the backend answers them: pages per column with X-Total-Count. */
  function boardServer(cards: CardRead[], jobs: JobRead[] = []): Route {
    return (method, url) => {
      const [path, search] = url.split('?');
      const query = new URLSearchParams(search);
      if (path === '/api/repos') return json([{ id: 'repo-1', name: 'demo' }]);
      if (path === '/api/meta/transitions') return json(transitions);
      if (path === '/api/repos/repo-1/current-jobs') return json(jobs);
      if (path !== '/api/repos/repo-1/cards') return undefined;
      const words = (query.get('q') ?? '').toLowerCase();
      const matching = cards.filter(
        (c) => (!query.get('status') || c.status === query.get('status')) && c.title.toLowerCase().includes(words),
      );
      if (!query.get('limit')) return json(matching);
      const offset = Number(query.get('offset') ?? 0);
      const page = matching.slice(offset, offset + Number(query.get('limit')));
      const response = json(page);
      response.headers.set('x-total-count', String(matching.length));
      return response;
    };
  }

  async function loaded(cards: CardRead[], jobs: JobRead[] = []) {
    serve(boardServer(cards, jobs));
    const board = new BoardState();
    await board.load();
    return board;
  }

  it('shows each column\'s first page, then the next as asked, and counts the rest', async () => {
    const many = Array.from({ length: 150 }, (_, i) => card(`t${i}`, 'todo', i));
    const calls = serve(boardServer([...many, card('d', 'done', 0)]));
    const board = new BoardState();
    await board.load();
    expect(board.totals?.todo).toBe(150);
    expect(board.columns.todo.length).toBe(60);
    expect(board.hasMore('todo')).toBe(true);
    expect(board.hasMore('done')).toBe(false);
    await board.loadMore('todo');
    expect(board.columns.todo.map((c) => c.id)).toEqual(many.map((c) => c.id));
    expect(board.hasMore('todo')).toBe(false);
    expect(calls.map((c) => c.url)).toContain('/api/repos/repo-1/cards?status=todo&limit=120&offset=60');
    expect(calls.some((c) => c.url === '/api/repos/repo-1/cards')).toBe(false); // never the whole board
  });

  it('keeps column sizes right as cards move, arrive and go', async () => {
    const many = Array.from({ length: 70 }, (_, i) => card(`t${i}`, 'todo', i));
    serve(boardServer(many));
    const board = new BoardState();
    await board.load();
    const later = '2026-01-05T00:00:00Z';
    board.apply({ type: 'card_updated', seq: 1, at: '2026-01-01T00:00:00Z', data: { card: { ...card('t0', 'in_progress', 0), updated_at: later } } });
    board.apply({ type: 'card_updated', seq: 2, at: '2026-01-01T00:00:00Z', data: { card: { ...card('new', 'todo', 70), updated_at: later } } });
    board.apply({ type: 'card_deleted', seq: 3, at: '2026-01-01T00:00:00Z', data: { card_id: 't1', repo_id: 'repo-1' } });
    expect(board.totals).toMatchObject({ todo: 69, in_progress: 1 });
  });

  it('asks the server when searching a partly loaded board', async () => {
    const many = Array.from({ length: 100 }, (_, i) => card(`t${i}`, 'todo', i));
    const calls = serve(boardServer(many));
    const board = new BoardState();
    await board.load();
    expect(board.cards.some((c) => c.id === 't99')).toBe(false);
    await board.search('Card t99');
    expect(calls.at(-1)?.url).toBe('/api/repos/repo-1/cards?q=Card+t99&limit=500');
    expect(board.columns.todo.map((c) => c.id)).toEqual(['t99']);
  });

  it('pages on from the top after a search brought in a card further down', async () => {
    const many = Array.from({ length: 100 }, (_, i) => card(`t${i}`, 'todo', i));
    const calls = serve(boardServer(many));
    const board = new BoardState();
    await board.load();
    await board.search('Card t99');
    await board.loadMore('todo');
    expect(calls.map((c) => c.url)).toContain('/api/repos/repo-1/cards?status=todo&limit=120&offset=60');
    expect(board.cards.filter((c) => c.status === 'todo')).toHaveLength(100);
    expect(board.hasMore('todo')).toBe(false);
  });

  it('opens a shared card the partly loaded board does not hold yet', async () => {
    const many = Array.from({ length: 100 }, (_, i) => card(`t${i}`, 'todo', i));
    const answer = boardServer(many);
    serve((method, url, body) => (url === '/api/cards/t99' ? json(many[99]) : answer(method, url, body)));
    const board = new BoardState();
    await board.load();
    expect(board.openCard).toBeNull();
    await board.openById('t99');
    expect(board.openCard?.id).toBe('t99');
  });

  it('says so when a shared card is gone', async () => {
    serve(boardServer([card('a', 'todo', 0)]));
    const board = new BoardState();
    await board.load();
    await board.openById('gone');
    expect(board.openCardId).toBeNull();
    expect(toasts.items.at(-1)?.text).toMatch(/Could not open the card: Not found\./);
  });

  it('skips the second read when the first pages held every card', async () => {
    const calls = serve(boardServer([card('a', 'todo', 0)]));
    const board = new BoardState();
    await board.load();
    expect(board.totals).toBeNull();
    expect(calls.filter((c) => c.url === '/api/repos/repo-1/cards')).toHaveLength(0);
  });

  it('loads the first repo with its cards grouped into columns', async () => {
    const board = await loaded([card('a', 'todo', 0), card('b', 'done', 0)]);
    expect(board.repoId).toBe('repo-1');
    expect(board.columns.todo.map((c) => c.id)).toEqual(['a']);
    expect(board.columns.done.map((c) => c.id)).toEqual(['b']);
    expect(board.loading).toBe(false);
  });

  it('applies card and job events for its repo only', async () => {
    const board = await loaded([card('a', 'todo', 0)]);
    board.apply({ type: 'card_updated', seq: 1, at: '2026-01-01T00:00:00Z', data: { card: { ...card('a', 'in_progress', 0), updated_at: '2026-01-02T00:00:00Z' } } });
    board.apply({ type: 'card_updated', seq: 2, at: '2026-01-01T00:00:00Z', data: { card: { ...card('x', 'todo', 0), repo_id: 'other' } } });
    expect(board.cards.map((c) => `${c.id}:${c.status}`)).toEqual(['a:in_progress']);
    const job = { id: 'j1', card_id: 'a', status: 'running', queued_at: '2026-01-02T00:00:00Z' } as JobRead;
    board.apply({ type: 'job_status', seq: 3, at: '2026-01-01T00:00:00Z', data: { job } });
    expect(board.jobs.a.status).toBe('running');
    board.apply({ type: 'card_deleted', seq: 4, at: '2026-01-01T00:00:00Z', data: { card_id: 'a', repo_id: 'repo-1' } });
    expect(board.cards).toEqual([]);
  });

  it('drops a card whose GitHub issue closed (archived) and takes the repo\'s GitHub link from events', async () => {
    const board = await loaded([card('a', 'todo', 0), card('b', 'todo', 1)]);
    expect(board.github.link).toBeNull(); // the server answered 404: not linked
    board.apply({ type: 'card_updated', seq: 1, at: '2026-01-01T00:00:00Z', data: { card: { ...card('a', 'todo', 0), archived_at: '2026-01-02T00:00:00Z', updated_at: '2026-01-02T00:00:00Z' } } });
    expect(board.cards.map((c) => c.id)).toEqual(['b']);
    const link = { repo_id: 'repo-1', automation_enabled: true, sync_rule: { auto_start: true, max_concurrent: 2 } };
    board.apply({ type: 'github_updated', seq: 2, at: '2026-01-01T00:00:00Z', data: { repo_id: 'repo-1', github: link as never } });
    expect(board.github.wipLimit).toBe(2);
    board.apply({ type: 'github_updated', seq: 3, at: '2026-01-01T00:00:00Z', data: { repo_id: 'other', github: null } });
    expect(board.github.wipLimit).toBe(2);
    board.apply({ type: 'github_updated', seq: 4, at: '2026-01-01T00:00:00Z', data: { repo_id: 'repo-1', github: { ...link, automation_enabled: false } as never } });
    expect(board.github.wipLimit).toBeNull();
  });

  it('snaps a refused move back and shows the reason', async () => {
    const board = await loaded([card('a', 'in_review', 0)]);
    const calls = serve((method, url) => {
      if (method === 'POST' && url === '/api/cards/a/approve') return json({ detail: 'The branch conflicts with main.' }, 409);
    });
    const moved = await board.move('a', 'done', 0);
    expect(moved).toBe(false);
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['POST /api/cards/a/approve']);
    expect(board.cards[0].status).toBe('in_review');
    expect(toasts.items.at(-1)?.text).toMatch(/The branch conflicts with main\./);
  });

  it('approves by dragging with the head of the branch the board shows', async () => {
    const reviewed = { ...card('a', 'in_review', 0), job_id: 'j1' };
    const job = { id: 'j1', card_id: 'a', status: 'completed', head_sha: 'c'.repeat(40) } as JobRead;
    const board = await loaded([reviewed], [job]);
    const calls = serve((method, url) => {
      if (method === 'POST' && url === '/api/cards/a/approve') return json({ card: { ...reviewed, status: 'done' }, merge_sha: 'd'.repeat(40) });
    });
    expect(await board.move('a', 'done', 0)).toBe(true);
    expect(calls).toEqual([{ method: 'POST', url: '/api/cards/a/approve', body: { expected_head: 'c'.repeat(40) } }]);
  });

  it('refuses a move no rule allows without asking the server', async () => {
    const board = await loaded([card('a', 'todo', 0)]);
    const calls = serve(() => undefined);
    expect(await board.move('a', 'done', 0)).toBe(false);
    expect(calls).toEqual([]);
    expect(board.cards[0].status).toBe('todo');
    expect(toasts.items.at(-1)?.text).toBe("Only a card in review can become done; it needs an agent's work to review first.");
  });

  it('starts a card by dragging it to In Progress (a PATCH the server turns into a job)', async () => {
    const board = await loaded([card('a', 'todo', 0), card('b', 'todo', 1)]);
    const calls = serve((method, url, body) => {
      if (method === 'PATCH' && url === '/api/cards/b') {
        return json({ ...card('b', 'in_progress', 0), ...(body as object), updated_at: '2026-01-03T00:00:00Z' });
      }
    });
    expect(await board.move('b', 'in_progress', 0)).toBe(true);
    expect(calls[0].body).toEqual({ status: 'in_progress', position: 0 });
    expect(board.columns.in_progress.map((c) => c.id)).toEqual(['b']);
    expect(board.columns.todo.map((c) => `${c.id}@${c.position}`)).toEqual(['a@0']);
  });
});

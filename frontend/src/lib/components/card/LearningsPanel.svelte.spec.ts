import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CardLearningsRead, LearningRead } from '../../api';
import { BoardState } from '../../state/board.svelte';
import { APP_CONTEXT_KEY } from '../../state/context';
import { makeCard } from '../../testing/cards';
import LearningsPanel from './LearningsPanel.svelte';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const base: LearningRead = {
  id: 'l-1', repo_id: 'repo-1', text: 'Keep handlers thin.', paths: ['src/api/**'], kind: 'advice', status: 'accepted',
  source: 'person', card_id: null, job_id: null, comment_id: null, helpful: 0, harmful: 0, uses: 3,
  last_used_at: null, decided_at: null, created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z',
};

function show(found: CardLearningsRead) {
  const calls: { method: string; url: string; body: unknown }[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit = {}) => {
      const method = init.method ?? 'GET';
      const body = init.body ? JSON.parse(String(init.body)) : undefined;
      calls.push({ method, url, body });
      if (method === 'PUT') {
        const helpful = body.verdict === 'helpful' ? 1 : 0;
        return new Response(JSON.stringify({ ...found.used[0], mark: body.verdict, helpful }));
      }
      if (method === 'PATCH') return new Response(JSON.stringify({ ...found.proposed[0], ...body }));
      return new Response(JSON.stringify(found));
    }),
  );
  const card = makeCard({ status: 'in_review' });
  const board = new BoardState();
  render(LearningsPanel, { props: { card }, context: new Map([[APP_CONTEXT_KEY, { board, live: { status: 'live', unreachable: false } }]]) });
  return { card, calls };
}

describe("a card's learnings", () => {
  it('marks a learning its agents were given helpful, then takes the mark back', async () => {
    const { card, calls } = show({ used: [{ ...base, card_uses: 2, mark: null }], proposed: [] });
    const given = await screen.findByRole('region', { name: "Learnings given to this card's agents" });
    const item = within(given).getByRole('listitem', { name: 'Learning: Keep handlers thin.' });
    expect(item.textContent).toContain('in 2 prompts of this card');
    const helpful = within(item).getByRole('button', { name: 'Helpful' });
    expect(helpful.getAttribute('aria-pressed')).toBe('false');
    await fireEvent.click(helpful);
    await vi.waitFor(() => expect(within(item).getByRole('button', { name: 'Helpful' }).getAttribute('aria-pressed')).toBe('true'));
    await fireEvent.click(within(item).getByRole('button', { name: 'Helpful' }));
    const marks = calls.filter((c) => c.method === 'PUT');
    await vi.waitFor(() => expect(calls.filter((c) => c.method === 'PUT')).toHaveLength(2));
    expect(marks[0]).toEqual({ method: 'PUT', url: `/api/cards/${card.id}/learnings/l-1/mark`, body: { verdict: 'helpful' } });
    expect(calls.filter((c) => c.method === 'PUT')[1].body).toEqual({ verdict: null });
  });

  it("accepts what the card's agent proposed", async () => {
    const mine = { ...base, id: 'l-2', text: 'Parsers need a test per rule.', status: 'proposed' as const, source: 'agent' as const };
    const { calls } = show({ used: [], proposed: [mine] });
    const from = await screen.findByRole('region', { name: 'Learnings from this card' });
    expect(screen.getByText(/None yet: accepted learnings about the files this card touches/)).toBeTruthy();
    await fireEvent.click(within(from).getByRole('button', { name: 'Accept' }));
    await vi.waitFor(() => expect(calls.find((c) => c.method === 'PATCH')?.body).toEqual({ status: 'accepted' }));
    await vi.waitFor(() => expect(within(from).queryByRole('button', { name: 'Accept' })).toBeNull());
  });
});

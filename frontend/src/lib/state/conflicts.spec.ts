import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ConflictRead } from '../api';
import type { BoardEvent } from '../live/events';
import { ConflictState, describe as sentence, otherName } from './conflicts.svelte';
import { toasts } from './toasts.svelte';

const A = '00000000-0000-0000-0000-00000000000a';
const B = '00000000-0000-0000-0000-00000000000b';

const withB: ConflictRead = {
  with: B,
  with_title: 'Readme B',
  target: false,
  files: ['README.md'],
  kind: 'conflict',
  detected_at: '2026-01-01T00:00:00Z',
};
const withMain: ConflictRead = { with: 'main', target: true, files: ['README.md'], kind: 'overlap', detected_at: '2026-01-01T00:00:01Z' };

function event(card_id: string, conflicts: ConflictRead[], repo_id = 'repo-1'): BoardEvent {
  return { seq: 1, at: '2026-01-01T00:00:00Z', type: 'card_conflicts', data: { card_id, repo_id, conflicts } };
}

describe('ConflictState', () => {
  beforeEach(() => (toasts.items = []));
  afterEach(() => vi.unstubAllGlobals());

  it('loads a repo, then each event replaces one card; an empty list removes it', async () => {
    const fetch = vi.fn(async (_url: string) => new Response(JSON.stringify({ cards: { [A]: [withB] } }), { status: 200 }));
    vi.stubGlobal('fetch', fetch);
    const state = new ConflictState();
    await state.load('repo-1');
    expect(fetch.mock.calls[0][0]).toBe('/api/repos/repo-1/conflicts');
    expect(state.of(A)).toEqual([withB]);
    expect(state.of(B)).toEqual([]);
    state.apply(event(B, [withMain]));
    expect(state.of(B)).toEqual([withMain]);
    state.apply(event(A, []));
    expect(state.of(A)).toEqual([]);
    expect(Object.keys(state.byCard)).toEqual([B]);
  });

  it('ignores events of other repos and other types', () => {
    const state = new ConflictState();
    state.repoId = 'repo-1';
    state.apply(event(A, [withB], 'repo-2'));
    state.apply({ seq: 2, at: '', type: 'card_deleted', data: { card_id: A, repo_id: 'repo-1' } });
    expect(state.byCard).toEqual({});
  });

  it('forgets the last repo when another is picked, and says when loading fails', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify({ detail: 'Database is busy.' }), { status: 500 })));
    const state = new ConflictState();
    state.repoId = 'repo-1';
    state.byCard = { [A]: [withB] };
    await state.load('repo-2');
    expect(state.byCard).toEqual({});
    expect(toasts.items.map((t) => t.text).join(' ')).toMatch(/Could not load the predicted conflicts/);
  });
});

describe('naming', () => {
  it('names the other card by the title the board holds, else the one sent, else its id; the target by its branch', () => {
    expect(otherName(withB, () => 'Readme B, renamed')).toBe('Readme B, renamed');
    expect(otherName(withB, () => undefined)).toBe('Readme B');
    expect(otherName({ ...withB, with_title: null }, () => undefined)).toBe('#00000000');
    expect(otherName(withMain, () => 'never asked')).toBe('main');
  });

  it('says what collides and where', () => {
    expect(sentence(withB, 'Readme B')).toBe('Conflicts with Readme B in README.md');
    const many = { ...withMain, files: ['a', 'b', 'c', 'd', 'e', 'f', 'g'] };
    expect(sentence(many, 'main')).toBe('Overlaps main in a, b, c, d, e and 2 more');
  });
});

import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import DiffPanel from './DiffPanel.svelte';
import { CardReview } from './review.svelte';
import Host from './testing/Host.svelte';
import { card, CARD_ID, comment, diff, fakeContext, stubFetch } from './testing/fixtures';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  localStorage.clear();
});

function mount(comments = [comment()]) {
  const fetch = stubFetch({
    [`GET /api/cards/${CARD_ID}/diff`]: () => diff,
    [`GET /api/cards/${CARD_ID}/comments`]: () => comments,
    [`POST /api/cards/${CARD_ID}/comments`]: (_url, init) => comment({ ...JSON.parse(String(init.body)), id: 'new-1' }),
  });
  const { context, board } = fakeContext();
  const review = new CardReview(CARD_ID);
  render(Host, { props: { component: DiffPanel, props: { card, review }, context } });
  return { fetch, review, board };
}

describe('DiffPanel', () => {
  it('lists files with counts, names binary and renamed files, and highlights code', async () => {
    mount();
    const main = await screen.findByRole('region', { name: 'main.py' });
    expect(within(screen.getByRole('navigation', { name: 'Changed files' })).getAllByRole('button')).toHaveLength(3);
    expect(within(main).getByText('+2')).toBeTruthy();
    expect(main.querySelector('.hljs-built_in, .hljs-string')).not.toBeNull();
    expect(screen.getByText(/Binary file added/)).toBeTruthy();
    const renamed = screen.getByRole('region', { name: 'docs/new.md' });
    expect(within(renamed).getByText('docs/old.md')).toBeTruthy();
    expect(within(renamed).getByText('renamed')).toBeTruthy();
  });

  it('shows an existing comment under its line and adds a new one', async () => {
    const { fetch } = mount();
    await screen.findByText('Use a constant');
    await fireEvent.click(screen.getByRole('button', { name: 'Review line 3 of main.py' }));
    const box = screen.getByLabelText('Comment');
    await fireEvent.input(box, { target: { value: 'Return 1 on failure' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Add comment' }));
    await screen.findByText('Return 1 on failure');
    const post = fetch.mock.calls.find(([, init]) => init?.method === 'POST');
    expect(JSON.parse(String(post?.[1]?.body))).toEqual({ body: 'Return 1 on failure', file: 'main.py', line: 3 });
    expect(screen.queryByLabelText('Comment')).toBeNull();
  });

  it('comments on a deleted line with its old line number', async () => {
    const { fetch } = mount([]);
    await screen.findByRole('region', { name: 'main.py' });
    await fireEvent.click(screen.getByRole('button', { name: 'Review removed line 2 of main.py' }));
    await fireEvent.input(screen.getByLabelText('Comment'), { target: { value: 'why?' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Add comment' }));
    await waitFor(() => expect(fetch.mock.calls.some(([, init]) => init?.method === 'POST')).toBe(true));
    const post = fetch.mock.calls.find(([, init]) => init?.method === 'POST');
    expect(JSON.parse(String(post?.[1]?.body))).toMatchObject({ file: 'main.py', line: 2 });
  });

  it('switches to side by side and remembers it', async () => {
    mount();
    const main = await screen.findByRole('region', { name: 'main.py' });
    await fireEvent.click(screen.getByRole('button', { name: 'Side by side' }));
    expect(main.querySelector('table.split')).not.toBeNull();
    // the deletion faces the first addition on the same row
    const row = within(main).getByText('pass', { exact: false }).closest('tr')!;
    expect(row.textContent).toContain('print');
    expect(localStorage.getItem('lazyaf.diffView')).toBe('split');
  });

  it('sends the open comments as changes', async () => {
    const { board } = mount();
    await fireEvent.click(await screen.findByRole('button', { name: 'Send 1 comment as changes' }));
    expect(board.act).toHaveBeenCalledWith(CARD_ID, 'requestChanges');
  });

  it('renders 500 files as headers, hunks only near the screen, and collapses large ones', async () => {
    const observed: Element[] = [];
    vi.stubGlobal(
      'IntersectionObserver',
      class {
        observe = (el: Element) => observed.push(el);
        disconnect = () => {};
      },
    );
    const many = Array.from({ length: 500 }, (_, i) => ({
      ...diff.files[0],
      path: `src/file${i}.ts`,
      hunks: i === 0 ? [{ ...diff.files[0].hunks[0], lines: Array.from({ length: 600 }, (_, l) => ({ kind: 'add' as const, old_line: null, new_line: l + 1, text: `const x${l} = ${l};` })) }] : diff.files[0].hunks,
    }));
    stubFetch({
      [`GET /api/cards/${CARD_ID}/diff`]: (url) => {
        const offset = Number(url.searchParams.get('offset'));
        const limit = Number(url.searchParams.get('limit'));
        return { ...diff, total_files: 500, offset, limit, files: many.slice(offset, offset + limit) };
      },
      [`GET /api/cards/${CARD_ID}/comments`]: () => [],
    });
    const { context } = fakeContext();
    render(Host, { props: { component: DiffPanel, props: { card, review: new CardReview(CARD_ID) }, context } });
    await waitFor(() => expect(screen.getAllByRole('region')).toHaveLength(500), { timeout: 5000 });
    const big = screen.getByRole('region', { name: 'src/file0.ts' });
    expect(within(big).getByText('600 lines hidden.')).toBeTruthy();
    expect(document.querySelectorAll('tr')).toHaveLength(0); // nothing is on screen in jsdom
    expect(observed).toHaveLength(499);
    await fireEvent.click(within(big).getByRole('button', { name: 'Expand src/file0.ts' }));
    expect(observed).toHaveLength(500);
  }, 30_000);
});

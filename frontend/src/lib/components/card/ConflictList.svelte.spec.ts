import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import ConflictList from './ConflictList.svelte';
import Host from './testing/Host.svelte';
import { fakeContext } from './testing/fixtures';

afterEach(cleanup);

describe('ConflictList', () => {
  it('lists each predicted collision with its files; a click on another card opens it', async () => {
    const { context, board } = fakeContext();
    const at = '2026-01-01T00:00:00Z';
    const other = '9f9f9f9f-0000-0000-0000-000000000000';
    const conflicts = [
      { with: other, with_title: 'Rewrite the README', target: false, files: ['README.md', 'docs/a.md'], kind: 'conflict' as const, detected_at: at },
      { with: 'main', target: true, files: ['src/app.py'], kind: 'overlap' as const, detected_at: at },
    ];
    render(Host, { props: { component: ConflictList, props: { conflicts }, context } });
    const items = screen.getAllByRole('listitem');
    expect(items.map((i) => i.textContent?.replace(/\s+/g, ' ').trim())).toEqual([
      'conflict with Rewrite the README README.md, docs/a.md',
      'overlap with the target branch main src/app.py',
    ]);
    const link = screen.getByRole('link', { name: 'Rewrite the README' });
    expect(link.getAttribute('href')).toBe(`?card=${other}`);
    await fireEvent.click(link);
    expect((board as unknown as { openById: { mock: { calls: unknown[][] } } }).openById.mock.calls).toEqual([[other]]);
  });
});

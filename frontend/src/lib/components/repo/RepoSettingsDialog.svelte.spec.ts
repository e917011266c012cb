import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RepoRead } from '../../api';
import { BoardState } from '../../state/board.svelte';
import { APP_CONTEXT_KEY } from '../../state/context';
import RepoSettingsDialog from './RepoSettingsDialog.svelte';
import { changeOf, formOf } from './settings';

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

const repo: RepoRead = {
  id: 'repo-1',
  name: 'demo',
  remote_url: 'git@example.com:me/demo.git',
  default_branch: 'main',
  is_ingested: true,
  merge_strategy: 'auto',
  setup_command: null,
  lint_command: 'ruff check .',
  test_command: null,
  build_command: null,
  default_workflow: 'build',
  test_paths: ['tests/**'],
  clone_url: 'http://127.0.0.1:8765/git/repo-1.git',
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
};

describe('changeOf', () => {
  it('sends only what changed; an emptied remote or command clears it', () => {
    const before = formOf(repo);
    expect(changeOf(before, { ...before })).toEqual({});
    expect(changeOf(before, { ...before, test_command: ' pytest -q ', lint_command: '' })).toEqual({ test_command: 'pytest -q', lint_command: '' });
    expect(changeOf(before, { ...before, remote_url: '  ', merge_strategy: 'squash', default_branch: 'dev' })).toEqual({
      remote_url: null,
      merge_strategy: 'squash',
      default_branch: 'dev',
    });
  });
});

function show() {
  const calls: { method: string; url: string; body: unknown }[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit = {}) => {
      const method = init.method ?? 'GET';
      const body = init.body ? JSON.parse(String(init.body)) : undefined;
      calls.push({ method, url, body });
      if (url.endsWith('/branches')) return new Response(JSON.stringify([{ name: 'main', sha: 'a', is_default: true }, { name: 'dev', sha: 'b', is_default: false }]));
      if (method === 'PATCH') return new Response(JSON.stringify({ ...repo, ...body }));
      if (method === 'DELETE') return new Response(null, { status: 204 });
      return new Response(JSON.stringify([]));
    }),
  );
  const board = new BoardState();
  board.repos = [repo];
  board.repoId = repo.id;
  const onclose = vi.fn();
  render(RepoSettingsDialog, { props: { repo, onclose }, context: new Map([[APP_CONTEXT_KEY, { board, live: { status: 'live', unreachable: false } }]]) });
  return { board, calls, onclose };
}

describe('RepoSettingsDialog', () => {
  it('saves a test command, and only that', async () => {
    const { board, calls, onclose } = show();
    const save = screen.getByRole('button', { name: 'Save settings' }) as HTMLButtonElement;
    expect(save.disabled).toBe(true); // nothing changed yet
    expect(screen.getByLabelText('Remote URL')).toHaveProperty('value', 'git@example.com:me/demo.git');
    await fireEvent.input(screen.getByLabelText('Test command'), { target: { value: 'pytest -q' } });
    await fireEvent.click(save);
    await vi.waitFor(() => expect(onclose).toHaveBeenCalled());
    expect(calls.filter((c) => c.method === 'PATCH')).toEqual([{ method: 'PATCH', url: '/api/repos/repo-1', body: { test_command: 'pytest -q' } }]);
    expect(board.repos[0].test_command).toBe('pytest -q');
  });

  it('offers the existing branches as the default branch', async () => {
    show();
    const select = screen.getByLabelText('Default branch') as HTMLSelectElement;
    await vi.waitFor(() => expect([...select.options].map((o) => o.value)).toEqual(['main', 'dev']));
  });

  it('deletes the repo only once its name is typed', async () => {
    const { calls } = show();
    await fireEvent.click(screen.getByRole('button', { name: 'Delete this repo…' }));
    const remove = screen.getByRole('button', { name: 'Delete repo' }) as HTMLButtonElement;
    expect(remove.disabled).toBe(true);
    await fireEvent.input(screen.getByLabelText('Type the repo name to confirm'), { target: { value: 'dem' } });
    expect(remove.disabled).toBe(true);
    await fireEvent.input(screen.getByLabelText('Type the repo name to confirm'), { target: { value: 'demo' } });
    expect(remove.disabled).toBe(false);
    await fireEvent.click(remove);
    await vi.waitFor(() => expect(calls.some((c) => c.method === 'DELETE' && c.url === '/api/repos/repo-1')).toBe(true));
  });
});

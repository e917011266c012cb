// The selected repo's GitHub link: loaded with the board, kept current by `github_updated` events,
// and the actions of the repo settings' GitHub section. The token goes out once, in `link`, and
// never comes back: the server answers `has_token`.
import { api, type GitHubLinkRead, type GitHubLinkWrite, type SyncResult, type SyncRule, type VerifyRead } from '../api';
import { ApiError } from '../api/client';
import type { BoardEvent } from '../live/events';
import { handleError, toasts } from './toasts.svelte';

export class GitHubState {
  repoId = $state<string | null>(null);
  /** null: the repo is not linked (or not loaded yet). */
  link = $state.raw<GitHubLinkRead | null>(null);
  /** The answer of the last sync started here, shown beside Sync now. */
  lastSync = $state.raw<SyncResult | null>(null);
  busy = $state(false);

  /** The WIP limit shown on In Progress: only while automation auto-starts cards under it. */
  wipLimit = $derived(
    this.link?.automation_enabled && this.link.sync_rule?.auto_start ? this.link.sync_rule.max_concurrent : null,
  );

  /** Load repo `repoId`'s link (again: after a reconnect, events may have been missed). */
  load = async (repoId: string | null): Promise<void> => {
    if (repoId !== this.repoId) {
      this.link = null;
      this.lastSync = null;
    }
    this.repoId = repoId;
    if (!repoId) return;
    try {
      const link = await api.github.get(repoId);
      if (this.repoId === repoId) this.link = link;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        if (this.repoId === repoId) this.link = null;
      } else handleError(error, 'Could not load the GitHub link');
    }
  };

  apply = (event: BoardEvent): void => {
    if (event.type === 'github_updated' && event.data.repo_id === this.repoId) this.link = event.data.github;
  };

  /** Run one call against the current repo; a failure is a toast saying why, and null. */
  async #run<T>(what: string, call: (repoId: string) => Promise<T>): Promise<T | null> {
    const repoId = this.repoId;
    if (!repoId) return null;
    this.busy = true;
    try {
      return await call(repoId);
    } catch (error) {
      handleError(error, what);
      return null;
    } finally {
      this.busy = false;
    }
  }

  save = async (body: GitHubLinkWrite): Promise<boolean> => {
    const link = await this.#run('Could not link the repo to GitHub', (id) => api.github.link(id, body));
    if (link) this.link = link;
    return link !== null;
  };

  unlink = async (): Promise<boolean> => {
    const done = await this.#run('Could not unlink the repo', (id) => api.github.unlink(id).then(() => true));
    if (done) this.link = null;
    return done === true;
  };

  verify = async (): Promise<VerifyRead | null> => this.#run('Could not verify the link', (id) => api.github.verify(id));

  setRule = async (rule: SyncRule): Promise<boolean> => {
    const link = await this.#run('Could not save the sync rule', (id) => api.github.setRule(id, rule));
    if (link) this.link = link;
    return link !== null;
  };

  sync = async (): Promise<SyncResult | null> => {
    const result = await this.#run('Could not sync the issues', (id) => api.github.sync(id));
    if (result) this.lastSync = result;
    return result;
  };

  setAutomation = async (enabled: boolean): Promise<boolean> => {
    const link = await this.#run('Could not switch the automation', (id) => api.github.automation(id, enabled));
    if (link) this.link = link;
    return link !== null;
  };

  /** Queue the card's pull request (the server's outbox opens it; the card shows it). */
  openPullRequest = async (cardId: string, draft = false): Promise<boolean> => {
    try {
      await api.github.pullRequest(cardId, draft);
      toasts.show('Opening the pull request…');
      return true;
    } catch (error) {
      handleError(error, 'Could not open the pull request');
      return false;
    }
  };
}

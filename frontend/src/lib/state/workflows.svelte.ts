// The workflows a card of the selected repo can run (built-in presets and the repo's own), and
// the repo's default: the start action's picker reads them. Loaded with the board, again when
// the repo changes (its settings name the default).
import { api, type StartChoice, type WorkflowList, type WorkflowRead } from '../api';
import type { BoardEvent } from '../live/events';
import { handleError } from './toasts.svelte';

export class WorkflowState {
  repoId = $state<string | null>(null);
  list = $state.raw<WorkflowList | null>(null);
  workflows = $derived<WorkflowRead[]>(this.list?.workflows ?? []);
  /** The repo's default workflow (what a drag starts); null until loaded. */
  defaultName = $derived(this.list?.default_workflow ?? null);

  load = async (repoId: string | null): Promise<void> => {
    if (repoId !== this.repoId) this.list = null;
    this.repoId = repoId;
    if (!repoId) return;
    try {
      const list = await api.workflows.list(repoId);
      if (this.repoId === repoId) this.list = list;
    } catch (error) {
      if (this.repoId === repoId) handleError(error, 'Could not load the workflows');
    }
  };

  /** The repo's settings changed (its default workflow may have): read the list again. */
  apply = (event: BoardEvent): void => {
    if (event.type === 'repo_updated' && event.data.repo_id === this.repoId) void this.load(this.repoId);
  };

  find = (name: string | null | undefined): WorkflowRead | undefined => this.workflows.find((w) => w.name === name);

  /** Whether workflow `name` has a plan step (its plan can wait for a review). */
  hasPlan = (name: string | null | undefined): boolean => this.find(name)?.steps.includes('plan') ?? false;

  /** What Start sends for the picker's state: the workflow picked (else the default), and whether
   * its plan waits for a review; nothing (the server's default) before the list is loaded. */
  choice = (picked: string | null, reviewPlan: boolean): StartChoice => {
    const name = picked ?? this.defaultName;
    if (!this.list || !name) return {};
    return { workflow: name, review_plan: reviewPlan && this.hasPlan(name) };
  };
}

// Which agents can run, and with what kind of credential (GET /api/agents): the board shows a
// banner with the server's sentence when the default agent has none. Nothing polls: the state is
// read at load, again when the window regains focus (the user may have just run `claude login`),
// when a runner connects or goes (it may bring its own credential), and on "Check again".
import { api, type AgentRead, type AgentsRead } from '../api';
import type { BoardEvent } from '../live/events';

export class AgentState {
  agents = $state.raw<AgentsRead | null>(null);
  checking = $state(false);

  /** The agent cards run with unless told otherwise. */
  default = $derived<AgentRead | null>(this.agents?.agents.find((a) => a.default) ?? null);
  /** What to do before cards can run (the server's sentence), or null when the default agent can run. */
  problem = $derived(this.default && !this.default.ready ? (this.default.problem ?? null) : null);

  #again = false;

  load = async (): Promise<void> => {
    if (this.checking) {
      this.#again = true; // asked while a load is on its way: read once more after it
      return;
    }
    this.checking = true;
    try {
      this.agents = await api.agents.list();
    } catch (error) {
      // Not worth a toast: the board says when the server is unreachable; keep what we knew.
      console.warn('Could not check the agents', error);
    } finally {
      this.checking = false;
    }
    if (this.#again) {
      this.#again = false;
      await this.load();
    }
  };

  /** A runner that connects may bring a credential of its own; one that goes may take it away. */
  apply = (event: BoardEvent): void => {
    if (event.type !== 'runner_status' && event.type !== 'runner_deleted') return;
    if (event.type === 'runner_status' && event.data.runner.status === 'busy') return;
    if (this.problem !== null || this.default?.credential?.found_on === 'runner') void this.load();
  };
}

/** `text` split at backquotes: odd pieces are commands to show as code (`claude login`). */
export function codeSpans(text: string): { text: string; code: boolean }[] {
  return text.split('`').map((piece, index) => ({ text: piece, code: index % 2 === 1 }));
}

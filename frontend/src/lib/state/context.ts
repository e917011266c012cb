// The app's state objects, provided once by App.svelte and read by any component below it.
import { getContext, setContext } from 'svelte';
import type { LiveSocket } from '../live/socket.svelte';
import type { CardActions } from './actions.svelte';
import type { AgentState } from './agents.svelte';
import type { BoardState } from './board.svelte';
import type { KeyboardDrag } from './keyboard.svelte';
import type { LimitsState } from './limits.svelte';
import type { QueueState } from './queue.svelte';
import type { RunnerState } from './runners.svelte';

export type AppContext = {
  board: BoardState;
  runners: RunnerState;
  live: LiveSocket;
  actions: CardActions;
  keyboard: KeyboardDrag;
  agents: AgentState;
  /** Budgets and limits with today's spend (optional: component tests may leave it out). */
  limits?: LimitsState;
  /** The queue view's state (optional, like limits). */
  queue?: QueueState;
};

export const APP_CONTEXT_KEY = Symbol('lazyaf');
const KEY = APP_CONTEXT_KEY;

export function setAppContext(context: AppContext): AppContext {
  return setContext(KEY, context);
}

export function getAppContext(): AppContext {
  const context = getContext<AppContext | undefined>(KEY);
  if (!context) throw new Error('getAppContext() called outside <App>');
  return context;
}

/** Why actions that need the server are off right now, or null when it answers. */
export function offlineReason(live: Pick<LiveSocket, 'unreachable'> | null | undefined): string | null {
  return live?.unreachable ? 'The server is unreachable; reconnecting… (this works again once it answers)' : null;
}

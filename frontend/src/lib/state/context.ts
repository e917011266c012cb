// The app's state objects, provided once by App.svelte and read by any component below it.
import { getContext, setContext } from 'svelte';
import type { LiveSocket } from '../live/socket.svelte';
import type { BoardState } from './board.svelte';
import type { RunnerState } from './runners.svelte';

export type AppContext = { board: BoardState; runners: RunnerState; live: LiveSocket };

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

// The card modal's tabs and which one opens first.
import type { CardStatus } from '../../api';

export const TABS = ['Details', 'Diff', 'Commits', 'Steps', 'Logs', 'Learnings', 'Timeline'] as const;
export type Tab = (typeof TABS)[number];

export function defaultTab(status: CardStatus): Tab {
  if (status === 'in_review' || status === 'done') return 'Diff';
  if (status === 'in_progress') return 'Logs';
  return 'Details';
}

/** The tab an arrow, Home or End key moves to from `current`, or null for other keys. */
export function tabAfterKey(current: Tab, key: string): Tab | null {
  const i = TABS.indexOf(current);
  if (key === 'ArrowRight') return TABS[(i + 1) % TABS.length];
  if (key === 'ArrowLeft') return TABS[(i - 1 + TABS.length) % TABS.length];
  if (key === 'Home') return TABS[0];
  if (key === 'End') return TABS[TABS.length - 1];
  return null;
}

/** The id stem of a tab and its panel ("card-diff-tab", "card-diff-panel"). */
export const tabId = (name: Tab) => `card-${name.toLowerCase()}`;

// Which page the app shows: the board or the metrics, kept in the URL (?view=metrics).
export type View = 'board' | 'metrics';

export function readView(search: string = location.search): View {
  return new URLSearchParams(search).get('view') === 'metrics' ? 'metrics' : 'board';
}

/** `url` showing `view`: the metrics' own filter (repo, days) goes when the board comes back. */
export function viewUrl(url: URL, view: View): URL {
  const next = new URL(url);
  if (view === 'metrics') {
    next.searchParams.set('view', 'metrics');
  } else {
    for (const key of ['view', 'repo', 'days']) next.searchParams.delete(key);
  }
  return next;
}

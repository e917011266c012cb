// The one fetch wrapper: JSON in and out, errors as ApiError(status, detail) with the backend's
// sentence. Off loopback the server wants a token; it is kept in localStorage and sent as Bearer.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly code: string | null = null,
  ) {
    super(detail);
    this.name = 'ApiError';
  }
}

const TOKEN_KEY = 'lazyaf.token';

export function getToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

/** Turn an error body into one sentence: {detail: str} or FastAPI's {detail: [{msg, loc}]}. */
export function errorDetail(body: unknown, status: number): string {
  if (body && typeof body === 'object' && 'detail' in body) {
    const detail = (body as { detail: unknown }).detail;
    if (typeof detail === 'string') return detail;
    if (Array.isArray(detail) && detail.length > 0) {
      return detail
        .map((d: { msg?: string; loc?: unknown[] }) => {
          const field = Array.isArray(d.loc) ? d.loc.filter((p) => p !== 'body').join('.') : '';
          return field ? `${field}: ${d.msg}` : String(d.msg);
        })
        .join('; ');
    }
  }
  return `The server answered ${status}.`;
}

// The board event seq the server had published when it began each response (X-LazyAF-Seq).
let tracked: number[] | null = null;

/**
 * Run `load` and give the lowest X-LazyAF-Seq among the responses it got: connecting the live
 * socket with ?since=<that> then misses no change made after the data was read.
 */
export async function trackSeq<T>(load: () => Promise<T>): Promise<{ value: T; seq: number | null }> {
  const seen: number[] = [];
  tracked = seen;
  try {
    const value = await load();
    return { value, seq: seen.length ? Math.min(...seen) : null };
  } finally {
    if (tracked === seen) tracked = null;
  }
}

export type Query = Record<string, string | number | boolean | null | undefined>;

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export async function request<T>(
  method: string,
  path: string,
  options: { body?: unknown; query?: Query; signal?: AbortSignal } = {},
): Promise<T> {
  return (await requestWithHeaders<T>(method, path, options)).body;
}

/** `request`, also giving the response headers (e.g. X-Total-Count of a page). */
export async function requestWithHeaders<T>(
  method: string,
  path: string,
  options: { body?: unknown; query?: Query; signal?: AbortSignal } = {},
): Promise<{ body: T; headers: Headers }> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = getToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(withQuery(path, options.query), {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError(0, 'Cannot reach the LazyAF server; is `lazyaf serve` running?', 'unreachable');
  }
  const seq = response.headers.get('x-lazyaf-seq');
  if (tracked && seq !== null && response.ok) tracked.push(Number(seq));
  if (response.status === 204) return { body: undefined as T, headers: response.headers };
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const code = body && typeof body === 'object' && 'code' in body ? String((body as { code: unknown }).code) : null;
    throw new ApiError(response.status, errorDetail(body, response.status), code);
  }
  return { body: body as T, headers: response.headers };
}

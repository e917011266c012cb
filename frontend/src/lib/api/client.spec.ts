import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, errorDetail, request, withQuery } from './client';

afterEach(() => vi.unstubAllGlobals());

describe('errorDetail', () => {
  it('reads the backend sentence and FastAPI validation lists', () => {
    expect(errorDetail({ detail: 'Card not found.' }, 404)).toBe('Card not found.');
    expect(errorDetail({ detail: [{ loc: ['body', 'title'], msg: 'Field required' }] }, 422)).toBe('title: Field required');
    expect(errorDetail(null, 502)).toBe('The server answered 502.');
  });
});

describe('request', () => {
  it('turns a refusal into an ApiError with status, detail and code', async () => {
    const body = JSON.stringify({ detail: 'Cards reach In Review on their own.', code: 'conflict' });
    vi.stubGlobal('fetch', vi.fn(async () => new Response(body, { status: 409 })));
    const error = (await request('PATCH', '/api/cards/x', { body: { status: 'in_review' } }).catch((e) => e)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(409);
    expect(error.detail).toBe('Cards reach In Review on their own.');
    expect(error.code).toBe('conflict');
  });

  it('says so in one sentence when the server cannot be reached', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    await expect(request('GET', '/api/repos')).rejects.toThrow(/Cannot reach the LazyAF server/);
  });

  it('builds query strings without empty values', () => {
    expect(withQuery('/a', { x: 1, y: '', z: null, w: 'b c' })).toBe('/a?x=1&w=b+c');
  });
});

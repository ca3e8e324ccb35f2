/**
 * HandlersInFlight: the count a graceful stop waits on before it closes the database, through
 * handlers that return a promise, return at once, or throw; and the request id they see.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { describe, expect, it } from 'vitest';
import { currentRequestId } from '../../src/http/logging.js';
import { HandlersInFlight } from '../../src/http/server.js';

const call = (handler: RouteHandlerMethod, id: string) => handler.call({} as FastifyInstance, { id } as FastifyRequest, {} as FastifyReply);

describe('HandlersInFlight', () => {
  it('counts a handler until its promise settles, and whenIdle resolves only then', async () => {
    const handlers = new HandlersInFlight();
    let finish = () => {};
    const seen: Array<string | undefined> = [];
    const slow = handlers.wrap(async () => {
      seen.push(currentRequestId());
      await new Promise<void>((resolve) => (finish = resolve));
      seen.push(currentRequestId());
      return 'done';
    });
    const result = call(slow, 'req-1') as Promise<unknown>;
    expect(handlers.count).toBe(1);
    let idle = false;
    const whenIdle = handlers.whenIdle().then(() => (idle = true));
    await Promise.resolve();
    expect(idle).toBe(false);
    finish();
    expect(await result).toBe('done');
    await whenIdle;
    expect(handlers.count).toBe(0);
    // The id holds across the handler's awaits, and not outside it.
    expect(seen).toEqual(['req-1', 'req-1']);
    expect(currentRequestId()).toBeUndefined();
  });

  it('a handler that rejects, throws or returns at once is counted out too', async () => {
    const handlers = new HandlersInFlight();
    await expect(call(handlers.wrap(async () => Promise.reject(new Error('no'))), 'a') as Promise<unknown>).rejects.toThrow('no');
    expect(() =>
      call(
        handlers.wrap(() => {
          throw new Error('at once');
        }),
        'b',
      ),
    ).toThrow('at once');
    expect(call(handlers.wrap(() => 'sync'), 'c')).toBe('sync');
    expect(handlers.count).toBe(0);
    await handlers.whenIdle();
  });
});

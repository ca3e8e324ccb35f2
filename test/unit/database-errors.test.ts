import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type OpenDatabase } from '../../src/storage/database.js';
import { describeUnavailability, isWriteProblem, unavailabilityOf } from '../../src/storage/database-errors.js';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('unavailabilityOf', () => {
  it.each([
    ['SQLITE_BUSY', 'busy'],
    ['SQLITE_BUSY_SNAPSHOT', 'busy'],
    ['SQLITE_LOCKED', 'busy'],
    ['40001', 'busy'],
    ['40P01', 'busy'],
    ['55P03', 'busy'],
    ['ECONNREFUSED', 'unreachable'],
    ['ECONNRESET', 'unreachable'],
    ['ETIMEDOUT', 'unreachable'],
    ['08006', 'unreachable'],
    ['08P01', 'unreachable'],
    ['57P01', 'unreachable'],
    ['57P02', 'unreachable'],
    ['57P03', 'unreachable'],
    ['53300', 'unreachable'],
    ['SQLITE_FULL', 'disk full'],
    ['53100', 'disk full'],
    ['SQLITE_READONLY', 'read-only'],
    ['SQLITE_READONLY_DBMOVED', 'read-only'],
    ['25006', 'read-only'],
    ['SQLITE_IOERR', 'I/O error'],
    ['SQLITE_IOERR_WRITE', 'I/O error'],
    ['SQLITE_CANTOPEN', 'cannot open'],
  ])('%s means %s', (code, why) => {
    expect(unavailabilityOf(withCode(code))).toBe(why);
  });

  it.each(['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_ERROR', 'SQLITE_BUSYX', '23505', '42P01', '3D000', '0800', 'EACCES'])('%s is not unavailability', (code) => {
    expect(unavailabilityOf(withCode(code))).toBeUndefined();
  });

  it.each([
    'Connection terminated unexpectedly',
    'Connection terminated',
    'Connection terminated due to connection timeout',
    'timeout exceeded when trying to connect',
    'Client has encountered a connection error and is not queryable',
    'Client was closed and is not queryable',
  ])('node-postgres "%s" means unreachable', (message) => {
    expect(unavailabilityOf(new Error(message))).toBe('unreachable');
  });

  it('follows cause and the first error of an AggregateError', () => {
    expect(unavailabilityOf(new Error('wrapped', { cause: withCode('ECONNREFUSED') }))).toBe('unreachable');
    expect(unavailabilityOf(new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')]))).toBe('unreachable');
  });

  it('says nothing of other errors and of values that are not errors', () => {
    expect(unavailabilityOf(new Error('Connection to the moon terminated'))).toBeUndefined();
    expect(unavailabilityOf(new TypeError('x is undefined'))).toBeUndefined();
    expect(unavailabilityOf(undefined)).toBeUndefined();
    expect(unavailabilityOf(null)).toBeUndefined();
    expect(unavailabilityOf('ECONNREFUSED')).toBeUndefined();
    expect(unavailabilityOf({ code: 5 })).toBeUndefined();
  });

  it('stops following a cycle of causes', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    a.cause = a;
    expect(unavailabilityOf(a)).toBeUndefined();
  });
});

describe('write problems and their words', () => {
  it('only a refusing disk is a write problem', () => {
    expect(['disk full', 'read-only', 'I/O error', 'cannot open'].every((w) => isWriteProblem(w as never))).toBe(true);
    expect(isWriteProblem('busy')).toBe(false);
    expect(isWriteProblem('unreachable')).toBe(false);
    expect(isWriteProblem(undefined)).toBe(false);
  });

  it('describes each cause in words without the driver message', () => {
    expect(describeUnavailability('busy')).toBe('the server is too busy to answer now; try again in a moment');
    expect(describeUnavailability('unreachable')).toBe('the database cannot be reached now; try again in a moment');
    expect(describeUnavailability('disk full')).toMatch(/disk is full$/);
    expect(describeUnavailability('read-only')).toMatch(/read-only$/);
    expect(describeUnavailability('I/O error')).toMatch(/input\/output errors$/);
    expect(describeUnavailability('cannot open')).toMatch(/cannot be opened$/);
  });
});

describe('SQLite writeProblem()', () => {
  let dir: string | undefined;
  let database: OpenDatabase | undefined;
  afterEach(async () => {
    await database?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reports a write the disk refused until writes work again, found by its own trial write when no request writes', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'grantry-write-problem-'));
    const opened = openDatabase(`sqlite:${path.join(dir, 'test.sqlite')}`);
    database = opened;
    const { db } = opened;
    await sql`create table filler (x blob)`.execute(db);
    expect(opened.writeProblem()).toBeUndefined();

    // A file that may not grow stands for a full disk: SQLite answers SQLITE_FULL.
    const pages = Number((await sql<{ page_count: number }>`pragma page_count`.execute(db)).rows[0]?.page_count);
    await sql.raw(`pragma max_page_count = ${pages + 2}`).execute(db);
    const full = await sql`insert into filler values (zeroblob(100000))`.execute(db).catch((e: unknown) => e);
    expect(unavailabilityOf(full)).toBe('disk full');
    expect(opened.writeProblem()).toBe('the database cannot store anything now: its disk is full');
    // Reads still work; a write that commits clears the problem.
    expect((await sql<{ n: number }>`select count(*) as n from filler`.execute(db)).rows).toEqual([{ n: 0 }]);
    await sql.raw('pragma max_page_count = 1073741823').execute(db);
    await sql`insert into filler values (zeroblob(100000))`.execute(db);
    expect(opened.writeProblem()).toBeUndefined();

    // A connection that may not write stands for a read-only file: the trial writes fail too, so
    // the problem stays; once writes work, a trial write clears it with no request writing.
    await sql.raw('pragma query_only = on').execute(db);
    const readOnly = await sql`insert into filler values (zeroblob(10))`.execute(db).catch((e: unknown) => e);
    expect(unavailabilityOf(readOnly)).toBe('read-only');
    expect(opened.writeProblem()).toBe('the database cannot store anything now: its file or file system is read-only');
    await new Promise((r) => setTimeout(r, 1100));
    expect(opened.writeProblem()).toBe('the database cannot store anything now: its file or file system is read-only');
    await new Promise((r) => setTimeout(r, 50));
    expect(opened.writeProblem()).toBe('the database cannot store anything now: its file or file system is read-only');
    await sql.raw('pragma query_only = off').execute(db);
    const deadline = Date.now() + 5000;
    while (opened.writeProblem() !== undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(opened.writeProblem()).toBeUndefined();
    expect((await sql<{ n: number }>`select count(*) as n from filler`.execute(db)).rows).toEqual([{ n: 1 }]);
  });
});

/**
 * The JSON:API 1.1 schema the API tests validate against must be able to fail: documents that
 * break the format's rules are refused, and the shapes the API answers with are accepted.
 */
import { describe, expect, it } from 'vitest';
import { expectJsonApiDocument, jsonApiProblems } from '../helpers/json-api-schema.js';

const user = { type: 'users', id: '1', attributes: { username: 'ada', admin: true }, links: { self: 'http://grantry.test/admin/api/users/1' } };

describe('JSON:API 1.1 schema', () => {
  it.each([
    ['a single resource', { data: user }],
    ['a page of a collection with pagination links and meta', { data: [user], links: { self: '/u?page%5Bnumber%5D=1', first: '/u', last: '/u', next: null }, meta: { totalCount: 1 } }],
    ['an empty collection', { data: [] }],
    ['null primary data', { data: null }],
    ['errors with a pointer, a parameter and a header', { errors: [{ status: '422', title: 'Invalid', detail: 'x', source: { pointer: '/data/attributes/password' } }, { status: '400', title: 'Bad', detail: 'y', source: { parameter: 'page[size]' } }, { status: '415', title: 'Unsupported', detail: 'z', source: { header: 'Content-Type' } }] }],
    ['meta only', { meta: { note: 'nothing else' } }],
    ['a link object and relationships', { data: { ...user, relationships: { owner: { data: { type: 'users', id: '2' } } } }, links: { self: { href: '/u/1', title: 'me' } }, jsonapi: { version: '1.1' } }],
  ])('accepts %s', (_name, document) => {
    expectJsonApiDocument(document);
  });

  it.each([
    ['data and errors together', { data: user, errors: [{ status: '500', title: 'x' }] }],
    ['a resource without id', { data: { type: 'users', attributes: {} } }],
    ['a numeric id', { data: { ...user, id: 1 } }],
    ['a numeric error status', { errors: [{ status: 422, title: 'Invalid' }] }],
    ['an unknown top-level member', { data: user, total: 3 }],
    ['an attribute named type', { data: { ...user, attributes: { type: 'admin' } } }],
    ['an attribute name with a bad character', { data: { ...user, attributes: { 'user.name': 'x' } } }],
    ['a pointer that is not a JSON pointer', { errors: [{ status: '422', title: 'x', source: { pointer: 'data/attributes/x' } }] }],
    ['an unknown source member', { errors: [{ status: '422', title: 'x', source: { field: 'password' } }] }],
    ['an empty errors array', { errors: [] }],
    ['an unknown top-level link', { data: user, links: { home: '/' } }],
    ['a link that is not a URI reference', { data: user, links: { self: 'http://grantry.test/u?page[number]=1' } }],
    ['included without data', { meta: {}, included: [user] }],
    ['neither data, errors nor meta', { links: { self: '/u' } }],
    ['a document that is not an object', [user]],
  ])('refuses %s', (_name, document) => {
    expect(jsonApiProblems(document)).not.toEqual([]);
    expect(() => expectJsonApiDocument(document)).toThrow(/not a JSON:API 1.1 document/);
  });
});

/**
 * Calling the JSON:API in tests: any method with a JSON:API body, and assertions that an answer
 * is a JSON:API document of the expected status (media type, no-store, valid against the 1.1
 * schema, data or errors as the status says, never a stack trace).
 */
import { expect } from 'vitest';
import { expectJsonApiDocument } from './json-api-schema.js';

export const JSON_API = 'application/vnd.api+json';

export interface ApiCall {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
  text: string;
}

export type ApiResource = { type: string; id: string; attributes: Record<string, unknown>; links: { self: string } };
export type ApiErrorObject = { status: string; code?: string; title: string; detail: string; source?: { pointer?: string; parameter?: string; header?: string } };

/**
 * A request to the API at `baseUrl + path`: a `document` (object, or a string sent as is) goes
 * with the JSON:API media type, unless `headers` say otherwise.
 */
export async function apiCall(baseUrl: string, method: string, path: string, token: string | undefined, document?: unknown, headers: Record<string, string> = {}): Promise<ApiCall> {
  const sent: Record<string, string> = { accept: JSON_API, ...(document !== undefined ? { 'content-type': JSON_API } : {}), ...headers };
  if (token !== undefined) sent.authorization = `Bearer ${token}`;
  const body = document === undefined ? undefined : typeof document === 'string' ? document : JSON.stringify(document);
  const response = await fetch(baseUrl + path, { method, headers: sent, body });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    // Left empty: the assertions on the document fail and show the text.
  }
  return { status: response.status, headers: response.headers, json, text };
}

/** Asserts an answer of `status`: 204 is empty; anything else a valid JSON:API document with data, or one error of that status. */
export function expectApiDocument(call: ApiCall, status: number): void {
  expect({ status: call.status, body: call.json }).toMatchObject({ status });
  if (status === 204) {
    expect(call.text).toBe('');
    return;
  }
  expect(call.headers.get('content-type')).toBe(JSON_API);
  expect(call.headers.get('cache-control')).toBe('no-store');
  expectJsonApiDocument(call.json);
  if (status >= 400) {
    const errors = call.json.errors as ApiErrorObject[];
    expect(errors).toHaveLength(1);
    expect(errors[0]?.status).toBe(String(status));
    expect(errors[0]?.detail.length).toBeGreaterThan(0);
    expect(call.text).not.toMatch(/\bat .+\.(ts|js):\d+/);
  } else {
    expect(call.json).toHaveProperty('data');
    expect(call.json).not.toHaveProperty('errors');
  }
}

/** Asserts a refusal of `status` and returns its error object; `source`, when given, must be the error's. */
export function expectApiError(call: ApiCall, status: number, source?: ApiErrorObject['source']): ApiErrorObject {
  expectApiDocument(call, status);
  const error = (call.json.errors as ApiErrorObject[])[0] as ApiErrorObject;
  if (source) expect(error.source).toEqual(source);
  return error;
}

/** Asserts RFC 6750 §3.1 insufficient_scope: 403, the challenge naming the scope the route needs, and a JSON:API error. */
export function expectInsufficientScope(call: ApiCall, scope: string): void {
  const error = expectApiError(call, 403);
  expect(error.code).toBe('insufficient_scope');
  const challenge = call.headers.get('www-authenticate') ?? '';
  expect(challenge).toMatch(/^Bearer /);
  expect(challenge).toContain('error="insufficient_scope"');
  expect(challenge).toContain(`scope="${scope}"`);
}

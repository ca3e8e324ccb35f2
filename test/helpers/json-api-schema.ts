/**
 * Validation of API responses against the JSON:API 1.1 document schema
 * (json-api-1.1.schema.json), so a test proves a document is JSON:API rather than that it
 * merely has the members it looks for.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { expect } from 'vitest';

// ajv-formats is CommonJS: the default import is its module.exports, which carries the plugin as .default too.
const addFormats = addFormatsModule.default;

const schema = JSON.parse(readFileSync(new URL('./json-api-1.1.schema.json', import.meta.url), 'utf8')) as object;
// allErrors: a failing test shows every problem of the document at once. Strict mode refuses
// unknown keywords (a typo in the schema would otherwise check nothing); required members named
// inside anyOf without their own property schema are how the format says "one of these".
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
addFormats(ajv, ['uri', 'uri-reference', 'json-pointer']);
const validate = ajv.compile(schema);

/** The schema's complaints about `body`, one line each; empty when it is a JSON:API 1.1 document. */
export function jsonApiProblems(body: unknown): string[] {
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
}

/** Asserts that `body` (a parsed response) is a valid JSON:API 1.1 document. */
export function expectJsonApiDocument(body: unknown): void {
  expect(jsonApiProblems(body), `not a JSON:API 1.1 document: ${JSON.stringify(body).slice(0, 500)}`).toEqual([]);
}

import { describe, expect, it } from 'vitest';
import { RepeatedNestedKeyError, withRepeatedKeys } from '../../src/http/json-body.js';

const parse = (text: string) => withRepeatedKeys(text, JSON.parse(text));

describe('repeated keys in JSON bodies', () => {
  it('leaves bodies without a repeated key as JSON.parse reads them', () => {
    for (const text of [
      '{}',
      '[]',
      '"text"',
      '{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}',
      // Braces, quotes, commas and colons inside strings are text.
      '{"a":"{\\"a\\":1,\\"a\\":2}","b":"x,y:z]}","c\\"":1,"c":2}',
      ' { "a" : [ 1 , { "b" : null } ] , "d" : true } ',
    ]) {
      expect(parse(text)).toEqual(JSON.parse(text));
    }
  });

  it('turns a repeated top-level key into the array of its values, in order', () => {
    expect(parse('{"a":1,"b":"x","a":{"c":[1,2]},"a":"three"}')).toEqual({ a: [1, { c: [1, 2] }, 'three'], b: 'x' });
    // The same key once escaped: keys are compared as JSON reads them.
    expect(parse('{"client_id":"x","client\\u005fid":"y"}')).toEqual({ client_id: ['x', 'y'] });
    expect(parse('{ "a" : "1" ,\n "a" : "2" }')).toEqual({ a: ['1', '2'] });
    expect(parse('{"constructor":1,"constructor":2}')).toEqual({ constructor: [1, 2] });
  });

  it('refuses a key repeated inside a nested object, at any depth', () => {
    for (const text of ['{"o":{"k":1,"k":2}}', '[{"k":1,"k":2}]', '{"a":[1,{"b":{"c":{"d":1,"d":1}}}]}', '{"o":{"k\\u0041":1,"kA":2}}']) {
      expect(() => parse(text)).toThrow(RepeatedNestedKeyError);
    }
  });
});

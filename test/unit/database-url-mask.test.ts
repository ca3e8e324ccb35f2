import { describe, expect, it } from 'vitest';
import { withoutPassword } from '../../src/storage/database-url.js';

describe('withoutPassword (grantry config, database messages)', () => {
  it.each([
    ['postgres://grantry:s3cret@db/grantry', 'postgres://grantry:****@db/grantry'],
    ['postgres://u@db/x?password=s3cret', 'postgres://u@db/x?password=****'],
    ['postgres://u@db/x?PASSWORD=s3cret&sslmode=require', 'postgres://u@db/x?PASSWORD=****&sslmode=require'],
    ['postgres://u@db/x?sslmode=require&sslpassword=s3cret&application_name=a+b', 'postgres://u@db/x?sslmode=require&sslpassword=****&application_name=a+b'],
    ['postgres://u@db/x?pass%77ord=s3cret', 'postgres://u@db/x?pass%77ord=****'],
    // Not parsed by URL (a port that is not a number): masked by pattern all the same.
    ['postgres://u:s3cret@db:port/x?password=s3cret', 'postgres://u:****@db:port/x?password=****'],
  ])('%s → %s', (url, masked) => {
    expect(withoutPassword(url)).toBe(masked);
  });

  it.each(['postgres://u@db/x', 'postgres://u@db/x?sslmode=require', 'sqlite:var/grantry.sqlite'])('%s is left as it is', (url) => {
    expect(withoutPassword(url)).toBe(url);
  });
});

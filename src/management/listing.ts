/** The paging and search input every management list takes (clients, users, the audit trail), checked once. */
import { textProblem } from '../security/input.js';
import { ManagementError } from './errors.js';

/** Page numbers from 1, sizes from 1 to 1000: anything else is a plain input error. */
export function checkedPage(page: number, size: number): { page: number; size: number } {
  if (!Number.isSafeInteger(page) || page < 1 || page > 1_000_000) throw new ManagementError('the page must be a whole number from 1 to 1000000');
  if (!Number.isSafeInteger(size) || size < 1 || size > 1000) throw new ManagementError('the page size must be a whole number from 1 to 1000');
  return { page, size };
}

/** A search text as given (undefined when there is none); too long or with control characters is an input error. */
export function checkedSearch(search: string | undefined): string | undefined {
  if (search !== undefined && (search.length > 255 || textProblem(search))) throw new ManagementError('the search text must have at most 255 characters and no control characters');
  return search;
}

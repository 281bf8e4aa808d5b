import { describe } from '../validate.js';

/** A schedule id: a non-empty string of at most 200 characters. */
export function checkScheduleId(id: unknown): string {
  if (typeof id !== 'string' || id === '' || id.length > 200)
    throw new TypeError(`Expected id to be a non-empty string of at most 200 characters, got ${describe(id)}`);
  return id;
}

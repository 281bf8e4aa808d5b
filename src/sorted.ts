/** The last index of `list` (ascending by `key`) whose key is `x` or less; 0 when none is. */
export function lastAtOrBefore<T>(list: readonly T[], key: (item: T) => number, x: number): number {
  let lo = 0;
  let hi = list.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (key(list[mid] as T) <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

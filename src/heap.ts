/**
 * A binary min-heap as plain functions over an array, after React's SchedulerMinHeap.
 * `less(a, b)` must be a strict total order: callers break ties by an enqueue sequence so that
 * equal keys pop in insertion order. push/pop are O(log n), peek is O(1).
 */
export type Less<T> = (a: T, b: T) => boolean;

export function heapPush<T>(heap: T[], node: T, less: Less<T>): void {
  let index = heap.length;
  heap.push(node);
  while (index > 0) {
    const parentIndex = (index - 1) >>> 1;
    const parent = heap[parentIndex] as T;
    if (!less(node, parent)) break;
    heap[parentIndex] = node;
    heap[index] = parent;
    index = parentIndex;
  }
}

export function heapPeek<T>(heap: readonly T[]): T | undefined {
  return heap[0];
}

export function heapPop<T>(heap: T[], less: Less<T>): T | undefined {
  if (heap.length === 0) return undefined;
  const first = heap[0] as T;
  const last = heap.pop() as T;
  if (last === first) return first;
  heap[0] = last;
  const length = heap.length;
  const halfLength = length >>> 1;
  let index = 0;
  while (index < halfLength) {
    const leftIndex = 2 * index + 1;
    const rightIndex = leftIndex + 1;
    const left = heap[leftIndex] as T;
    const right = heap[rightIndex];
    if (less(left, last)) {
      if (right !== undefined && rightIndex < length && less(right, left)) {
        heap[index] = right;
        heap[rightIndex] = last;
        index = rightIndex;
      } else {
        heap[index] = left;
        heap[leftIndex] = last;
        index = leftIndex;
      }
    } else if (right !== undefined && rightIndex < length && less(right, last)) {
      heap[index] = right;
      heap[rightIndex] = last;
      index = rightIndex;
    } else {
      break;
    }
  }
  return first;
}

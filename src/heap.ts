/**
 * A binary min-heap as plain functions over an array, after React's SchedulerMinHeap.
 * `less(a, b)` must be a strict total order: callers break ties by an enqueue sequence so that
 * equal keys pop in insertion order. push/pop are O(log n), peek is O(1).
 */
export type Less<T> = (a: T, b: T) => boolean;

export function heapPush<T>(heap: T[], node: T, less: Less<T>): void {
  heap.push(node);
  siftUp(heap, heap.length - 1, less);
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
  siftDown(heap, 0, less);
  return first;
}

/** Restores the heap after the root's key grew (the root moved later in order): O(log n). */
export function heapRootChanged<T>(heap: T[], less: Less<T>): void {
  if (heap.length > 1) siftDown(heap, 0, less);
}

/**
 * Restores the heap after nodes were appended to its end from index `from` on: in O(k log n) by
 * sifting each up or in O(n) by rebuilding the whole heap, whichever bound is lower. The pop order
 * is the same either way (`less` is total).
 */
export function heapRestoreFrom<T>(heap: T[], from: number, less: Less<T>): void {
  const n = heap.length;
  const k = n - from;
  if (k <= 0) return;
  if (k * Math.log2(n) < 2 * n) for (let i = from; i < n; i++) siftUp(heap, i, less);
  else heapify(heap, less);
}

/** Restores the heap property over a whole array in O(n) (bottom-up, Floyd). */
export function heapify<T>(heap: T[], less: Less<T>): void {
  for (let i = (heap.length >>> 1) - 1; i >= 0; i--) siftDown(heap, i, less);
}

function siftDown<T>(heap: T[], start: number, less: Less<T>): void {
  const node = heap[start] as T;
  const length = heap.length;
  const halfLength = length >>> 1;
  let index = start;
  while (index < halfLength) {
    const leftIndex = 2 * index + 1;
    const rightIndex = leftIndex + 1;
    const left = heap[leftIndex] as T;
    const right = heap[rightIndex];
    if (less(left, node)) {
      if (right !== undefined && rightIndex < length && less(right, left)) {
        heap[index] = right;
        heap[rightIndex] = node;
        index = rightIndex;
      } else {
        heap[index] = left;
        heap[leftIndex] = node;
        index = leftIndex;
      }
    } else if (right !== undefined && rightIndex < length && less(right, node)) {
      heap[index] = right;
      heap[rightIndex] = node;
      index = rightIndex;
    } else {
      break;
    }
  }
}

function siftUp<T>(heap: T[], start: number, less: Less<T>): void {
  const node = heap[start] as T;
  let index = start;
  while (index > 0) {
    const parentIndex = (index - 1) >>> 1;
    const parent = heap[parentIndex] as T;
    if (!less(node, parent)) break;
    heap[parentIndex] = node;
    heap[index] = parent;
    index = parentIndex;
  }
}

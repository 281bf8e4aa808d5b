// The dispatch floor: a plain worker answering each message (one task, or an array of tasks) at once.
interface RawTask {
  id: number;
  name: string;
  input: unknown;
}

const scope = self as unknown as { postMessage(message: unknown): void; onmessage: ((event: MessageEvent) => void) | null };

scope.onmessage = (event: MessageEvent<RawTask | RawTask[]>) => {
  const data = event.data;
  if (Array.isArray(data)) {
    const out = new Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = { id: (data[i] as RawTask).id, ok: true, value: null };
    scope.postMessage(out);
  } else {
    scope.postMessage({ id: data.id, ok: true, value: null });
  }
};

// The same no-op as a workerpool web worker.
import workerpool from 'workerpool';

workerpool.worker({
  noop(): null {
    return null;
  },
});

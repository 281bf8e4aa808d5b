// The same no-op behind a bare Comlink.expose: the raw Comlink peer.
import { expose } from 'comlink';

const api = {
  noop(_input: null): null {
    return null;
  },
  /** Resolves once the module has loaded: used to time a worker spawn. */
  ready(): boolean {
    return true;
  },
};

export type ComlinkApi = typeof api;

expose(api);

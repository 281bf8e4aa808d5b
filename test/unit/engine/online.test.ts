import { describe, expect, test } from 'vitest';
import { OFFLINE_RECHECK_MS, OnlineGate } from '../../../src/engine/online.js';
import type { IndexEntry } from '../../../src/index-entry.js';

function setup() {
  const state = { online: true, listeners: 0, ready: [] as string[][] };
  let fire: (() => void) | undefined;
  const gate = new OnlineGate({
    isOnline: () => state.online,
    onOnline: (listener) => {
      state.listeners++;
      fire = listener;
      return () => {
        state.listeners--;
        fire = undefined;
      };
    },
    readyNow: (ids) => state.ready.push([...ids]),
  });
  const entry = (id: string): IndexEntry => ({ id, name: 'n', priority: 2, readyAt: 0, seq: 0 });
  return { gate, state, entry, goOnline: () => fire?.() };
}

describe('OnlineGate', () => {
  test('lets every task through while online, and tasks it was not told about always', () => {
    const { gate, state, entry } = setup();
    gate.note('a');
    expect(gate.notBefore(entry('a'), 100)).toBe(100);
    state.online = false;
    expect(gate.notBefore(entry('b'), 100)).toBe(100);
  });

  test('holds an online-only task back while offline and lets it go on the online event', () => {
    const { gate, state, entry, goOnline } = setup();
    gate.note('a');
    gate.note('b');
    state.online = false;
    expect(gate.notBefore(entry('a'), 100)).toBe(100 + OFFLINE_RECHECK_MS);
    expect(gate.notBefore(entry('b'), 100)).toBe(100 + OFFLINE_RECHECK_MS);
    state.online = true;
    goOnline();
    expect(state.ready).toEqual([['a', 'b']]);
    goOnline();
    expect(state.ready).toHaveLength(1);
  });

  test('listens for online only while some task needs it; a finished task is forgotten', () => {
    const { gate, state, entry } = setup();
    expect(state.listeners).toBe(0);
    gate.note('a');
    gate.note('b');
    expect(state.listeners).toBe(1);
    gate.finished('a');
    expect(gate.size).toBe(1);
    state.online = false;
    expect(gate.notBefore(entry('a'), 5)).toBe(5);
    gate.finished('b');
    gate.finished('never-noted');
    expect(gate.size).toBe(0);
    expect(state.listeners).toBe(0);
  });
});

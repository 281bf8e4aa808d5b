/**
 * The cases of issue 5, in the order they run. Each returns one or more rows; every number in a row
 * was measured in this page, in this run, runs of ours interleaved with runs of the baseline so drift
 * hits both.
 */
import { case13 } from './close-case.js';
import { case11 } from './deps-case.js';
import { case3, case4 } from './enqueue-case.js';
import type { BenchCase, BenchContext } from './harness.js';
import { case5, case6, case7 } from './latency-case.js';
import { case15 } from './limits-case.js';
import { case12 } from './panel-case.js';
import { case14 } from './reopen-case.js';
import { case8 } from './scaling-case.js';
import { case9 } from './tabs-case.js';
import { case1, case2 } from './throughput-case.js';

export const cases: BenchCase[] = [case1, case2, case3, case4, case5, case6, case7, case8, case9, case11, case12, case13, case14, case15];
export type { BenchCase, BenchContext };

import { expect, test } from 'vitest';
import { IdMinter, mintedId, mintedPosition } from '../../src/id-run.js';

test('IdMinter mints exactly what mintedId does, across digit boundaries and from any start', () => {
  for (const first of [0, 1, 35, 36, 36 * 36 - 3, 36 ** 3 - 40, 2 ** 31 - 7, Number.MAX_SAFE_INTEGER - 100]) {
    const minted = { prefix: 'p-', first };
    const minter = new IdMinter(minted.prefix, first);
    for (let i = 0; i < 90; i++) {
      const id = minter.next();
      expect(id).toBe(mintedId(minted, i));
      if (first < 2 ** 40) expect(mintedPosition(minted, 90, id)).toBe(i);
    }
  }
});

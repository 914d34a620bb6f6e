import seedrandom from "seedrandom";

export type Rng = () => number;

/** A seeded generator (Alea): the same seed gives the same stream on every platform. */
export const rng = (seed: string): Rng => seedrandom.alea(seed);

/** Standard normal by Box–Muller. */
export function normal(r: Rng): number {
  let u = 0;
  while (u === 0) u = r();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

/** Fisher–Yates in place. */
export function shuffle<T>(items: T[], r: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

//! The estimated load of every tile, per zoom, that says from which zoom a layer fits the tile
//! budget; kept up to date row by row.
//!
//! Each row weighs an estimate of its encoded size (integer bytes: a few per vertex and per
//! property) in the tile of its anchor. A zoom fits when no tile weighs more than the budget.
//! Tiles nest, so a tile never weighs more than its parent and a zoom that fits is followed by
//! zooms that fit: the first fitting zoom is found by bisection, and only the zooms up to it
//! are kept (persistent maps, `imbl`, so a copy for the next preparation costs nothing). A
//! change adds and subtracts integers, so the counts are exactly those a rebuild finds.

use std::collections::HashMap;

use super::MAX_ZOOM;

/// One kept zoom: the weight of every non-empty tile and how many are over the budget.
#[derive(Debug, Clone, Default)]
struct ZoomLoad {
    tiles: imbl::HashMap<(u32, u32), u64>,
    over: usize,
}

/// Tile weights for zooms `0..=first fitting zoom` (or every zoom when none fits).
#[derive(Debug, Clone, Default)]
pub struct TileLoad {
    zooms: Vec<ZoomLoad>,
    budget: u64,
}

/// A row's weight at its anchor.
pub type Weight = ([f64; 2], u64);

/// Every row's weight: calls its argument once per row.
pub type Rows<'a> = &'a dyn Fn(&mut dyn FnMut(Weight));

fn tile_of(a: [f64; 2], z: u8) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    ((a[0] * n) as u32, (a[1] * n) as u32)
}

/// Whether no tile of zoom `z` weighs over `budget` (one pass, nothing kept).
fn fits(rows: Rows<'_>, z: u8, budget: u64) -> bool {
    let mut per_tile: HashMap<(u32, u32), u64> = HashMap::new();
    let mut ok = true;
    rows(&mut |(a, w)| {
        let t = per_tile.entry(tile_of(a, z)).or_insert(0);
        *t += w;
        ok &= *t <= budget;
    });
    ok
}

fn zoom_load(rows: Rows<'_>, z: u8, budget: u64) -> ZoomLoad {
    let mut per_tile: HashMap<(u32, u32), u64> = HashMap::new();
    rows(&mut |(a, w)| *per_tile.entry(tile_of(a, z)).or_insert(0) += w);
    let over = per_tile.values().filter(|w| **w > budget).count();
    ZoomLoad {
        tiles: per_tile.into_iter().collect(),
        over,
    }
}

impl TileLoad {
    /// From every row: `rows` calls its argument once per row.
    pub fn build(rows: Rows<'_>, budget: u64) -> TileLoad {
        // Bisection for the first fitting zoom (fitting is monotone in the zoom).
        let (mut lo, mut hi) = (0u8, MAX_ZOOM);
        if fits(rows, 0, budget) {
            hi = 0;
        } else {
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if fits(rows, mid, budget) {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
        }
        // The deepest kept zoom from the rows, the others by summing children into parents.
        let mut zooms = vec![zoom_load(rows, hi, budget)];
        for _ in 0..hi {
            let Some(child) = zooms.last() else { break };
            let mut per_tile: HashMap<(u32, u32), u64> = HashMap::new();
            for ((x, y), w) in child.tiles.iter() {
                *per_tile.entry((x >> 1, y >> 1)).or_insert(0) += w;
            }
            let over = per_tile.values().filter(|w| **w > budget).count();
            zooms.push(ZoomLoad {
                tiles: per_tile.into_iter().collect(),
                over,
            });
        }
        zooms.reverse();
        TileLoad { zooms, budget }
    }

    /// The first zoom at which no tile is over the budget; `None` if no zoom up to
    /// `MAX_ZOOM` is.
    pub fn first_fit(&self) -> Option<u8> {
        let z = self.zooms.iter().position(|l| l.over == 0)?;
        u8::try_from(z).ok()
    }

    fn shift(&mut self, (a, w): Weight, add: bool) {
        let budget = self.budget;
        for (z, level) in self.zooms.iter_mut().enumerate() {
            let t = tile_of(a, z as u8);
            let before = level.tiles.get(&t).copied().unwrap_or(0);
            let after = if add {
                before + w
            } else {
                before.saturating_sub(w)
            };
            match (before > budget, after > budget) {
                (false, true) => level.over += 1,
                (true, false) => level.over -= 1,
                _ => {}
            }
            if after == 0 {
                level.tiles.remove(&t);
            } else {
                level.tiles.insert(t, after);
            }
        }
    }

    /// Takes `removed` out, puts `added` in, and keeps exactly the zooms up to the first that
    /// fits (deeper zooms are computed from `rows`, the new rows, when the kept ones no longer
    /// fit: rare, one pass each).
    pub fn update(&mut self, removed: &[Weight], added: &[Weight], rows: Rows<'_>) {
        for w in removed {
            self.shift(*w, false);
        }
        for w in added {
            self.shift(*w, true);
        }
        if let Some(z) = self.first_fit() {
            self.zooms.truncate(usize::from(z) + 1);
            return;
        }
        while self.zooms.len() <= usize::from(MAX_ZOOM) {
            let z = self.zooms.len() as u8;
            let level = zoom_load(rows, z, self.budget);
            let done = level.over == 0;
            self.zooms.push(level);
            if done {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_match_a_rebuild() {
        let mut rows: Vec<Weight> = (0..200)
            .map(|i| ([0.3 + f64::from(i) * 1e-6, 0.4], 100))
            .collect();
        let all = |rows: &Vec<Weight>| {
            let rows = rows.clone();
            move |f: &mut dyn FnMut(Weight)| rows.iter().for_each(|r| f(*r))
        };
        let mut load = TileLoad::build(&all(&rows), 5_000);
        let fresh = TileLoad::build(&all(&rows), 5_000);
        assert_eq!(load.first_fit(), fresh.first_fit());
        // Spread rows out (the fit gets earlier), then pile them up again (later).
        for i in 0..150 {
            let old = rows[i];
            rows[i] = ([f64::from(i as u32) / 150.0, 0.9], 100);
            load.update(&[old], &[rows[i]], &all(&rows));
            assert_eq!(
                load.first_fit(),
                TileLoad::build(&all(&rows), 5_000).first_fit()
            );
        }
        for i in 0..150 {
            let old = rows[i];
            rows[i] = ([0.3, 0.4], 100);
            load.update(&[old], &[rows[i]], &all(&rows));
            assert_eq!(
                load.first_fit(),
                TileLoad::build(&all(&rows), 5_000).first_fit()
            );
        }
    }
}

//! A spatial index whose copies share structure: a few hundred small R-trees (rstar), each
//! behind an `Arc`, cut along the Hilbert curve when bulk-loaded so that each covers a compact
//! area. Cloning a forest copies one pointer per tree; inserting or removing an entry copies
//! only the one small tree it touches (`Arc::make_mut`). A query first skips every tree whose
//! root envelope misses, then runs rstar's own query on the rest.
//!
//! Why not one `rstar::RTree`: it has no structural sharing, so the copy a new snapshot needs
//! costs the whole tree (tens of milliseconds for a million entries) on every write. rstar
//! stays the index inside each tree; only the top level (a list of trees) is written here.

use std::sync::Arc;

use rstar::{AABB, Envelope, PointDistance, RTree, RTreeObject};

use crate::geo_util::hilbert_d;

/// Entries per tree when bulk-loading; a tree that grows past twice this is split in two.
pub const TREE_ENTRIES: usize = 4096;

/// An R-tree forest of entries with 2-D envelopes.
#[derive(Debug)]
pub struct Forest<T: RTreeObject<Envelope = AABB<[f64; 2]>>> {
    trees: Vec<Arc<RTree<T>>>,
    size: usize,
}

impl<T: RTreeObject<Envelope = AABB<[f64; 2]>>> Clone for Forest<T> {
    fn clone(&self) -> Self {
        Forest {
            trees: self.trees.clone(),
            size: self.size,
        }
    }
}

impl<T: RTreeObject<Envelope = AABB<[f64; 2]>>> Default for Forest<T> {
    fn default() -> Self {
        Forest {
            trees: Vec::new(),
            size: 0,
        }
    }
}

/// Centre of an envelope on a 2^16 grid over `world`, for Hilbert ordering.
fn hilbert_key(e: &AABB<[f64; 2]>, world: &AABB<[f64; 2]>) -> u64 {
    let (lo, hi) = (world.lower(), world.upper());
    let c = e.center();
    let cell = |v: f64, a: f64, b: f64| {
        let t = if b > a { (v - a) / (b - a) } else { 0.0 };
        (t.clamp(0.0, 1.0) * 65_535.0) as u32
    };
    hilbert_d(cell(c[0], lo[0], hi[0]), cell(c[1], lo[1], hi[1]))
}

fn enlargement(tree: &AABB<[f64; 2]>, e: &AABB<[f64; 2]>) -> f64 {
    tree.merged(e).area() - tree.area()
}

impl<T: RTreeObject<Envelope = AABB<[f64; 2]>> + Clone + PartialEq> Forest<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bulk-loads: entries sorted along the Hilbert curve of their centres, cut into trees of
    /// [`TREE_ENTRIES`].
    pub fn bulk_load(entries: Vec<T>) -> Self {
        let size = entries.len();
        let trees = Self::cut(entries, TREE_ENTRIES);
        Forest { trees, size }
    }

    fn cut(mut entries: Vec<T>, per_tree: usize) -> Vec<Arc<RTree<T>>> {
        if entries.is_empty() {
            return Vec::new();
        }
        let world = entries
            .iter()
            .fold(AABB::new_empty(), |acc: AABB<[f64; 2]>, e| {
                acc.merged(&e.envelope())
            });
        entries.sort_by_cached_key(|e| hilbert_key(&e.envelope(), &world));
        let mut trees = Vec::with_capacity(entries.len().div_ceil(per_tree));
        while !entries.is_empty() {
            let rest = entries.split_off(per_tree.min(entries.len()));
            trees.push(Arc::new(RTree::bulk_load(std::mem::replace(
                &mut entries,
                rest,
            ))));
        }
        trees
    }

    /// Number of entries.
    pub fn size(&self) -> usize {
        self.size
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// The trees, for traversals of their own (a best-first kNN pushes every root).
    pub fn trees(&self) -> impl Iterator<Item = &RTree<T>> + '_ {
        self.trees.iter().map(|t| t.as_ref())
    }

    /// Envelope of every entry (empty when there is none).
    pub fn envelope(&self) -> AABB<[f64; 2]> {
        self.trees
            .iter()
            .fold(AABB::new_empty(), |acc, t| acc.merged(&t.root().envelope()))
    }

    /// Adds an entry to the tree it enlarges least (an empty forest gets a first tree); a tree
    /// past twice [`TREE_ENTRIES`] is split along the Hilbert curve.
    pub fn insert(&mut self, t: T) {
        self.size += 1;
        let env = t.envelope();
        let best = self
            .trees
            .iter()
            .enumerate()
            .map(|(i, tree)| (i, enlargement(&tree.root().envelope(), &env), tree.size()))
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.2.cmp(&b.2)))
            .map(|(i, _, _)| i);
        let Some(i) = best else {
            self.trees.push(Arc::new(RTree::bulk_load(vec![t])));
            return;
        };
        Arc::make_mut(&mut self.trees[i]).insert(t);
        if self.trees[i].size() > 2 * TREE_ENTRIES {
            let full = self.trees.swap_remove(i);
            let entries: Vec<T> = full.iter().cloned().collect();
            self.trees.extend(Self::cut(entries, TREE_ENTRIES));
        }
    }

    /// Removes one entry equal to `t`; whether there was one. Only trees whose envelope
    /// contains `t`'s are looked at, and only the one holding it is copied.
    pub fn remove(&mut self, t: &T) -> bool {
        let env = t.envelope();
        let Some(i) = self
            .trees
            .iter()
            .position(|tree| tree.root().envelope().contains_envelope(&env) && tree.contains(t))
        else {
            return false;
        };
        Arc::make_mut(&mut self.trees[i]).remove(t);
        self.size -= 1;
        if self.trees[i].size() == 0 {
            self.trees.swap_remove(i);
        }
        true
    }

    /// Entries whose envelope intersects `aabb`.
    pub fn locate_in_envelope_intersecting<'a>(
        &'a self,
        aabb: &'a AABB<[f64; 2]>,
    ) -> impl Iterator<Item = &'a T> + 'a {
        self.trees
            .iter()
            .filter(move |t| t.root().envelope().intersects(aabb))
            .flat_map(move |t| t.locate_in_envelope_intersecting(aabb))
    }

    /// Entries whose envelope lies inside `aabb`.
    pub fn locate_in_envelope<'a>(
        &'a self,
        aabb: &'a AABB<[f64; 2]>,
    ) -> impl Iterator<Item = &'a T> + 'a {
        self.trees
            .iter()
            .filter(move |t| t.root().envelope().intersects(aabb))
            .flat_map(move |t| t.locate_in_envelope(aabb))
    }

    /// Every entry, tree by tree.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.trees.iter().flat_map(|t| t.iter())
    }
}

impl<T> Forest<T>
where
    T: RTreeObject<Envelope = AABB<[f64; 2]>> + PointDistance + Clone + PartialEq,
{
    /// The entry nearest to `p` (by rstar's `distance_2`), over every tree whose envelope
    /// could hold something nearer than the best so far.
    pub fn nearest_neighbor(&self, p: &[f64; 2]) -> Option<&T> {
        let mut order: Vec<(f64, &RTree<T>)> = self
            .trees
            .iter()
            .map(|t| (t.root().envelope().distance_2(p), t.as_ref()))
            .collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut best: Option<(f64, &T)> = None;
        for (lower, tree) in order {
            if best.is_some_and(|(d, _)| lower > d) {
                break;
            }
            if let Some(e) = tree.nearest_neighbor(p) {
                let d = e.distance_2(p);
                if best.is_none_or(|(b, _)| d < b) {
                    best = Some((d, e));
                }
            }
        }
        best.map(|(_, e)| e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstar::primitives::{GeomWithData, Rectangle};

    type E = GeomWithData<Rectangle<[f64; 2]>, u32>;

    fn entry(x: f64, y: f64, w: f64, id: u32) -> E {
        E::new(Rectangle::from_corners([x, y], [x + w, y + w]), id)
    }

    fn sorted(v: impl Iterator<Item = u32>) -> Vec<u32> {
        let mut v: Vec<u32> = v.collect();
        v.sort_unstable();
        v
    }

    /// Against a brute-force scan of the same entries (the oracle), through inserts, removes
    /// and the splits they cause; a copy made before the changes keeps its answers.
    #[test]
    fn answers_as_a_scan_through_changes_and_copies_stay_put() {
        let mut seed = 3u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % 10_000) as f64 / 100.0
        };
        let mut all: Vec<E> = (0..20_000)
            .map(|i| entry(rnd(), rnd(), rnd() / 50.0, i))
            .collect();
        let mut forest = Forest::bulk_load(all.clone());
        let before = forest.clone();
        let before_all = all.clone();
        for i in 0..12_000u32 {
            if i % 3 == 0 {
                let k = (rnd() * 100.0) as usize % all.len();
                let gone = all.swap_remove(k);
                assert!(forest.remove(&gone));
                assert!(!forest.remove(&gone) || all.contains(&gone));
            } else {
                // Crowd one corner so that trees split.
                let e = entry(rnd() / 10.0, rnd() / 10.0, 0.01, 100_000 + i);
                all.push(e);
                forest.insert(e);
            }
        }
        assert_eq!(forest.size(), all.len());
        let boxes = [
            [10.0, 10.0, 30.0, 20.0],
            [0.0, 0.0, 5.0, 5.0],
            [90.0, 0.0, 100.0, 100.0],
        ];
        for [a, b, c, d] in boxes {
            let q = AABB::from_corners([a, b], [c, d]);
            for (f, set) in [(&forest, &all), (&before, &before_all)] {
                let got = sorted(f.locate_in_envelope_intersecting(&q).map(|e| e.data));
                let want = sorted(
                    set.iter()
                        .filter(|e| e.envelope().intersects(&q))
                        .map(|e| e.data),
                );
                assert_eq!(got, want);
                let inside = sorted(f.locate_in_envelope(&q).map(|e| e.data));
                let want = sorted(
                    set.iter()
                        .filter(|e| q.contains_envelope(&e.envelope()))
                        .map(|e| e.data),
                );
                assert_eq!(inside, want);
            }
        }
        for p in [[1.0, 1.0], [55.5, 44.4], [99.0, 0.0]] {
            let got = forest.nearest_neighbor(&p).map(|e| e.distance_2(&p));
            let want = all
                .iter()
                .map(|e| e.distance_2(&p))
                .min_by(|a, b| a.total_cmp(b));
            assert_eq!(got, want);
        }
        assert_eq!(
            sorted(forest.iter().map(|e| e.data)),
            sorted(all.iter().map(|e| e.data))
        );
    }
}

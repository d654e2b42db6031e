//! Grid clustering of point-like features, one level per generalised zoom, built bottom-up
//! and updated in place when rows change.
//!
//! At zoom z the world is cut into `2^z × cells_per_tile` cells per side; a cell's features
//! become one cluster that carries how many they are and, per class (material, status), their
//! count and summed measure (quantity, area). Cells nest exactly from one zoom to the next, so
//! level z is the merge of level z+1's cells plus the polygons that became smaller than a pixel
//! at z. Cells depend on nothing but the data, so a cluster is the same in every tile that
//! shows it.
//!
//! A cell's aggregate is the fold of its children's aggregates (ascending key) and then of
//! its own newcomers (ascending row): the same arithmetic whether the level is built from
//! scratch or one cell is recomputed after a change, so both give the same bits. Cells live
//! in a persistent map keyed by cell key (`imbl`) and their positions in an `index::Forest`,
//! so a change copies the few cells and small trees it touches, not the level.

use std::collections::BTreeMap;
use std::sync::Arc;

use rstar::primitives::GeomWithData;

use crate::index::{Column, Forest, LayerData, VisibleFilter};

/// Which field classifies members and which is summed, for one layer.
#[derive(Debug, Clone, Copy)]
pub struct ClusterSpec {
    /// Enum field whose variants are the classes (material, status).
    pub class_field: usize,
    pub classes: &'static [&'static str],
    /// Numeric field summed per class (quantity, area_ha, floor_area_m2).
    pub measure_field: usize,
    pub measure_name: &'static str,
    /// Whether a total over all classes means something (not for quantities in t, m3, MWh).
    pub sum_total: bool,
}

/// Count and summed measure of the members of one class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassSum {
    /// Index of the class among `ClusterSpec::classes`; `u8::MAX` for members without one.
    pub class: u8,
    pub count: u32,
    pub sum: f64,
}

/// What a cluster carries.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Aggregate {
    pub count: u32,
    /// Sorted by class.
    pub classes: Vec<ClassSum>,
    /// Sum of the members' world positions (the cluster sits at their mean).
    pub pos_sum: [f64; 2],
}

impl Aggregate {
    pub fn add(&mut self, class: u8, measure: f64, pos: [f64; 2]) {
        self.count += 1;
        self.pos_sum[0] += pos[0];
        self.pos_sum[1] += pos[1];
        match self.classes.binary_search_by_key(&class, |c| c.class) {
            Ok(i) => {
                self.classes[i].count += 1;
                self.classes[i].sum += measure;
            }
            Err(i) => self.classes.insert(
                i,
                ClassSum {
                    class,
                    count: 1,
                    sum: measure,
                },
            ),
        }
    }

    /// Adds the members an aggregate stands for.
    pub fn merge(&mut self, o: &Aggregate) {
        self.count += o.count;
        self.pos_sum[0] += o.pos_sum[0];
        self.pos_sum[1] += o.pos_sum[1];
        for c in &o.classes {
            match self.classes.binary_search_by_key(&c.class, |m| m.class) {
                Ok(i) => {
                    self.classes[i].count += c.count;
                    self.classes[i].sum += c.sum;
                }
                Err(i) => self.classes.insert(i, *c),
            }
        }
    }

    /// Mean position of the members.
    pub fn position(&self) -> [f64; 2] {
        let n = f64::from(self.count.max(1));
        [self.pos_sum[0] / n, self.pos_sum[1] / n]
    }

    /// The class with the most members (ties: the lowest index).
    pub fn dominant(&self) -> Option<u8> {
        self.classes
            .iter()
            .max_by(|a, b| a.count.cmp(&b.count).then(b.class.cmp(&a.class)))
            .map(|c| c.class)
    }

    /// Sum of the measure over all classes.
    pub fn total(&self) -> f64 {
        self.classes.iter().map(|c| c.sum).sum()
    }
}

/// One cell of one level.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Cell key: column << 32 | row of the cell grid at its level.
    pub key: u64,
    /// Rows of the members, ascending.
    pub members: Vec<u32>,
    /// The members that join at this level (not in a child cell), ascending.
    pub newcomers: Vec<u32>,
    /// Aggregate of every member.
    pub all: Aggregate,
    /// When some members are hidden from public readers (confidential deposits): the
    /// aggregate of the others and, if there is exactly one, its row. `None`: nothing hidden,
    /// public readers see `all`.
    pub public: Option<Box<(Aggregate, Option<u32>)>>,
}

impl Cell {
    /// What a reader sees of the cell: the aggregate, and the row when it stands for one
    /// feature.
    pub fn view(&self, public: bool) -> (&Aggregate, Option<u32>) {
        match (&self.public, public) {
            (Some(p), true) => (&p.0, p.1),
            _ => (
                &self.all,
                match self.members.as_slice() {
                    [row] => Some(*row),
                    _ => None,
                },
            ),
        }
    }
}

/// A cluster position in a level's tree; payload = cell key.
pub type CellEntry = GeomWithData<[f64; 2], u64>;

/// The cells of one zoom.
#[derive(Debug, Clone, Default)]
pub struct ClusterLevel {
    /// Cells by key.
    pub cells: imbl::HashMap<u64, Arc<Cell>>,
    /// Cluster positions (mean of all members), payload = cell key.
    pub tree: Forest<CellEntry>,
    /// Width of a cell in world units.
    pub cell_size: f64,
    /// Cells per side of the world.
    side: f64,
    /// Cells whose aggregate counts more than one member, for every reader and for public
    /// readers (completeness needs no scan of the cells).
    multi: [usize; 2],
}

impl ClusterLevel {
    fn empty(side: f64) -> ClusterLevel {
        ClusterLevel {
            cell_size: 1.0 / side,
            side,
            ..ClusterLevel::default()
        }
    }

    /// The key of the cell holding world position `p`.
    pub fn key_of(&self, p: [f64; 2]) -> u64 {
        let n = self.side;
        let cx = (p[0] * n).floor().clamp(0.0, n - 1.0) as u64;
        let cy = (p[1] * n).floor().clamp(0.0, n - 1.0) as u64;
        cx << 32 | cy
    }

    /// Whether some cell, as `public` readers see it or not, merges two or more features.
    pub fn has_multi(&self, public: bool) -> bool {
        self.multi[usize::from(public)] > 0
    }

    fn count(&mut self, cell: &Cell, sign: bool) {
        for (i, public) in [false, true].into_iter().enumerate() {
            if cell.view(public).0.count > 1 {
                if sign {
                    self.multi[i] += 1;
                } else {
                    self.multi[i] -= 1;
                }
            }
        }
    }

    /// Takes a cell out (map, tree, counts).
    fn take(&mut self, key: u64) -> Option<Arc<Cell>> {
        let old = self.cells.remove(&key)?;
        let removed = self
            .tree
            .remove(&GeomWithData::new(old.all.position(), key));
        debug_assert!(removed, "a cell's position is in its level's tree");
        self.count(&old, false);
        Some(old)
    }

    /// Puts a cell in (map, tree, counts).
    fn put(&mut self, cell: Cell) {
        self.count(&cell, true);
        self.tree
            .insert(GeomWithData::new(cell.all.position(), cell.key));
        self.cells.insert(cell.key, Arc::new(cell));
    }

    /// The existing children of a cell of the level above (ascending key).
    fn children_of(&self, parent: u64) -> Vec<&Cell> {
        let (cx, cy) = (parent >> 32 << 1, (parent & 0xffff_ffff) << 1);
        [(cx, cy), (cx, cy + 1), (cx + 1, cy), (cx + 1, cy + 1)]
            .into_iter()
            .filter_map(|(x, y)| self.cells.get(&(x << 32 | y)).map(|c| &**c))
            .collect()
    }
}

fn parent_key(key: u64) -> u64 {
    (key >> 32 >> 1) << 32 | ((key & 0xffff_ffff) >> 1)
}

/// What clustering needs of one row.
#[derive(Debug, Clone, Copy)]
pub struct Member {
    pub class: u8,
    pub measure: f64,
    /// World position (the anchor).
    pub pos: [f64; 2],
    /// Left out of public aggregates.
    pub hidden: bool,
}

/// The class and measure of a row.
pub fn class_and_measure(data: &LayerData, spec: &ClusterSpec, row: u32) -> (u8, f64) {
    let class = match data.column(spec.class_field) {
        Column::Enum(c) => c[row as usize].unwrap_or(u8::MAX),
        _ => u8::MAX,
    };
    let measure = data
        .value(row, spec.measure_field)
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0);
    (class, measure)
}

/// A cell from its member lists, its children (ascending key) and its newcomers' rows: the
/// one place aggregates are computed.
fn make_cell(
    key: u64,
    members: Vec<u32>,
    newcomers: Vec<u32>,
    children: &[&Cell],
    member: &dyn Fn(u32) -> Member,
) -> Cell {
    let mut all = Aggregate::default();
    let mut public = Aggregate::default();
    let mut single = None;
    let mut any_hidden = false;
    for c in children {
        all.merge(&c.all);
        let (p, s) = c.view(true);
        if p.count > 0 {
            public.merge(p);
            single = s;
        }
        any_hidden |= c.public.is_some();
    }
    for &row in &newcomers {
        let m = member(row);
        all.add(m.class, m.measure, m.pos);
        if m.hidden {
            any_hidden = true;
        } else {
            public.add(m.class, m.measure, m.pos);
            single = Some(row);
        }
    }
    let public = any_hidden.then(|| {
        let single = if public.count == 1 { single } else { None };
        Box::new((public, single))
    });
    Cell {
        key,
        members,
        newcomers,
        all,
        public,
    }
}

/// Cells per side of the world at zoom `z`.
fn side(z: u8, cells_per_tile: u32) -> f64 {
    f64::from(1u32 << z) * f64::from(cells_per_tile)
}

/// Builds the cluster levels `0..=max_zoom` over rows `0..rows`. `joins_at(row)` is the
/// highest zoom at which the row is point-like (a point: `max_zoom`; a polygon: the zoom
/// below which it is under a pixel; `None`: never clustered).
pub fn cluster(
    rows: u32,
    joins_at: &dyn Fn(u32) -> Option<u8>,
    max_zoom: u8,
    cells_per_tile: u32,
    member: &dyn Fn(u32) -> Member,
) -> Vec<ClusterLevel> {
    // Rows by the zoom they join at, so each level adds its newcomers.
    let mut joining: Vec<Vec<u32>> = vec![Vec::new(); usize::from(max_zoom) + 1];
    for row in 0..rows {
        if let Some(z) = joins_at(row) {
            joining[usize::from(z.min(max_zoom))].push(row);
        }
    }
    let mut levels: Vec<ClusterLevel> = Vec::with_capacity(usize::from(max_zoom) + 1);
    for z in (0..=max_zoom).rev() {
        let mut level = ClusterLevel::empty(side(z, cells_per_tile));
        // Per cell: children (ascending key, as the level below is walked in key order) and
        // newcomers (ascending row).
        let mut groups: BTreeMap<u64, (Vec<&Cell>, Vec<u32>)> = BTreeMap::new();
        let below: Vec<&Cell> = match levels.last() {
            Some(b) => {
                let mut v: Vec<&Cell> = b.cells.values().map(|c| &**c).collect();
                v.sort_unstable_by_key(|c| c.key);
                v
            }
            None => Vec::new(),
        };
        for c in below {
            groups.entry(parent_key(c.key)).or_default().0.push(c);
        }
        for &row in &joining[usize::from(z)] {
            let key = level.key_of(member(row).pos);
            groups.entry(key).or_default().1.push(row);
        }
        let mut cells = Vec::with_capacity(groups.len());
        for (key, (children, newcomers)) in groups {
            let mut members: Vec<u32> = children
                .iter()
                .flat_map(|c| c.members.iter().copied())
                .chain(newcomers.iter().copied())
                .collect();
            members.sort_unstable();
            cells.push(make_cell(key, members, newcomers, &children, member));
        }
        for c in &cells {
            level.count(c, true);
        }
        level.tree = Forest::bulk_load(
            cells
                .iter()
                .map(|c| GeomWithData::new(c.all.position(), c.key))
                .collect(),
        );
        level.cells = cells.into_iter().map(|c| (c.key, Arc::new(c))).collect();
        levels.push(level);
    }
    levels.reverse();
    levels
}

/// A row entering or leaving the clusters: its row number (old numbering for rows leaving,
/// new for rows entering), position and the zoom it joins at.
#[derive(Debug, Clone, Copy)]
pub struct Moved {
    pub row: u32,
    pub pos: [f64; 2],
    pub joins_at: Option<u8>,
}

/// Member-list edits of one cell: rows out and rows in, of all members and of newcomers.
#[derive(Default)]
struct CellEdit {
    out: Vec<u32>,
    out_new: Vec<u32>,
    into: Vec<u32>,
    into_new: Vec<u32>,
}

/// `list` without the rows of `out` and with those of `into` (all ascending). A write
/// usually moves a row or two in cells of up to every row of the layer (the lowest zooms): then
/// the list is copied whole (memcpy) and each row taken out or put in by binary search and a
/// memmove, several times faster than a merge that tests every element (measured with
/// `scripts/tiles-after-write.sh`); many changes to one cell take the single merge pass.
fn edit_list(list: &[u32], out: &mut [u32], into: &mut [u32]) -> Vec<u32> {
    out.sort_unstable();
    into.sort_unstable();
    if out.len() + into.len() <= 16 {
        let mut res = Vec::with_capacity(list.len() + into.len());
        res.extend_from_slice(list);
        for r in out.iter() {
            if let Ok(i) = res.binary_search(r) {
                res.remove(i);
            }
        }
        for r in into.iter() {
            if let Err(i) = res.binary_search(r) {
                res.insert(i, *r);
            }
        }
        return res;
    }
    let mut res = Vec::with_capacity(list.len() + into.len());
    let mut ins = into.iter().copied().peekable();
    let mut outs = out.iter().copied().peekable();
    for &r in list {
        while outs.next_if(|o| *o < r).is_some() {}
        if outs.next_if_eq(&r).is_some() {
            continue;
        }
        while let Some(i) = ins.next_if(|i| *i < r) {
            res.push(i);
        }
        // A row already a member (not expected) is kept once.
        let _ = ins.next_if_eq(&r);
        res.push(r);
    }
    res.extend(ins);
    res
}

#[cfg(test)]
mod edit_tests {
    use super::edit_list;

    #[test]
    fn both_ways_of_editing_agree() {
        let list: Vec<u32> = (0..200).map(|i| i * 3).collect();
        for k in [1usize, 5, 8, 9, 30] {
            let mut out: Vec<u32> = (0..k as u32).map(|i| i * 21).collect();
            let mut into: Vec<u32> = (0..k as u32).map(|i| i * 21 + 1).collect();
            let got = edit_list(&list, &mut out, &mut into);
            let mut want: Vec<u32> = list
                .iter()
                .copied()
                .filter(|r| !out.contains(r))
                .chain(into.iter().copied())
                .collect();
            want.sort_unstable();
            assert_eq!(got, want, "{k} changes");
        }
    }
}

/// Updates the levels in place: takes the rows of `removed` out of their cells, puts those
/// of `added` in, and recomputes every cell they touch, bottom-up. `member` reads the new rows.
pub fn update_clusters(
    levels: &mut [ClusterLevel],
    removed: &[Moved],
    added: &[Moved],
    member: &dyn Fn(u32) -> Member,
) {
    let Some(max_zoom) = levels.len().checked_sub(1) else {
        return;
    };
    for z in (0..=max_zoom).rev() {
        let (lower, upper) = levels.split_at_mut(z + 1);
        let level = &mut lower[z];
        let below = upper.first();
        let mut edits: BTreeMap<u64, CellEdit> = BTreeMap::new();
        for (list, is_out) in [(removed, true), (added, false)] {
            for m in list {
                let Some(j) = m.joins_at.map(|j| usize::from(j).min(max_zoom)) else {
                    continue;
                };
                if z > j {
                    continue;
                }
                let e = edits.entry(level.key_of(m.pos)).or_default();
                let (all, new) = if is_out {
                    (&mut e.out, &mut e.out_new)
                } else {
                    (&mut e.into, &mut e.into_new)
                };
                all.push(m.row);
                if j == z {
                    new.push(m.row);
                }
            }
        }
        for (key, mut e) in edits {
            let old = level.take(key);
            let (members, newcomers) = match &old {
                Some(c) => (c.members.as_slice(), c.newcomers.as_slice()),
                None => (&[][..], &[][..]),
            };
            let members = edit_list(members, &mut e.out, &mut e.into);
            if members.is_empty() {
                continue;
            }
            let newcomers = edit_list(newcomers, &mut e.out_new, &mut e.into_new);
            let children = below.map(|b| b.children_of(key)).unwrap_or_default();
            let cell = make_cell(key, members, newcomers, &children, member);
            level.put(cell);
        }
    }
}

/// The aggregate of the members that pass a filter (over the caller's view), with positions
/// given by `pos`.
pub fn filtered_aggregate(
    spec: &ClusterSpec,
    cell: &Cell,
    filter: VisibleFilter<'_>,
    pos: impl Fn(u32) -> [f64; 2],
) -> (Aggregate, Option<u32>) {
    let data = filter.data();
    let mut agg = Aggregate::default();
    let mut last = None;
    for &row in &cell.members {
        if filter.matches(row) {
            let (class, measure) = class_and_measure(data, spec, row);
            agg.add(class, measure, pos(row));
            last = Some(row);
        }
    }
    (agg, last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregate_sums_per_class() {
        let mut a = Aggregate::default();
        a.add(3, 10.0, [0.0, 0.0]);
        a.add(1, 5.0, [1.0, 1.0]);
        a.add(3, 2.5, [2.0, 2.0]);
        assert_eq!(a.count, 3);
        assert_eq!(a.classes.len(), 2);
        assert_eq!(a.classes[1].sum, 12.5);
        assert_eq!(a.dominant(), Some(3));
        assert_eq!(a.position(), [1.0, 1.0]);
        assert_eq!(a.total(), 17.5);
    }
}

//! Grid clustering of point-like features, one level per generalised zoom, built bottom-up.
//!
//! At zoom z the world is cut into `2^z × cells_per_tile` cells per side; a cell's features
//! become one cluster that carries how many they are and, per class (material, status), their
//! count and summed measure (quantity, area). Cells nest exactly from one zoom to the next, so
//! level z is the merge of level z+1's cells plus the polygons that became smaller than a pixel
//! at z. Cells depend on nothing but the data, so a cluster is the same in every tile that
//! shows it.

use std::collections::HashMap;

use rstar::RTree;
use rstar::primitives::GeomWithData;

use crate::index::{Column, LayerData, VisibleFilter};

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

/// The cells of one zoom.
#[derive(Debug, Default)]
pub struct ClusterLevel {
    pub cells: Vec<Cell>,
    /// Cluster positions (mean of all members), payload = index in `cells`.
    pub tree: RTree<GeomWithData<[f64; 2], u32>>,
    /// Width of a cell in world units.
    pub cell_size: f64,
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

/// Builds the cluster levels `0..=max_zoom`. `joins_at[row]` is the highest zoom at which the
/// row is point-like (a point: `max_zoom`; a polygon: the zoom below which it is under a pixel;
/// `None`: never clustered). `anchor[row]` is its world position. Rows for which `hidden` is
/// true are left out of each cell's public aggregate.
pub fn cluster(
    data: &LayerData,
    spec: &ClusterSpec,
    anchor: &[[f64; 2]],
    joins_at: &[Option<u8>],
    max_zoom: u8,
    cells_per_tile: u32,
    hidden: impl Fn(u32) -> bool,
) -> Vec<ClusterLevel> {
    // Rows by the zoom they join at, so each level adds its newcomers.
    let mut joining: Vec<Vec<u32>> = vec![Vec::new(); usize::from(max_zoom) + 1];
    for (row, j) in joins_at.iter().enumerate() {
        if let Some(z) = j {
            joining[usize::from((*z).min(max_zoom))].push(row as u32);
        }
    }
    let mut levels: Vec<ClusterLevel> = Vec::with_capacity(usize::from(max_zoom) + 1);
    let mut prev: Vec<(u64, Vec<u32>)> = Vec::new();
    for z in (0..=max_zoom).rev() {
        let n = f64::from(1u32 << z) * f64::from(cells_per_tile);
        let key_of = |p: [f64; 2]| -> u64 {
            let cx = (p[0] * n).floor().clamp(0.0, n - 1.0) as u64;
            let cy = (p[1] * n).floor().clamp(0.0, n - 1.0) as u64;
            cx << 32 | cy
        };
        let mut cells: HashMap<u64, Vec<u32>> = HashMap::with_capacity(prev.len());
        for (key, members) in prev.drain(..) {
            let parent = (key >> 32 >> 1) << 32 | ((key & 0xffff_ffff) >> 1);
            cells.entry(parent).or_default().extend(members);
        }
        for &row in &joining[usize::from(z)] {
            cells
                .entry(key_of(anchor[row as usize]))
                .or_default()
                .push(row);
        }
        let mut keyed: Vec<(u64, Vec<u32>)> = cells.into_iter().collect();
        keyed.sort_unstable_by_key(|(k, _)| *k);
        let mut level_cells = Vec::with_capacity(keyed.len());
        for (key, members) in &mut keyed {
            members.sort_unstable();
            let mut all = Aggregate::default();
            let mut public = Aggregate::default();
            let mut public_last = None;
            let mut any_hidden = false;
            for &row in members.iter() {
                let (class, measure) = class_and_measure(data, spec, row);
                all.add(class, measure, anchor[row as usize]);
                if hidden(row) {
                    any_hidden = true;
                } else {
                    public.add(class, measure, anchor[row as usize]);
                    public_last = Some(row);
                }
            }
            let public = any_hidden.then(|| {
                let single = if public.count == 1 { public_last } else { None };
                Box::new((public, single))
            });
            level_cells.push(Cell {
                key: *key,
                members: members.clone(),
                all,
                public,
            });
        }
        let tree = RTree::bulk_load(
            level_cells
                .iter()
                .enumerate()
                .map(|(i, c)| GeomWithData::new(c.all.position(), i as u32))
                .collect(),
        );
        levels.push(ClusterLevel {
            cells: level_cells,
            tree,
            cell_size: 1.0 / n,
        });
        prev = keyed;
    }
    levels.reverse();
    levels
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

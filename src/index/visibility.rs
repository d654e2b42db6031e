//! Which rows of a layer a caller may see: the rule of `model::Audience::sees` read from the
//! columns. Private to the index: readers reach it only through [`super::View`] and
//! [`super::LayerView`], so no read can forget it (see `model::Access` for why hidden rows are
//! left out rather than blurred).
//!
//! Every figure about a whole layer that a caller sees (the catalog's count and bounds,
//! TileJSON's `feature_count`, `bounds` and `center`, OGC collection extents, the metrics'
//! features per layer, the PMTiles header) comes from [`Visibility::extent`]: the [`Extent`]
//! of the rows that caller may see, kept per layer for every row and for the public rows when
//! the layer is built or changed (no scan per request; a change adjusts them in O(change),
//! see [`ExtentsUpdate`]).

use std::sync::{Arc, OnceLock};

use geo_types::{Rect, coord};
use rstar::RTreeObject;

use super::{LayerData, ValueRef};
use crate::model::{Audience, CONFIDENTIALITY_FIELD};

/// How many rows of a layer a caller sees, and the lon/lat bounding box of their geometries
/// (`None` when there are none).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Extent {
    pub count: usize,
    pub bounds: Option<Rect<f64>>,
}

impl Extent {
    /// The bounds as `[min_lon, min_lat, max_lon, max_lat]`.
    pub fn bbox(&self) -> Option<[f64; 4]> {
        self.bounds
            .map(|b| [b.min().x, b.min().y, b.max().x, b.max().y])
    }

    fn grow(&mut self, lo: [f64; 2], hi: [f64; 2]) {
        self.bounds = Some(match self.bounds {
            None => Rect::new(coord! { x: lo[0], y: lo[1] }, coord! { x: hi[0], y: hi[1] }),
            Some(b) => Rect::new(
                coord! { x: b.min().x.min(lo[0]), y: b.min().y.min(lo[1]) },
                coord! { x: b.max().x.max(hi[0]), y: b.max().y.max(hi[1]) },
            ),
        });
    }
}

/// The extents of a layer for each kind of caller: every row (callers with the `partners`
/// right) and the rows everyone may see. Made once per built layer ([`Extents::of`]), then
/// adjusted per change ([`ExtentsUpdate`]), so that a change costs O(change).
#[derive(Debug, Clone, Default)]
pub(super) struct Extents {
    all: Extent,
    public_count: usize,
    /// Bounds of the public rows; computed on first use (one scan) after a change took out a
    /// public row that touched them, else known from the start.
    public_bounds: Arc<OnceLock<Option<Rect<f64>>>>,
}

impl Extents {
    /// One pass over the layer's R-tree entries (their envelopes are the geometries' bounding
    /// boxes), each row checked with the public audience's [`Visibility`].
    pub(super) fn of(data: &LayerData) -> Extents {
        let public_rule = Visibility::new(Audience::Public, data);
        let mut all = Extent {
            count: data.len(),
            bounds: None,
        };
        let mut public = Extent::default();
        for e in data.forest().iter() {
            let env = e.geom().envelope();
            all.grow(env.lower(), env.upper());
            if public_rule.row_visible(e.data) {
                public.grow(env.lower(), env.upper());
            }
        }
        let public_count = if public_rule.sees_all() {
            data.len()
        } else {
            public_rule.filter(0..data.len() as u32).count()
        };
        Extents {
            all,
            public_count,
            public_bounds: Arc::new(OnceLock::from(public.bounds)),
        }
    }

    /// Every row, whoever may see it.
    pub(super) fn all_rows(&self) -> Extent {
        self.all
    }

    /// The rows everyone may see (`data` is the layer these extents are of).
    pub(super) fn public_rows(&self, data: &LayerData) -> Extent {
        let bounds = *self.public_bounds.get_or_init(|| public_bounds_scan(data));
        Extent {
            count: self.public_count,
            bounds,
        }
    }
}

/// Bounds of the public rows of a layer, by a scan of its entries.
fn public_bounds_scan(data: &LayerData) -> Option<Rect<f64>> {
    let rule = Visibility::new(Audience::Public, data);
    let mut e = Extent::default();
    for entry in data.forest().iter() {
        if rule.row_visible(entry.data) {
            let env = entry.geom().envelope();
            e.grow(env.lower(), env.upper());
        }
    }
    e.bounds
}

/// The extents of a layer being changed, adjusted change by change: counts by the
/// visibility of the rows taken out and put in; bounds grow by what is put in (O(1)), and the
/// bounds of every row come from the forest's tree envelopes at the end (O(trees)). Only a
/// public row taken out while touching the public bounds' edge leaves those bounds unknown
/// until first read (see [`Extents::public_rows`]).
#[derive(Debug)]
pub(super) struct ExtentsUpdate {
    public_count: usize,
    /// `None` once unknown.
    public_bounds: Option<Option<Rect<f64>>>,
}

impl ExtentsUpdate {
    /// Starts from the extents of the layer being changed.
    pub(super) fn new(old: &LayerData) -> ExtentsUpdate {
        let e = old.extents();
        ExtentsUpdate {
            public_count: e.public_count,
            public_bounds: e.public_bounds.get().copied(),
        }
    }

    /// Takes out a row's contribution (before it is overwritten or deleted).
    pub(super) fn take_out(&mut self, data: &LayerData, row: u32) {
        if !Visibility::new(Audience::Public, data).row_visible(row) {
            return;
        }
        self.public_count = self.public_count.saturating_sub(1);
        let Some(env) = LayerData::entry(data.geometry(row), row).map(|e| e.envelope()) else {
            return;
        };
        if let Some(Some(b)) = self.public_bounds {
            let (lo, hi) = (env.lower(), env.upper());
            let touches = lo[0] <= b.min().x
                || lo[1] <= b.min().y
                || hi[0] >= b.max().x
                || hi[1] >= b.max().y;
            if touches {
                self.public_bounds = None;
            }
        }
    }

    /// Puts in a row's contribution (after it was written).
    pub(super) fn put_in(&mut self, data: &LayerData, row: u32) {
        if !Visibility::new(Audience::Public, data).row_visible(row) {
            return;
        }
        self.public_count += 1;
        let env = LayerData::entry(data.geometry(row), row).map(|e| e.envelope());
        if let (Some(bounds), Some(env)) = (self.public_bounds.as_mut(), env) {
            let mut e = Extent {
                count: 0,
                bounds: *bounds,
            };
            e.grow(env.lower(), env.upper());
            *bounds = e.bounds;
        }
    }

    /// The extents of the changed layer.
    pub(super) fn finish(self, data: &LayerData) -> Extents {
        let env = data.forest().envelope();
        let all = Extent {
            count: data.len(),
            bounds: (!data.forest().is_empty()).then(|| {
                let (lo, hi) = (env.lower(), env.upper());
                Rect::new(coord! { x: lo[0], y: lo[1] }, coord! { x: hi[0], y: hi[1] })
            }),
        };
        let public_bounds = match self.public_bounds {
            Some(b) => OnceLock::from(b),
            None => OnceLock::new(),
        };
        Extents {
            all,
            public_count: self.public_count,
            public_bounds: Arc::new(public_bounds),
        }
    }
}

/// The visibility rule of one audience over one layer, on the columns. Cheap to build.
#[derive(Debug, Clone, Copy)]
pub(super) struct Visibility<'a> {
    data: &'a LayerData,
    audience: Audience,
    /// Position of the confidentiality field when some rows may be hidden.
    restricted: Option<usize>,
}

impl<'a> Visibility<'a> {
    pub(super) fn new(audience: Audience, data: &'a LayerData) -> Visibility<'a> {
        let restricted = if audience.restricts(data.layer()) {
            data.schema().field(CONFIDENTIALITY_FIELD).map(|(i, _)| i)
        } else {
            None
        };
        Visibility {
            data,
            audience,
            restricted,
        }
    }

    /// Whether every row is visible (no per-row check needed).
    pub(super) fn sees_all(&self) -> bool {
        self.restricted.is_none()
    }

    /// Whether the caller may see this row: [`Audience::sees`] on the row's confidentiality
    /// value.
    #[inline]
    pub(super) fn row_visible(&self, row: u32) -> bool {
        match self.restricted {
            None => true,
            Some(field) => {
                let value = match self.data.value(row, field) {
                    Some(ValueRef::Text(v)) => Some(v),
                    _ => None,
                };
                self.audience.sees(self.data.layer(), value)
            }
        }
    }

    /// Count and bounds of the rows this caller may see: the one source of every figure
    /// about a whole layer that a caller is shown.
    pub(super) fn extent(&self) -> Extent {
        let e = self.data.extents();
        if self.sees_all() {
            e.all
        } else {
            e.public_rows(self.data)
        }
    }

    /// The visible rows among `rows`.
    pub(super) fn filter<I: IntoIterator<Item = u32>>(
        self,
        rows: I,
    ) -> impl Iterator<Item = u32> + use<'a, I> {
        rows.into_iter().filter(move |&r| self.row_visible(r))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::model::{Access, Feature, Layer, Role, Value, schema};
    use geo_types::{Geometry, point};

    fn deposit(id: u64, conf: &str) -> Feature {
        deposit_at(id, conf, 0.1, 49.5)
    }

    /// A wood deposit of the given confidentiality at a position (shared with `view`'s tests).
    pub(in crate::index) fn deposit_at(id: u64, conf: &str, lon: f64, lat: f64) -> Feature {
        let s = schema(Layer::WasteDeposits);
        let mut props = vec![None; s.fields.len()];
        props[s.index_of("material")] = Some(Value::Text("wood".into()));
        props[s.index_of("quantity")] = Some(Value::Float(1.0));
        props[s.index_of("confidentiality")] = Some(Value::Text(conf.into()));
        Feature {
            id,
            version: 1,
            geometry: Geometry::Point(point!(x: lon, y: lat)),
            props,
            extra: Default::default(),
        }
    }

    /// Rows agree with the row-form rule of `Access::sees`, for every kind of request.
    #[test]
    fn rows_agree_with_access_sees() {
        let feats = vec![
            deposit(1, "public"),
            deposit(2, "partners"),
            deposit(3, "public"),
        ];
        let data = LayerData::build(Layer::WasteDeposits, feats);
        for a in ACCESSES {
            let vis = Visibility::new(a.audience(), &data);
            for row in 0..data.len() as u32 {
                let f = data.feature(row);
                assert_eq!(
                    vis.row_visible(row),
                    a.sees(Layer::WasteDeposits, &f),
                    "{a:?} {row}"
                );
            }
            let n = vis.filter(0..data.len() as u32).count();
            assert_eq!(n, if a.partners() { 3 } else { 2 });
        }
    }

    /// The oracle: count and bounding box of the features `access` sees, by `Access::sees` on
    /// each feature in row form and geo's bounding boxes.
    fn brute_extent(data: &LayerData, access: &Access) -> (usize, Option<[f64; 4]>) {
        use geo::BoundingRect;
        let seen: Vec<Feature> = data
            .features()
            .filter(|f| access.sees(data.layer(), f))
            .collect();
        let bbox = seen
            .iter()
            .filter_map(|f| f.geometry.bounding_rect())
            .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
            .reduce(|a, b| {
                [
                    a[0].min(b[0]),
                    a[1].min(b[1]),
                    a[2].max(b[2]),
                    a[3].max(b[3]),
                ]
            });
        (seen.len(), bbox)
    }

    /// Every kind of caller.
    pub(in crate::index) const ACCESSES: [Access; 6] = [
        Access::ANONYMOUS,
        Access::key(Role::Reader, false),
        Access::key(Role::Reader, true),
        Access::key(Role::Editor, false),
        Access::key(Role::Editor, true),
        Access::key(Role::Admin, false),
    ];

    fn check_extents(data: &LayerData, what: &str) {
        for a in ACCESSES {
            let e = Visibility::new(a.audience(), data).extent();
            assert_eq!((e.count, e.bbox()), brute_extent(data, &a), "{what}: {a:?}");
        }
    }

    /// Counts and bounds per caller agree with the brute-force oracle after a build and after
    /// every kind of change: an outlying confidential deposit widens the bounds of partners
    /// only, and leaving (delete, or becoming public and moving) moves them back.
    #[test]
    fn extents_follow_the_rule_through_changes() {
        let mut feats: Vec<Feature> = (0..40)
            .map(|i| {
                let conf = if i % 5 == 0 { "partners" } else { "public" };
                deposit_at(i, conf, 0.9 + 0.005 * i as f64, 49.4 + 0.003 * i as f64)
            })
            .collect();
        feats.push(deposit_at(999, "partners", 1.52, 49.81));
        let data = LayerData::build(Layer::WasteDeposits, feats);
        check_extents(&data, "built");
        let public = Visibility::new(Audience::Public, &data).extent();
        assert_eq!(public.count, 32);
        assert!(
            public.bbox().unwrap()[2] < 1.2,
            "the outlier is not in the public bounds"
        );
        assert_eq!(
            Visibility::new(Audience::Full, &data)
                .extent()
                .bbox()
                .unwrap()[2],
            1.52
        );

        let moved = data.with_changes([deposit_at(999, "public", 0.5, 49.0)], &[]);
        check_extents(&moved, "made public and moved");
        assert_eq!(Visibility::new(Audience::Public, &moved).extent().count, 33);
        let deleted = data.with_changes([], &[999, 3]);
        check_extents(&deleted, "deleted");
        assert_eq!(Visibility::new(Audience::Public, &deleted).extent(), {
            let again = data.with_changes([], &[3]);
            Visibility::new(Audience::Public, &again).extent()
        });
        let hidden = deleted.with_changes([deposit_at(7, "partners", 2.0, 50.0)], &[]);
        check_extents(&hidden, "made confidential");
        check_extents(&LayerData::empty(Layer::WasteDeposits), "empty");
        check_extents(&hidden.with_changes([], &[7]), "deleted again");
        assert_eq!(
            Visibility::new(Audience::Public, &LayerData::empty(Layer::Plots)).extent(),
            Extent::default()
        );
    }

    /// The extents kept change by change equal those of a fresh build of the same layer
    /// ([`Extents::of`], the oracle), exactly, through random puts, moves to the edges and
    /// beyond, confidentiality flips and deletes; whether or not the lazy public bounds were
    /// read in between.
    #[test]
    fn incremental_extents_equal_a_fresh_computation() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7_2026);
        let mut data = LayerData::empty(Layer::WasteDeposits);
        for step in 0..600 {
            let id = rng.random_range(0..60u64);
            data = if rng.random_bool(0.3) {
                data.with_changes([], &[id])
            } else {
                let conf = if rng.random_bool(0.4) {
                    "partners"
                } else {
                    "public"
                };
                let far = rng.random_bool(0.1);
                let (lon, lat) = if far {
                    (rng.random_range(-5.0..5.0), rng.random_range(40.0..55.0))
                } else {
                    (rng.random_range(0.0..1.0), rng.random_range(49.0..50.0))
                };
                data.with_changes([deposit_at(id, conf, lon, lat)], &[])
            };
            if rng.random_bool(0.5) {
                check_extents(&data, "read between changes");
            }
            let fresh = Extents::of(&data);
            assert_eq!(data.extents().all_rows(), fresh.all_rows(), "step {step}");
            assert_eq!(
                data.extents().public_rows(&data),
                fresh.public_rows(&data),
                "step {step}"
            );
        }
    }
}

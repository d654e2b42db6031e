//! Reads bound to a caller: every read of a snapshot goes through a [`View`], so no endpoint can
//! forget the confidentiality rule.
//!
//! A [`View`] is a snapshot seen by one [`Audience`] (`Access::audience`); [`View::layer`] gives
//! a [`LayerView`], the layer's data bundled with the row rule (`model::Audience::sees`, read
//! from the columns by `visibility`). A `LayerView` answers what readers need: a feature by id
//! (`None` when hidden, exactly as if it did not exist), the visible rows, the count and bounds
//! the caller may see, and attribute filters restricted to the visible rows
//! ([`LayerView::filter`]); and the stored projects the caller may see ([`View::projects`]).
//! Raw column access ([`LayerView::data`]) is for rows the view has already admitted.

use std::sync::Arc;

use super::visibility::Visibility;
use super::{Extent, Filter, LayerData, Snapshot, SourceAttrs};
use crate::model::{Audience, Feature, FeatureId, Layer, Project, ProjectId};

/// A snapshot as one audience sees it. Cheap to build and copy; build it once per request.
///
/// ```
/// use terriens::index::Snapshot;
/// use terriens::model::{Access, Audience, Layer};
/// let snap = Snapshot::new(3, []);
/// let view = snap.view(&Access::ANONYMOUS);
/// assert_eq!(view.audience(), Audience::Public);
/// assert_eq!(view.generation(), 3);
/// assert_eq!(view.layer(Layer::WasteDeposits).extent().count, 0);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    snapshot: &'a Snapshot,
    audience: Audience,
}

impl<'a> View<'a> {
    /// The snapshot as `audience` sees it.
    pub fn new(snapshot: &'a Snapshot, audience: Audience) -> View<'a> {
        View { snapshot, audience }
    }

    /// Who this view is for.
    pub fn audience(&self) -> Audience {
        self.audience
    }

    /// The data generation of the snapshot (cursors, ETags).
    pub fn generation(&self) -> u64 {
        self.snapshot.generation
    }

    /// The stored projects this audience may see, by id.
    pub fn projects(&self) -> impl Iterator<Item = &'a Arc<Project>> + use<'a> {
        let audience = self.audience;
        self.snapshot
            .projects
            .values()
            .filter(move |p| audience.sees_project(p.confidentiality()))
    }

    /// One project, if this audience may see it.
    pub fn project(&self, id: ProjectId) -> Option<&'a Arc<Project>> {
        self.snapshot
            .projects
            .get(&id)
            .filter(|p| self.audience.sees_project(p.confidentiality()))
    }

    /// One layer, with the row rule of this view.
    pub fn layer(&self, layer: Layer) -> LayerView<'a> {
        LayerView::new(self.snapshot.layer(layer), self.audience)
    }

    /// Every layer, in [`Layer::ALL`] order.
    pub fn layers(&self) -> impl Iterator<Item = LayerView<'a>> + use<'a> {
        let view = *self;
        Layer::ALL.into_iter().map(move |l| view.layer(l))
    }
}

/// One layer as one audience sees it: the data and the row rule together.
#[derive(Debug, Clone, Copy)]
pub struct LayerView<'a> {
    data: &'a Arc<LayerData>,
    vis: Visibility<'a>,
    audience: Audience,
}

impl<'a> LayerView<'a> {
    /// A layer's data as `audience` sees it (for readers that hold the layer rather than the
    /// snapshot, such as prepared tiles).
    pub fn new(data: &'a Arc<LayerData>, audience: Audience) -> LayerView<'a> {
        LayerView {
            data,
            vis: Visibility::new(audience, data),
            audience,
        }
    }

    pub fn layer(&self) -> Layer {
        self.data.layer()
    }

    /// Who this view is for.
    pub fn audience(&self) -> Audience {
        self.audience
    }

    /// Whether every row is visible (no per-row check needed).
    pub fn sees_all(&self) -> bool {
        self.vis.sees_all()
    }

    /// Whether the caller may see this row.
    #[inline]
    pub fn visible(&self, row: u32) -> bool {
        self.vis.row_visible(row)
    }

    /// The row of a feature id, `None` when there is none or the caller may not see it.
    pub fn get(&self, id: FeatureId) -> Option<u32> {
        self.data.row_of(id).filter(|&row| self.visible(row))
    }

    /// A feature by id in row form, `None` when there is none or the caller may not see it.
    pub fn feature(&self, id: FeatureId) -> Option<Feature> {
        self.get(id).map(|row| self.data.feature(row))
    }

    /// Every row the caller may see, in storage order.
    pub fn rows(&self) -> impl Iterator<Item = u32> + use<'a> {
        self.vis.filter(0..self.data.len() as u32)
    }

    /// The visible rows among `rows`.
    pub fn visible_rows<I: IntoIterator<Item = u32>>(
        &self,
        rows: I,
    ) -> impl Iterator<Item = u32> + use<'a, I> {
        self.vis.filter(rows)
    }

    /// Count and bounds of the rows the caller may see: the one source of every figure about a
    /// whole layer that a caller is shown.
    pub fn extent(&self) -> Extent {
        self.vis.extent()
    }

    /// An attribute filter restricted to the rows the caller may see.
    pub fn filter(self, filter: &'a Filter) -> VisibleFilter<'a> {
        debug_assert_eq!(filter.layer(), self.layer());
        VisibleFilter { view: self, filter }
    }

    /// The source attributes of the rows the caller may see (kept from the source files,
    /// not fields of the schema), with their inferred types; inferred once per layer and
    /// audience (see `index::source_attrs`).
    pub fn source_attrs(&self) -> Arc<SourceAttrs> {
        let audience = if self.audience.restricts(self.layer()) {
            Audience::Public
        } else {
            Audience::Full
        };
        self.data
            .source_attrs_cache()
            .get_or_init(audience, self.data, self.rows())
    }

    /// The layer's columns, for rows this view has already admitted.
    pub fn data(&self) -> &'a LayerData {
        self.data
    }

    /// The shared layer, for caches keyed by layer (routing snaps); rows still go through
    /// this view.
    pub fn shared(&self) -> &'a Arc<LayerData> {
        self.data
    }
}

/// An attribute filter over a [`LayerView`]: a row matches when the caller may see it and it
/// satisfies the filter. The only way queries and tiles test rows.
///
/// ```
/// use std::sync::Arc;
/// use terriens::index::{Filter, LayerData, LayerView};
/// use terriens::model::{Audience, Layer};
/// let data = Arc::new(LayerData::empty(Layer::WasteDeposits));
/// let all = Filter::all(Layer::WasteDeposits);
/// assert!(LayerView::new(&data, Audience::Full).filter(&all).keeps_all());
/// assert!(!LayerView::new(&data, Audience::Public).filter(&all).keeps_all());
/// let plots = Arc::new(LayerData::empty(Layer::Plots));
/// let all = Filter::all(Layer::Plots);
/// assert!(LayerView::new(&plots, Audience::Public).filter(&all).keeps_all());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct VisibleFilter<'a> {
    view: LayerView<'a>,
    filter: &'a Filter,
}

impl<'a> VisibleFilter<'a> {
    /// Whether the caller may see the row and it satisfies the filter.
    #[inline]
    pub fn matches(&self, row: u32) -> bool {
        self.view.visible(row) && self.filter.matches(self.view.data, row)
    }

    /// Whether every row matches (no per-row check needed).
    pub fn keeps_all(&self) -> bool {
        self.view.sees_all() && self.filter.is_empty()
    }

    /// Whether the attribute filter has no condition (rows may still be hidden).
    pub fn no_conditions(&self) -> bool {
        self.filter.is_empty()
    }

    /// The view this filter reads through.
    pub fn view(&self) -> LayerView<'a> {
        self.view
    }

    /// The layer's columns, for rows this filter has admitted.
    pub fn data(&self) -> &'a LayerData {
        self.view.data
    }

    /// The attribute filter alone.
    pub fn attributes(&self) -> &'a Filter {
        self.filter
    }

    /// The matching rows among `rows`.
    pub fn rows_in<I: IntoIterator<Item = u32>>(
        self,
        rows: I,
    ) -> impl Iterator<Item = u32> + use<'a, I> {
        rows.into_iter().filter(move |&r| self.matches(r))
    }

    /// Canonical text of what this filter selects, for cache keys, ETags and cursors: the
    /// filter's own text, marked when some rows are hidden so callers who see less are kept
    /// apart.
    pub fn canonical(&self) -> String {
        let mut s = self.filter.canonical();
        if !self.view.sees_all() {
            if !s.is_empty() {
                s.push('&');
            }
            s.push_str("~visible");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::super::visibility::tests::{ACCESSES, deposit_at};
    use super::*;
    use crate::model::{Access, Value, schema};

    fn deposit(id: u64, conf: &str, material: &str) -> Feature {
        let mut f = deposit_at(id, conf, 0.1 + id as f64 * 0.01, 49.5);
        let m = schema(Layer::WasteDeposits).index_of("material");
        f.props[m] = Some(Value::Text(material.into()));
        f
    }

    /// The oracle: `get`, `feature`, `rows` and `filter` agree with a brute force over
    /// `Access::sees` on every feature in row form, for every kind of caller.
    #[test]
    fn layer_view_agrees_with_access_sees() {
        let feats: Vec<Feature> = (0..30)
            .map(|i| {
                let conf = if i % 4 == 1 { "partners" } else { "public" };
                let material = if i % 3 == 0 { "wood" } else { "plastic" };
                deposit(i, conf, material)
            })
            .collect();
        let snap = Snapshot::new(1, [LayerData::build(Layer::WasteDeposits, feats.clone())]);
        let params = vec![("material".to_string(), "wood".to_string())];
        let wood = Filter::parse(Layer::WasteDeposits, &params, &[]).unwrap_or_else(|e| {
            unreachable!("{e}");
        });
        for a in ACCESSES {
            let view = snap.view(&a);
            let lv = view.layer(Layer::WasteDeposits);
            let seen: Vec<u64> = feats
                .iter()
                .filter(|f| a.sees(Layer::WasteDeposits, f))
                .map(|f| f.id)
                .collect();
            for f in &feats {
                let expect = a.sees(Layer::WasteDeposits, f);
                assert_eq!(lv.get(f.id).is_some(), expect, "{a:?} {}", f.id);
                assert_eq!(lv.feature(f.id).map(|g| g.id), expect.then_some(f.id));
            }
            let rows: Vec<u64> = lv.rows().map(|r| lv.data().id(r)).collect();
            assert_eq!(rows, seen, "{a:?}");
            assert_eq!(lv.extent().count, seen.len());
            let wood_seen: Vec<u64> = feats
                .iter()
                .filter(|f| a.sees(Layer::WasteDeposits, f) && f.id % 3 == 0)
                .map(|f| f.id)
                .collect();
            let vf = lv.filter(&wood);
            let got: Vec<u64> = vf
                .rows_in(0..lv.data().len() as u32)
                .map(|r| lv.data().id(r))
                .collect();
            assert_eq!(got, wood_seen, "{a:?}");
            assert_eq!(vf.canonical().ends_with("~visible"), !a.partners());
        }
        assert!(snap.view(&Access::ANONYMOUS).layer(Layer::Plots).sees_all());
    }
}

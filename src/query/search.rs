//! Search one layer: a [`Scope`] (radius, nearest, box, polygon or all), an attribute filter,
//! an optional drive-time gate, one page of results.
//!
//! Order: by the query's sort keys (typed fields, each ascending or descending, unknown values
//! last whatever the direction, ties by feature id) when it has some; else by distance (then
//! feature id) when the query has a point; otherwise by storage row, which is stable while the
//! data does not change.

use std::cmp::Ordering;

use geo_types::Point;

use super::distance::distance_to_geometry_m;
use super::drive::DriveGate;
use super::hit::{Hit, Selector};
use super::page::{Page, PageRequest, cut, fnv1a};
use super::scope::Scope;
use super::{QueryError, bbox, knn, polygon, radius};
use crate::index::{Filter, LayerData, ValueRef, View};
use crate::model::Layer;

/// A search of one layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerQuery {
    pub layer: Layer,
    pub scope: Scope,
    pub filter: Filter,
    /// A point to measure distances from, for scopes without a centre (box, polygon, all);
    /// results are then sorted by that distance.
    pub origin: Option<Point<f64>>,
    /// Sort keys, first first; empty: distance or storage order.
    pub sort: Vec<SortKey>,
    pub page: PageRequest,
}

/// One sort key: a typed field of the layer (its position in the layer's schema) and the
/// direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    pub field: usize,
    pub desc: bool,
}

impl LayerQuery {
    /// The point distances are measured from, if any.
    pub fn origin(&self) -> Option<Point<f64>> {
        self.scope.centre().or(self.origin)
    }

    /// What a cursor is bound to: everything but the page, and what the caller may see.
    pub fn fingerprint(&self, view: &View) -> u64 {
        let origin = self.origin().map(|p| (p.x(), p.y()));
        fnv1a(
            format!(
                "layer|{}|{}|{}|{origin:?}|{:?}",
                self.layer,
                self.scope.canonical(),
                view.layer(self.layer).filter(&self.filter).canonical(),
                self.sort
            )
            .as_bytes(),
        )
    }
}

/// Runs a layer search over the caller's view. A cursor is checked before any work.
///
/// ```
/// use terriens::index::{Filter, Snapshot};
/// use terriens::model::{Access, Layer};
/// use terriens::query::{LayerQuery, PageRequest, Scope, search};
/// let snap = Snapshot::new(1, []);
/// let q = LayerQuery {
///     layer: Layer::Plots,
///     scope: Scope::Radius { centre: geo_types::point!(x: 0.1, y: 49.5), radius_m: 5_000.0 },
///     filter: Filter::all(Layer::Plots),
///     origin: None,
///     sort: Vec::new(),
///     page: PageRequest::first(10),
/// };
/// let page = search(&snap.view(&Access::ANONYMOUS), &q, None).unwrap();
/// assert_eq!(page.matched, 0);
/// ```
pub fn search(
    view: &View,
    q: &LayerQuery,
    drive: Option<DriveGate>,
) -> Result<Page<Hit>, QueryError> {
    let fingerprint = q.fingerprint(view);
    let offset = q.page.offset(view.generation(), fingerprint)?;
    let select = Selector::new(view.layer(q.layer).filter(&q.filter)).with_drive(drive);
    let limit = q.page.limit;
    let origin = q.origin();
    let (items, matched) = if !q.sort.is_empty() {
        let hits = collect(&q.scope, origin, &select);
        let matched = hits.len();
        let data = select.data();
        (cut(hits, offset, limit, by_fields(data, &q.sort)), matched)
    } else if q.scope == Scope::All && origin.is_none() {
        all_in_row_order(&select, offset, limit)
    } else {
        let hits = collect(&q.scope, origin, &select);
        let matched = hits.len();
        (cut(hits, offset, limit, order(origin.is_some())), matched)
    };
    Ok(Page::new(
        items,
        matched,
        offset,
        limit,
        view.generation(),
        fingerprint,
    ))
}

/// Every admitted row of a scope, unordered, with distances from `origin` when given (radius
/// and nearest always measure from their centre).
pub(crate) fn collect(scope: &Scope, origin: Option<Point<f64>>, select: &Selector) -> Vec<Hit> {
    let data = select.data();
    match scope {
        Scope::Radius { centre, radius_m } => radius(select, *centre, *radius_m),
        Scope::Nearest {
            centre,
            k,
            within_m,
        } => knn(select, *centre, *k, *within_m),
        Scope::BBox(b) => bbox(select, *b, origin),
        Scope::Polygon { shape, relation } => polygon(select, shape, *relation, origin),
        Scope::All => (0..data.len() as u32)
            .filter_map(|row| {
                let drive_s = select.admit(row)?;
                let d = origin.map(|o| distance_to_geometry_m(o, data.geometry(row)));
                Some(Selector::hit(data, row, d, drive_s))
            })
            .collect(),
    }
}

/// The order of results: distance then id, or storage row.
pub(crate) fn order(by_distance: bool) -> impl Fn(&Hit, &Hit) -> Ordering {
    move |a, b| {
        if by_distance {
            let da = a.distance_m.unwrap_or(f64::INFINITY);
            let db = b.distance_m.unwrap_or(f64::INFINITY);
            da.total_cmp(&db).then(a.id.cmp(&b.id))
        } else {
            a.row.cmp(&b.row)
        }
    }
}

/// The order of sort keys: each field's values compared (unknown values last whatever the
/// direction), then the feature id, so every page of a sorted query is stable.
fn by_fields<'a>(data: &'a LayerData, keys: &'a [SortKey]) -> impl Fn(&Hit, &Hit) -> Ordering + 'a {
    move |a, b| {
        for k in keys {
            let (va, vb) = (data.value(a.row, k.field), data.value(b.row, k.field));
            let o = match (va, vb) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(x), Some(y)) => {
                    let o = compare_values(x, y);
                    if k.desc { o.reverse() } else { o }
                }
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        a.id.cmp(&b.id)
    }
}

/// Two values of one field: numbers numerically, text by code point, dates in time, false
/// before true. Values of different kinds (never in one typed field) compare equal.
fn compare_values(a: ValueRef, b: ValueRef) -> Ordering {
    match (a, b) {
        (ValueRef::Bool(x), ValueRef::Bool(y)) => x.cmp(&y),
        (ValueRef::Text(x), ValueRef::Text(y)) => x.cmp(y),
        (ValueRef::Date(x), ValueRef::Date(y)) => x.cmp(&y),
        (x, y) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            _ => Ordering::Equal,
        },
    }
}

/// One page of a whole layer in row order, without collecting every match.
fn all_in_row_order(select: &Selector, offset: usize, limit: usize) -> (Vec<Hit>, usize) {
    let data = select.data();
    let mut matched = 0;
    let mut items = Vec::new();
    for row in 0..data.len() as u32 {
        if let Some(drive_s) = select.admit(row) {
            if matched >= offset && items.len() < limit {
                items.push(Selector::hit(data, row, None, drive_s));
            }
            matched += 1;
        }
    }
    (items, matched)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use geo_types::{Geometry, point};
    use serde_json::Map;

    use super::*;
    use crate::index::Snapshot;
    use crate::model::{Access, Feature, Value, schema};
    use crate::query::DriveGate;

    fn deposit(id: u64, lon: f64, material: &str) -> Feature {
        let s = schema(Layer::WasteDeposits);
        let mut props = vec![None; s.fields.len()];
        props[s.index_of("material")] = Some(Value::Text(material.into()));
        props[s.index_of("quantity")] = Some(Value::Float(1.0));
        Feature {
            id,
            version: 1,
            geometry: Geometry::Point(point!(x: lon, y: 49.5)),
            props,
            extra: Map::new(),
        }
    }

    /// The drive-time hook: rows not reached, or reached too late, are left out; the others
    /// carry their time.
    #[test]
    fn drive_gate_filters_and_annotates() {
        let data = LayerData::build(
            Layer::WasteDeposits,
            vec![
                deposit(1, 0.100, "wood"),
                deposit(2, 0.101, "wood"),
                deposit(3, 0.102, "wood"),
                deposit(4, 0.103, "glass"),
            ],
        );
        let snap = Snapshot::new(1, [data]);
        let d = snap.layer(Layer::WasteDeposits);
        let mut times: HashMap<(Layer, u32), f64> = HashMap::new();
        times.insert((Layer::WasteDeposits, d.row_of(1).unwrap()), 300.0);
        times.insert((Layer::WasteDeposits, d.row_of(2).unwrap()), 1_500.0);
        times.insert((Layer::WasteDeposits, d.row_of(4).unwrap()), 60.0);
        let gate = DriveGate {
            times: &times,
            max_s: 1_200.0,
        };
        let q = LayerQuery {
            layer: Layer::WasteDeposits,
            scope: Scope::Radius {
                centre: point!(x: 0.1, y: 49.5),
                radius_m: 5_000.0,
            },
            filter: Filter::parse(
                Layer::WasteDeposits,
                &[("material".into(), "wood".into())],
                &[],
            )
            .unwrap(),
            origin: None,
            sort: Vec::new(),
            page: PageRequest::first(10),
        };
        let view = snap.view(&Access::ANONYMOUS);
        let page = search(&view, &q, Some(gate)).unwrap();
        let got: Vec<(u64, Option<f64>)> = page.items.iter().map(|h| (h.id, h.drive_s)).collect();
        assert_eq!(got, vec![(1, Some(300.0))]);
        assert_eq!(search(&view, &q, None).unwrap().matched, 3);
    }
}

//! `commune_insee` and `territory` derived from a feature's location, for features whose source
//! lacks them (a point-in-polygon test of the feature's interior point): the commune whose
//! polygon holds it; the territory of that commune (its EPCI), else the territory whose
//! polygon holds it. Used by `territory build` and by `terriens import` into a data directory
//! that holds communes (catchments) or territories.

use std::collections::{BTreeMap, HashMap};

use geo::{BoundingRect, InteriorPoint, Intersects};
use geo_types::{Geometry, MultiPolygon, Rect};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};

use super::build::as_multipolygon;
use crate::index::{LayerData, Snapshot, ValueRef};
use crate::model::{Feature, Layer, Value, schema};

/// Polygons indexed by their boxes (an R-tree: a lookup is made per imported feature, against
/// up to the 35,000 communes of France), for point-in-polygon lookups.
#[derive(Debug, Default)]
pub struct Areas {
    pub(super) items: Vec<(String, MultiPolygon<f64>)>,
    boxes: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
}

impl Areas {
    pub fn new(items: impl IntoIterator<Item = (String, MultiPolygon<f64>)>) -> Areas {
        let items: Vec<(String, MultiPolygon<f64>, Rect<f64>)> = items
            .into_iter()
            .filter_map(|(k, p)| p.bounding_rect().map(|r| (k, p, r)))
            .collect();
        let boxes = RTree::bulk_load(
            items
                .iter()
                .enumerate()
                .map(|(i, (_, _, r))| {
                    let rect =
                        Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
                    GeomWithData::new(rect, i)
                })
                .collect(),
        );
        Areas {
            items: items.into_iter().map(|(k, p, _)| (k, p)).collect(),
            boxes,
        }
    }

    /// The polygons of a layer keyed by a text field.
    fn of_layer(data: &LayerData, key: &str) -> Areas {
        Areas::new((0..data.len() as u32).filter_map(|r| {
            let Some(ValueRef::Text(k)) = data.value_by_name(r, key) else {
                return None;
            };
            Some((k.to_string(), as_multipolygon(data.geometry(r))?))
        }))
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The key of the polygon holding the geometry's interior point (the first in input order
    /// when polygons overlap).
    pub fn locate(&self, g: &Geometry<f64>) -> Option<&str> {
        let p = g.interior_point()?;
        self.boxes
            .locate_all_at_point(&[p.x(), p.y()])
            .map(|b| b.data)
            .filter(|&i| self.items[i].1.intersects(&p))
            .min()
            .map(|i| self.items[i].0.as_str())
    }
}

/// What derives the two fields.
pub struct Locator<'a> {
    /// Commune polygons by INSEE code.
    pub communes: &'a Areas,
    /// Territory polygons by SIREN.
    pub territories: Areas,
    /// Commune INSEE code → the SIREN of its EPCI.
    pub commune_epci: HashMap<String, String>,
}

impl Locator<'_> {
    /// Gives the fields to the features that lack them; `derived` counts per field.
    pub fn derive(
        &self,
        features: &mut [Feature],
        layer: Layer,
        derived: &mut BTreeMap<String, usize>,
    ) {
        let s = schema(layer);
        let c_slot = s.field("commune_insee").map(|(i, _)| i);
        let Some(t_slot) = s.field("territory").map(|(i, _)| i) else {
            return;
        };
        for f in features.iter_mut() {
            if let Some(c) = c_slot
                && f.props[c].is_none()
                && let Some(code) = self.communes.locate(&f.geometry)
            {
                f.props[c] = Some(Value::Text(code.to_string()));
                *derived.entry("commune_insee".into()).or_insert(0) += 1;
            }
            if f.props[t_slot].is_some() {
                continue;
            }
            // A catchment is a commune: its own code is its commune.
            let commune_field = c_slot.or_else(|| s.field("zone_code").map(|(i, _)| i));
            let commune = commune_field.and_then(|c| match &f.props[c] {
                Some(Value::Text(code)) => Some(code.as_str()),
                _ => None,
            });
            let siren = commune
                .and_then(|c| self.commune_epci.get(c).map(String::as_str))
                .or_else(|| self.territories.locate(&f.geometry));
            if let Some(siren) = siren {
                f.props[t_slot] = Some(Value::Text(siren.to_string()));
                *derived.entry("territory".into()).or_insert(0) += 1;
            }
        }
    }
}

/// Derives the fields of features about to be imported into a data directory, from its
/// catchments (communes: `zone_code`, and their `territory`) and territories (`siren`).
/// Nothing happens when the directory holds neither.
pub fn derive_location(
    features: &mut [Feature],
    layer: Layer,
    snapshot: &Snapshot,
) -> BTreeMap<String, usize> {
    let mut derived = BTreeMap::new();
    if matches!(layer, Layer::Territories) {
        return derived;
    }
    let catchments = snapshot.layer(Layer::Catchments);
    let communes = if layer == Layer::Catchments {
        Areas::default()
    } else {
        Areas::of_layer(catchments, "zone_code")
    };
    let commune_epci = (0..catchments.len() as u32)
        .filter_map(|r| {
            match (
                catchments.value_by_name(r, "zone_code"),
                catchments.value_by_name(r, "territory"),
            ) {
                (Some(ValueRef::Text(c)), Some(ValueRef::Text(t))) => {
                    Some((c.to_string(), t.to_string()))
                }
                _ => None,
            }
        })
        .collect();
    let locator = Locator {
        communes: &communes,
        territories: Areas::of_layer(snapshot.layer(Layer::Territories), "siren"),
        commune_epci,
    };
    if locator.communes.is_empty() && locator.territories.is_empty() {
        return derived;
    }
    locator.derive(features, layer, &mut derived);
    derived
}

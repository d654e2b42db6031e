//! What a tile request asks for: which layers (one, a composite list, or `all`), with which
//! filters, for which [`Audience`] (derived from the caller's view: confidential waste deposits
//! are in the tiles of partners only, left out for everyone else, as in search and OGC items).
//! Its canonical text is the cache key and ETag part that does not depend on the tile address.
//! The filters are the attribute filters as parsed; rows are tested through a
//! `index::LayerView` of the set's audience when tiles are drawn.

use std::fmt::Write as _;

use super::TileError;
use crate::index::{Filter, View};
use crate::model::{Audience, Layer};

/// The layer list a request names: `plots`, `plots,buildings` or `all`.
#[derive(Debug, Clone, PartialEq)]
pub struct TileSet {
    /// Requested layers, in request order, each with its filter.
    pub layers: Vec<(Layer, Filter)>,
    /// Who the tiles are for.
    pub audience: Audience,
}

/// Name of the all-layers alias.
pub const ALL_ALIAS: &str = "all";

/// Parses a layer list (`plots`, `plots,waste_deposits`, `all`).
///
/// ```
/// use terriens::tiles::parse_layers;
/// use terriens::model::Layer;
/// assert_eq!(parse_layers("plots,buildings").unwrap(), vec![Layer::Plots, Layer::Buildings]);
/// assert_eq!(parse_layers("all").unwrap().len(), 5);
/// assert!(parse_layers("plots,roads").is_err());
/// ```
pub fn parse_layers(list: &str) -> Result<Vec<Layer>, TileError> {
    if list == ALL_ALIAS {
        return Ok(Layer::ALL.to_vec());
    }
    let mut out: Vec<Layer> = Vec::new();
    for id in list.split(',') {
        let layer: Layer = id.trim().parse()?;
        if out.contains(&layer) {
            return Err(TileError::DuplicateLayer(layer.id().to_string()));
        }
        out.push(layer);
    }
    Ok(out)
}

impl TileSet {
    /// A tile set without filters.
    pub fn new(layers: &[Layer], audience: Audience) -> TileSet {
        TileSet {
            layers: layers.iter().map(|l| (*l, Filter::all(*l))).collect(),
            audience,
        }
    }

    /// Parses the layer list and the filter parameters (same grammar and errors as search).
    /// With one layer a parameter naming no field is an error of that layer; with several,
    /// each filter applies to the layers that have the field, and a parameter that no layer has
    /// is an error. `reserved` parameters (e.g. `v`) are skipped.
    pub fn parse(
        list: &str,
        params: &[(String, String)],
        reserved: &[&str],
        audience: Audience,
    ) -> Result<TileSet, TileError> {
        TileSet::parse_with(list, params, reserved, audience, None)
    }

    /// Like [`TileSet::parse`] for the caller of `view`: the tiles of one layer also filter on
    /// the source attributes of the rows the caller sees (`Filter::parse_in`).
    pub fn parse_in(
        list: &str,
        params: &[(String, String)],
        reserved: &[&str],
        view: &View,
    ) -> Result<TileSet, TileError> {
        TileSet::parse_with(list, params, reserved, view.audience(), Some(view))
    }

    fn parse_with(
        list: &str,
        params: &[(String, String)],
        reserved: &[&str],
        audience: Audience,
        view: Option<&View>,
    ) -> Result<TileSet, TileError> {
        let layers = parse_layers(list)?;
        let mut out = Vec::with_capacity(layers.len());
        if let [layer] = layers.as_slice() {
            let filter = match view {
                Some(v) => Filter::parse_in(&v.layer(*layer), params, reserved)?,
                None => Filter::parse(*layer, params, reserved)?,
            };
            out.push((*layer, filter));
        } else {
            let mut unknown_everywhere: Option<Vec<String>> = None;
            for layer in &layers {
                let (f, unknown) = Filter::parse_lenient(*layer, params, reserved)?;
                unknown_everywhere = Some(match unknown_everywhere {
                    None => unknown,
                    Some(prev) => prev.into_iter().filter(|p| unknown.contains(p)).collect(),
                });
                out.push((*layer, f));
            }
            if let Some(param) = unknown_everywhere.and_then(|u| u.into_iter().next()) {
                return Err(TileError::FilterMatchesNoLayer {
                    param,
                    layers: layers.iter().map(|l| l.id()).collect::<Vec<_>>().join(", "),
                });
            }
        }
        Ok(TileSet {
            layers: out,
            audience,
        })
    }

    /// The layer ids joined by commas, as in URLs.
    pub fn name(&self) -> String {
        self.layers
            .iter()
            .map(|(l, _)| l.id())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Whether any layer is filtered.
    pub fn is_filtered(&self) -> bool {
        self.layers.iter().any(|(_, f)| !f.is_empty())
    }

    /// Canonical text: layers, filters and audience. Equal texts select the same features.
    pub fn canonical(&self) -> String {
        let mut s = String::new();
        for (layer, filter) in &self.layers {
            let _ = write!(s, "{}[{}];", layer.id(), filter.canonical());
        }
        s.push_str(self.audience.key());
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn composite_filters_go_to_the_layers_that_have_the_field() {
        let ts = TileSet::parse(
            "plots,waste_deposits",
            &p(&[("material", "wood"), ("area_ha_min", "2"), ("v", "3")]),
            &["v"],
            Audience::Full,
        )
        .unwrap();
        assert_eq!(ts.layers[0].1.conditions().len(), 1);
        assert_eq!(ts.layers[1].1.conditions().len(), 1);
        assert_eq!(
            ts.canonical(),
            "plots[area_ha=2..];waste_deposits[material=wood];full"
        );
        let err = TileSet::parse(
            "plots,waste_deposits",
            &p(&[("colour", "red")]),
            &[],
            Audience::Full,
        )
        .unwrap_err();
        assert_eq!(err.param(), Some("colour"));
        let err =
            TileSet::parse("plots", &p(&[("material", "wood")]), &[], Audience::Full).unwrap_err();
        assert_eq!(err.param(), Some("material"));
        assert!(matches!(
            parse_layers("plots,plots"),
            Err(TileError::DuplicateLayer(_))
        ));
    }
}

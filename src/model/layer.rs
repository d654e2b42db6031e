//! The five resource layers terriens serves.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One of the resource layers. The order is the order of [`Layer::ALL`], used for arrays indexed
/// by layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// Industrial land (polygons; points where only a centroid and a declared surface are known).
    Plots,
    /// Ready-to-use buildings (polygons or points).
    Buildings,
    /// Waste streams another plant could use as raw material (points).
    WasteDeposits,
    /// Workforce catchments (polygons), with candidates by occupation.
    Catchments,
    /// EPCI boundaries (polygons).
    Territories,
}

impl Layer {
    /// Every layer, in a fixed order.
    pub const ALL: [Layer; 5] = [
        Layer::Plots,
        Layer::Buildings,
        Layer::WasteDeposits,
        Layer::Catchments,
        Layer::Territories,
    ];

    /// The layer id used in URLs, files and MVT layer names.
    pub const fn id(self) -> &'static str {
        match self {
            Layer::Plots => "plots",
            Layer::Buildings => "buildings",
            Layer::WasteDeposits => "waste_deposits",
            Layer::Catchments => "catchments",
            Layer::Territories => "territories",
        }
    }

    /// Position in [`Layer::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// A human title, for catalogs and OGC collections.
    pub const fn title(self) -> &'static str {
        match self {
            Layer::Plots => "Industrial land plots",
            Layer::Buildings => "Ready-to-use buildings",
            Layer::WasteDeposits => "Waste deposits and resource streams",
            Layer::Catchments => "Workforce catchments",
            Layer::Territories => "Territories (EPCI)",
        }
    }

    /// The geometry kinds a feature of this layer may have.
    pub const fn geometry_kind(self) -> GeometryKind {
        match self {
            // A plot known only by its centroid and declared surface (e.g. Cerema Cartofriches)
            // is kept as a point rather than given an invented outline.
            Layer::Plots | Layer::Buildings => GeometryKind::PolygonOrPoint,
            Layer::WasteDeposits => GeometryKind::Point,
            Layer::Catchments | Layer::Territories => GeometryKind::Polygon,
        }
    }

    /// Comma-separated list of the layer ids, for error messages.
    pub fn valid_ids() -> String {
        Layer::ALL.map(Layer::id).join(", ")
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// An unknown layer id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown layer `{0}`; valid layers are: {valid}", valid = Layer::valid_ids())]
pub struct UnknownLayer(pub String);

impl FromStr for Layer {
    type Err = UnknownLayer;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Layer::ALL
            .into_iter()
            .find(|l| l.id() == s)
            .ok_or_else(|| UnknownLayer(s.to_string()))
    }
}

/// Which geometries a layer accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeometryKind {
    /// Point only.
    Point,
    /// Polygon or MultiPolygon only.
    Polygon,
    /// Polygon, MultiPolygon or Point.
    PolygonOrPoint,
}

impl GeometryKind {
    /// What the kind accepts, for error messages.
    pub const fn describe(self) -> &'static str {
        match self {
            GeometryKind::Point => "Point",
            GeometryKind::Polygon => "Polygon or MultiPolygon",
            GeometryKind::PolygonOrPoint => "Polygon, MultiPolygon or Point",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for l in Layer::ALL {
            assert_eq!(l.id().parse::<Layer>().unwrap(), l);
            assert_eq!(Layer::ALL[l.index()], l);
        }
        let err = "roads".parse::<Layer>().unwrap_err();
        assert!(err.to_string().contains("waste_deposits"));
    }
}

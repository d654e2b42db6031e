//! The one registry of reserved parameter names: for each kind of read, the parameters that
//! are not filters. Every other parameter of a query string is read by the filter grammar
//! (`index::Filter::parse`), which refuses names that are not fields of the layer.

/// The kinds of read whose query strings mix named parameters with filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/layers/{layer}/search`.
    LayerSearch,
    /// `/sites/search`.
    SiteSearch,
    /// `/sites/near-waste` (its `deposit.` filters are read on their own).
    NearWaste,
    /// `/waste_deposits/{id}/sites`.
    DepositSites,
    /// `/tiles/...` and TileJSON.
    Tiles,
    /// `/ogc/collections/{layer}/items`.
    OgcItems,
}

/// Parameters of the spatial part and paging of a search.
pub const SPATIAL: &[&str] = &[
    "lon",
    "lat",
    "radius_m",
    "k",
    "bbox",
    "relation",
    "in_territory",
    "limit",
    "cursor",
];

/// Parameters of a drive-time restriction.
pub const DRIVE: &[&str] = &["drive_from", "drive_to", "drive_max_min", "profile"];

/// Parameters of `/sites/near-waste` besides the spatial, drive and sort ones.
const WASTE: &[&str] = &[
    "materials",
    "within_km",
    "max_drive_min",
    "min_total",
    "deposits_limit",
];

/// Parameters of the sites around one deposit besides the drive ones.
const DEPOSIT_SITES: &[&str] = &["within_km", "limit", "cursor", "sort"];

/// Parameters of tile URLs that are not filters.
const TILES: &[&str] = &["v"];

/// Parameters of the OGC items request; any other is a property filter.
const OGC_ITEMS: &[&str] = &[
    "bbox",
    "bbox-crs",
    "limit",
    "datetime",
    "cursor",
    "f",
    "crs",
    "filter",
    "filter-lang",
    "filter-crs",
    "sortby",
    "properties",
];

impl Endpoint {
    /// The names this kind of read reserves (not filters).
    pub fn reserved(self) -> Vec<&'static str> {
        let parts: &[&[&'static str]] = match self {
            Endpoint::LayerSearch => &[SPATIAL, DRIVE],
            Endpoint::SiteSearch => &[SPATIAL, DRIVE, &["sort"]],
            Endpoint::NearWaste => &[SPATIAL, DRIVE, WASTE, &["sort"]],
            Endpoint::DepositSites => &[DEPOSIT_SITES, DRIVE],
            Endpoint::Tiles => &[TILES],
            Endpoint::OgcItems => &[OGC_ITEMS],
        };
        parts.concat()
    }

    /// Whether `name` is reserved by this kind of read.
    pub fn reserves(self, name: &str) -> bool {
        self.reserved().contains(&name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_search_reserves_paging_and_drives() {
        for e in [
            Endpoint::LayerSearch,
            Endpoint::SiteSearch,
            Endpoint::NearWaste,
        ] {
            for p in ["limit", "cursor", "drive_from", "profile"] {
                assert!(e.reserves(p), "{e:?} {p}");
            }
        }
        assert!(Endpoint::DepositSites.reserves("within_km"));
        assert!(!Endpoint::DepositSites.reserves("lon"));
        assert!(Endpoint::Tiles.reserves("v") && !Endpoint::Tiles.reserves("limit"));
        assert!(Endpoint::OgcItems.reserves("filter-crs"));
    }
}

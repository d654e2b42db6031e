//! Spatial queries over the layers of a snapshot: radius, nearest, box and polygon searches with
//! attribute filters, investor site search over plots and buildings, and the join of sites with
//! the waste deposits around them.
//!
//! Steps of every query: validate the request against the limits (before any work) → collect
//! the candidate rows from the R-tree → keep those the filter (and, when given, the drive-time
//! gate) admits → measure distances on the ellipsoid → sort → cut one page, with a cursor bound
//! to the data generation and to the query.

mod bbox;
mod diagnostic;
mod distance;
mod drive;
mod error;
mod hit;
mod knn;
mod near_deposit;
mod near_waste;
mod page;
mod polygon;
mod radius;
mod scope;
mod search;
mod site_search;

pub use bbox::bbox;
pub use diagnostic::{
    Buildings, Diagnostic, Group, LAND_CONSTRAINTS, LAND_SOURCE_BREAKDOWNS, Land, SIZE_CLASSES,
    Tally, Waste, diagnostic, territory_known,
};
pub use distance::{box_lower_bound_m, distance_to_geometry_m};
pub use drive::{DriveFrom, DriveGate, RowTimes, TravelTimes};
pub use error::QueryError;
pub use hit::{Hit, Selector};
pub use knn::knn;
pub use near_deposit::near_deposit;
pub use near_waste::{
    DepositDriveTimes, DepositLink, MAX_DRIVE_DEPOSITS, NearWasteQuery, WasteSite, WasteSort,
    deposit_drive_times, near_waste,
};
pub use page::{Cursor, Page, PageRequest, cut, fnv1a};
pub use polygon::polygon;
pub use radius::radius;
pub use scope::{
    Caps, Relation, Scope, check_bbox, check_k, check_limit, check_point, check_polygon,
    check_radius, territory_scope,
};
pub use search::{LayerQuery, SortKey, search};
pub use site_search::{
    CONSTRAINTS, SITE_LAYERS, SITE_PARAMS, SiteFilter, SiteHit, SiteQuery, SiteSort, UTILITIES,
    site_param_names, site_search,
};

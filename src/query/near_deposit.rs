//! The reverse of the sites–waste join: for one deposit, the candidate sites around it.
//!
//! A site search whose scope is the circle of radius `within_m` around the deposit, so sites
//! come with their distance to it and the same filters, exclusions and sorts apply.

use geo::Centroid;
use geo_types::Geometry;

use super::QueryError;
use super::drive::DriveGate;
use super::page::{Page, PageRequest};
use super::scope::Scope;
use super::site_search::{SiteFilter, SiteHit, SiteQuery, SiteSort, site_search};
use crate::index::View;
use crate::model::{FeatureId, Layer};

/// The deposit's row, and the page of sites within `within_m` metres of it. A deposit the
/// caller may not see is not found.
pub fn near_deposit(
    view: &View,
    deposit: FeatureId,
    within_m: f64,
    sites: SiteFilter,
    sort: SiteSort,
    page: PageRequest,
    drive: Option<DriveGate>,
) -> Result<(u32, Page<SiteHit>), QueryError> {
    let deposits = view.layer(Layer::WasteDeposits);
    let data = deposits.data();
    let row = deposits.get(deposit).ok_or(QueryError::NotFound {
        layer: Layer::WasteDeposits,
        id: deposit,
    })?;
    let centre = match data.geometry(row) {
        Geometry::Point(p) => *p,
        other => other.centroid().ok_or(QueryError::NotFound {
            layer: Layer::WasteDeposits,
            id: deposit,
        })?,
    };
    let q = SiteQuery {
        sites,
        scope: Scope::Radius {
            centre,
            radius_m: within_m,
        },
        origin: None,
        sort,
        page,
    };
    Ok((row, site_search(view, &q, drive)?))
}

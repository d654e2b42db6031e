//! The plan of a site search (`/sites/search`): plots and buildings together, sorted by
//! distance when the search has a point, by area otherwise (unless `sort` says).

use super::search::Area;
use super::{Endpoint, Params, RequestError};
use crate::query::{SiteFilter, SiteQuery, SiteSort};

/// Reads the sort and site filters of a site search over `area`.
pub fn plan(params: &Params, area: Area) -> Result<SiteQuery, RequestError> {
    let has_point = area.scope.centre().or(area.origin).is_some();
    let sort = match params.get("sort")? {
        Some(s) => SiteSort::parse(s, has_point)?,
        None => SiteSort::default_for(has_point),
    };
    let sites = SiteFilter::parse(&params.0, &Endpoint::SiteSearch.reserved())?;
    Ok(SiteQuery {
        sites,
        scope: area.scope,
        origin: area.origin,
        sort,
        page: area.page,
    })
}

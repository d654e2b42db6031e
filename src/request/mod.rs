//! Requests planned below the API: query pairs, a JSON body, the caller's view of the data and
//! the configured [`Limits`] become typed, validated plans (scope, filters, page, drive spec) that
//! `query`, `routing` and `tiles` run. Nothing here knows HTTP; the API extracts, calls a
//! planner, runs the plan and serialises.
//!
//! - [`Params`]: the query string, read by name (the one `get`).
//! - [`Endpoint`]: the one registry of reserved (non-filter) parameter names.
//! - [`filter`]: the one entry point of attribute filters (the grammar is `index::Filter`).
//! - [`search`]: scope, page, drive spec and polygon bodies of searches; the drive minutes cap
//!   is checked there, once.
//! - [`site_search`]: the plan of a site search.
//! - [`near_waste`]: the plan of the sites–waste join.
//! - [`ogc`]: the page and `datetime` of OGC items requests.

pub mod error;
pub mod near_waste;
pub mod ogc;
pub mod params;
pub mod reserved;
pub mod search;
pub mod site_search;

pub use error::RequestError;
pub use params::Params;
pub use reserved::Endpoint;
pub use search::DriveSpec;

use crate::config::Limits;
use crate::index::{Filter, LayerView};

/// The attribute filter of a layer read from `pairs` (skipping the names `endpoint`
/// reserves): fields of the schema, and the source attributes of the rows `view` sees. Which
/// rows the caller may see is still the view's business when the filter runs.
pub fn filter(
    view: &LayerView,
    pairs: &[(String, String)],
    endpoint: Endpoint,
) -> Result<Filter, RequestError> {
    Ok(Filter::parse_in(view, pairs, &endpoint.reserved())?)
}

/// A drive budget in minutes: above 0 (`got` is how the value is quoted in the error) and at
/// most the longest drive of the limits (`max_contour_min`, a 400 `over-limit`). The one
/// check of the drive-time cap of searches and joins.
pub fn drive_minutes(
    param: &str,
    minutes: f64,
    got: &str,
    limits: &Limits,
) -> Result<f64, RequestError> {
    if !(minutes.is_finite() && minutes > 0.0) {
        return Err(RequestError::bad_param(
            param,
            format!("`{param}` must be a number of minutes above 0, got {got}"),
        ));
    }
    Limits::cap(param, minutes, limits.max_contour_min)?;
    Ok(minutes)
}

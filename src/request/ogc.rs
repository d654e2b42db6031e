//! The plan of OGC API – Features items requests: the page (a `limit` above the cap is
//! lowered to it, as the standard asks) and the `datetime` parameter as a date range of the
//! filter grammar. CRS handling stays with the OGC handlers (it needs PROJ).

use super::{Params, RequestError};
use crate::config::Limits;
use crate::model::Layer;
use crate::query::{Cursor, PageRequest};

/// The page of an items request: `limit` at least 1 (lowered to the cap) and `cursor`.
pub fn page(params: &Params, limits: &Limits) -> Result<PageRequest, RequestError> {
    let limit = match params.parse_as::<usize>("limit", "a whole number ≥ 1")? {
        None => limits.default_limit,
        Some(0) => {
            return Err(RequestError::bad_param(
                "limit",
                "`limit` must be at least 1",
            ));
        }
        Some(l) => l.min(limits.max_limit),
    };
    let cursor = params.get("cursor")?.map(Cursor::decode).transpose()?;
    Ok(PageRequest { limit, cursor })
}

/// The property-filter pairs of an items request: the query pairs, plus `datetime` as a range
/// of `available_from` on layers that have it.
pub fn filter_pairs(layer: Layer, params: &Params) -> Result<Vec<(String, String)>, RequestError> {
    let mut pairs = params.0.clone();
    if let Some(dt) = params.get("datetime")?
        && has_time(layer)
    {
        pairs.push(("available_from".into(), datetime_range(dt)?));
    }
    Ok(pairs)
}

/// Layers with a temporal property (`available_from`).
fn has_time(layer: Layer) -> bool {
    matches!(layer, Layer::Plots | Layer::Buildings)
}

/// An OGC `datetime` (instant, or interval `start/end` with `..` or empty for an open end) as
/// a date range of the filter grammar. Times of day are dropped: the property is a date.
fn datetime_range(dt: &str) -> Result<String, RequestError> {
    let bad = || {
        RequestError::bad_param(
            "datetime",
            format!(
                "`datetime` must be a date or date-time (RFC 3339) or an interval start/end with `..` for an open end, got `{dt}`"
            ),
        )
    };
    let date = |t: &str| -> Result<String, RequestError> {
        let t = t.trim();
        if t.is_empty() || t == ".." {
            return Ok(String::new());
        }
        let d = t.get(..10).ok_or_else(bad)?;
        chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| bad())?;
        if t.len() > 10 && !matches!(t.as_bytes()[10], b'T' | b't' | b' ') {
            return Err(bad());
        }
        Ok(d.to_string())
    };
    match dt.split_once('/') {
        None => {
            let d = date(dt)?;
            if d.is_empty() {
                return Err(bad());
            }
            Ok(format!("{d}..{d}"))
        }
        Some((a, b)) => {
            let (a, b) = (date(a)?, date(b)?);
            if a.is_empty() && b.is_empty() {
                return Err(bad());
            }
            if !a.is_empty() && !b.is_empty() && a > b {
                return Err(RequestError::bad_param(
                    "datetime",
                    format!("`datetime` interval {dt} ends before it starts"),
                ));
            }
            Ok(format!("{a}..{b}"))
        }
    }
}

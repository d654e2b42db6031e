//! The plan of OGC API – Features items requests: the page (a `limit` above the cap is
//! lowered to it, as the standard asks), the `datetime` parameter as a date range of the
//! filter grammar, `sortby` (typed fields, `+`/`-`) and `properties` (the property selection).
//! CRS handling stays with the OGC handlers (it needs PROJ).

use super::{Params, RequestError};
use crate::config::Limits;
use crate::index::LayerView;
use crate::model::{FieldType, Layer, schema};
use crate::query::{Cursor, PageRequest, SortKey};

/// The fields of a layer `sortby` may name: every typed field but counts (maps of numbers).
pub fn sortable_fields(layer: Layer) -> impl Iterator<Item = &'static crate::model::Field> {
    schema(layer)
        .fields
        .iter()
        .filter(|f| f.ty != FieldType::Counts)
}

/// `sortby=+name,-area_ha`: typed fields of the layer, `+` or no sign ascending, `-`
/// descending; each at most once. Absent: no sort keys (storage order).
pub fn sortby(layer: Layer, params: &Params) -> Result<Vec<SortKey>, RequestError> {
    let Some(text) = params.get("sortby")? else {
        return Ok(Vec::new());
    };
    let mut keys: Vec<SortKey> = Vec::new();
    for term in text.split(',') {
        let term = term.trim();
        let (desc, name) = match term.as_bytes().first() {
            Some(b'-') => (true, term[1..].trim()),
            Some(b'+') => (false, term[1..].trim()),
            _ => (false, term),
        };
        if name.is_empty() {
            return Err(RequestError::bad_param(
                "sortby",
                format!("`sortby` has an empty term in `{text}`; write fields as +name,-area_ha"),
            ));
        }
        let s = schema(layer);
        let field = match s.field(name) {
            Some((i, f)) if f.ty != FieldType::Counts => i,
            _ => {
                let known: Vec<&str> = sortable_fields(layer).map(|f| f.name).collect();
                return Err(RequestError::bad_param(
                    "sortby",
                    format!(
                        "`sortby`: {} has no sortable field `{name}`; sortable: {}",
                        layer.id(),
                        known.join(", ")
                    ),
                ));
            }
        };
        if keys.iter().any(|k| k.field == field) {
            return Err(RequestError::bad_param(
                "sortby",
                format!("`sortby` names `{name}` twice"),
            ));
        }
        keys.push(SortKey { field, desc });
    }
    Ok(keys)
}

/// `properties=a,b`: the properties each feature keeps (its id and geometry are always
/// kept): fields of the layer or source attributes the caller's view holds. Absent: all.
pub fn properties(view: &LayerView, params: &Params) -> Result<Option<Vec<String>>, RequestError> {
    let Some(text) = params.get("properties")? else {
        return Ok(None);
    };
    let layer = view.layer();
    let attrs = view.source_attrs();
    let mut names = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if schema(layer).field(name).is_none() && attrs.get(name).is_none() {
            return Err(RequestError::bad_param(
                "properties",
                format!(
                    "`properties`: {} has no property `{name}` (see /ogc/collections/{}/schema)",
                    layer.id(),
                    layer.id()
                ),
            ));
        }
        if !names.iter().any(|n: &String| n == name) {
            names.push(name.to_string());
        }
    }
    Ok(Some(names))
}

/// The page of an items request: `limit` at least 1 (lowered to the cap) and `cursor`.
pub fn page(params: &Params, limits: &Limits) -> Result<PageRequest, RequestError> {
    // OGC API – Features: any limit above the server's maximum is lowered to it, however
    // large (digits beyond `u64` included).
    let limit = match params.get("limit")? {
        None => limits.default_limit,
        Some(v) => {
            let v = v.trim();
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(RequestError::bad_param(
                    "limit",
                    format!("`limit` must be a whole number ≥ 1, got `{v}`"),
                ));
            }
            match v.parse::<u64>() {
                Ok(0) => {
                    return Err(RequestError::bad_param(
                        "limit",
                        "`limit` must be at least 1",
                    ));
                }
                Ok(l) => usize::try_from(l)
                    .unwrap_or(usize::MAX)
                    .min(limits.max_limit),
                // Only digits, too many for u64: far above the maximum.
                Err(_) => limits.max_limit,
            }
        }
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

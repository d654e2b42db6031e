//! Reading search requests: query parameters and polygon bodies into the query module's types
//! (scope, page, drive spec). Every check that needs no data runs here, before any work.

use geo_types::{MultiPolygon, Point};
use serde_json::Value as Json;

use super::RequestError;
use super::params::get;
use crate::config::Limits;
use crate::index::View;
use crate::ingest::geometry_from_geojson;
use crate::model::Layer;
use crate::query::{
    Caps, Cursor, LayerQuery, PageRequest, QueryError, Relation, Scope, check_bbox, check_k,
    check_limit, check_point, check_polygon, check_radius, territory_scope,
};
use crate::routing::{Direction, ProfileId, RoutingError};

/// The search caps of the configured limits.
pub fn caps(limits: &Limits) -> Caps {
    Caps {
        max_radius_m: limits.max_radius_m,
        max_k: limits.max_k,
        max_limit: limits.max_limit,
    }
}

/// Query string pairs, as the extractor gives them.
pub type Pairs = [(String, String)];

fn number(params: &Pairs, name: &str) -> Result<Option<f64>, RequestError> {
    match get(params, name)? {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map(Some)
            .ok_or_else(|| {
                RequestError::bad_param(name, format!("`{name}` must be a number, got `{v}`"))
            }),
    }
}

fn whole(params: &Pairs, name: &str) -> Result<Option<usize>, RequestError> {
    match get(params, name)? {
        None => Ok(None),
        Some(v) => v.trim().parse::<usize>().map(Some).map_err(|_| {
            RequestError::bad_param(
                name,
                format!("`{name}` must be a whole number ≥ 0, got `{v}`"),
            )
        }),
    }
}

/// The optional `lon`, `lat` point (both or neither).
pub fn point(params: &Pairs) -> Result<Option<Point<f64>>, RequestError> {
    match (number(params, "lon")?, number(params, "lat")?) {
        (None, None) => Ok(None),
        (Some(lon), Some(lat)) => Ok(Some(check_point(lon, lat, "lon", "lat")?)),
        (Some(_), None) => Err(RequestError::bad_param(
            "lat",
            "`lon` is given without `lat`",
        )),
        (None, Some(_)) => Err(RequestError::bad_param(
            "lon",
            "`lat` is given without `lon`",
        )),
    }
}

/// `limit` (default from the limits, at most the cap) and `cursor`.
pub fn page(params: &Pairs, limits: &Limits) -> Result<PageRequest, RequestError> {
    let limit = match whole(params, "limit")? {
        None => limits.default_limit,
        Some(l) => check_limit(l, &caps(limits))?,
    };
    let cursor = get(params, "cursor")?.map(Cursor::decode).transpose()?;
    Ok(PageRequest { limit, cursor })
}

/// A drive-time restriction: features reached within `max_s` seconds of driving from (or to)
/// one point on the road graph of a profile.
#[derive(Debug, Clone, Copy)]
pub struct DriveSpec {
    pub origin: [f64; 2],
    pub direction: Direction,
    pub max_s: f64,
    pub profile: ProfileId,
    /// The parameter that gave the point (`drive_from` or `drive_to`), for errors.
    pub param: &'static str,
}

/// Reads `drive_from=lon,lat` (from the point: "sites I can reach") or `drive_to=lon,lat` (to
/// the point: what commuters driving to a site do), with `drive_max_min` (minutes, required)
/// and `profile` (default `car`). `None` when neither point is given.
pub fn drive(params: &Pairs, limits: &Limits) -> Result<Option<DriveSpec>, RequestError> {
    let from = get(params, "drive_from")?;
    let to = get(params, "drive_to")?;
    let max = get(params, "drive_max_min")?;
    let (param, value, direction) = match (from, to) {
        (Some(_), Some(_)) => {
            return Err(RequestError::bad_param(
                "drive_to",
                "give `drive_from` or `drive_to`, not both",
            ));
        }
        (Some(v), None) => ("drive_from", v, Direction::From),
        (None, Some(v)) => ("drive_to", v, Direction::To),
        (None, None) => {
            // `profile` is checked even when no drive uses it: a typo is said, not ignored.
            parse_profile(get(params, "profile")?)?;
            if max.is_some() {
                return Err(RequestError::bad_param(
                    "drive_max_min",
                    "`drive_max_min` needs `drive_from=lon,lat` or `drive_to=lon,lat`",
                ));
            }
            return Ok(None);
        }
    };
    let origin = lon_lat(param, value)?;
    let max = max.ok_or_else(|| {
        RequestError::bad_param(
            "drive_max_min",
            format!("`{param}` needs `drive_max_min` (minutes, e.g. drive_max_min=30)"),
        )
    })?;
    let minutes = max.trim().parse::<f64>().unwrap_or(f64::NAN);
    let minutes = super::drive_minutes("drive_max_min", minutes, &format!("`{max}`"), limits)?;
    let profile = parse_profile(get(params, "profile")?)?;
    Ok(Some(DriveSpec {
        origin,
        direction,
        max_s: minutes * 60.0,
        profile,
        param,
    }))
}

/// A `lon,lat` point of `param` in WGS84 degrees.
fn lon_lat(param: &'static str, value: &str) -> Result<[f64; 2], RequestError> {
    let nums: Vec<f64> = value
        .split(',')
        .map(|t| t.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .unwrap_or_default();
    match nums.as_slice() {
        [lon, lat]
            if lon.is_finite()
                && lat.is_finite()
                && (-180.0..=180.0).contains(lon)
                && (-90.0..=90.0).contains(lat) =>
        {
            Ok([*lon, *lat])
        }
        _ => Err(RequestError::bad_param(
            param,
            format!("`{param}` must be lon,lat in WGS84 degrees, e.g. 1.0,49.52; got `{value}`"),
        )),
    }
}

/// A `bbox=min_lon,min_lat,max_lon,max_lat` value (a 6-number 3D box keeps its x and y).
pub fn parse_bbox(v: &str) -> Result<[f64; 4], RequestError> {
    let nums: Vec<f64> = v
        .split(',')
        .map(|t| t.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            RequestError::bad_param(
                "bbox",
                format!("`bbox` must be four numbers min_lon,min_lat,max_lon,max_lat, got `{v}`"),
            )
        })?;
    let b = match nums.as_slice() {
        [a, b, c, d] => [*a, *b, *c, *d],
        [a, b, _, d, e, _] => [*a, *b, *d, *e],
        _ => {
            return Err(RequestError::bad_param(
                "bbox",
                format!(
                    "`bbox` must be four numbers min_lon,min_lat,max_lon,max_lat, got {} numbers",
                    nums.len()
                ),
            ));
        }
    };
    Ok(check_bbox(b)?)
}

/// The scope of a GET search and the point distances are measured from.
///
/// `radius_m` and `k` need `lon`/`lat`; `bbox` and `in_territory` may come with a point, which
/// then orders results by distance; a point alone is refused (it would rank the whole layer).
pub fn scope(
    params: &Pairs,
    limits: &Limits,
    view: &View,
    polygon: Option<(MultiPolygon<f64>, Relation)>,
) -> Result<(Scope, Option<Point<f64>>), RequestError> {
    let caps = caps(limits);
    let centre = point(params)?;
    let radius = number(params, "radius_m")?
        .map(|r| check_radius("radius_m", r, &caps))
        .transpose()?;
    let k = whole(params, "k")?.map(|k| check_k(k, &caps)).transpose()?;
    let bbox = get(params, "bbox")?.map(parse_bbox).transpose()?;
    let territory = get(params, "in_territory")?;
    if polygon.is_none() && get(params, "relation")?.is_some() {
        return Err(RequestError::bad_param(
            "relation",
            "`relation` applies to a polygon search: POST a GeoJSON polygon",
        ));
    }
    let areas = [
        ("radius_m", radius.is_some() || k.is_some()),
        ("bbox", bbox.is_some()),
        ("in_territory", territory.is_some()),
        ("body", polygon.is_some()),
    ];
    let given: Vec<&str> = areas.iter().filter(|a| a.1).map(|a| a.0).collect();
    if given.len() > 1 {
        return Err(RequestError::bad_param(
            given[1],
            format!(
                "give one area: `{}` and `{}` cannot be combined",
                given[0], given[1]
            ),
        ));
    }
    let need_point = |what: &str| {
        RequestError::bad_param(
            "lon",
            format!("`{what}` needs a centre: give `lon` and `lat`"),
        )
    };
    let scope = if let Some(k) = k {
        Scope::Nearest {
            centre: centre.ok_or_else(|| need_point("k"))?,
            k,
            within_m: radius,
        }
    } else if let Some(radius_m) = radius {
        Scope::Radius {
            centre: centre.ok_or_else(|| need_point("radius_m"))?,
            radius_m,
        }
    } else if let Some(b) = bbox {
        Scope::BBox(b)
    } else if let Some(siren) = territory {
        territory_scope(view, siren)?
    } else if let Some((shape, relation)) = polygon {
        Scope::Polygon { shape, relation }
    } else if centre.is_some() {
        return Err(RequestError::bad_param(
            "radius_m",
            "a point alone does not bound the search: add `radius_m` or `k` (or `bbox`)",
        ));
    } else {
        Scope::All
    };
    let origin = if scope.centre().is_some() {
        None
    } else {
        centre
    };
    Ok((scope, origin))
}

/// Where a search looks, the point distances are measured from, and its page.
#[derive(Debug, Clone)]
pub struct Area {
    pub scope: Scope,
    pub origin: Option<Point<f64>>,
    pub page: PageRequest,
}

/// The [`scope`] and [`page`] of a search.
pub fn area(
    params: &Pairs,
    limits: &Limits,
    view: &View,
    polygon: Option<(MultiPolygon<f64>, Relation)>,
) -> Result<Area, RequestError> {
    let (scope, origin) = scope(params, limits, view, polygon)?;
    let page = page(params, limits)?;
    Ok(Area {
        scope,
        origin,
        page,
    })
}

/// The query of a layer search over `area`: its filters are the parameters the search does
/// not reserve (fields, and source attributes of the layer as `view` sees it).
pub fn layer_query(
    view: &View,
    layer: Layer,
    params: &Pairs,
    area: Area,
) -> Result<LayerQuery, RequestError> {
    Ok(LayerQuery {
        layer,
        filter: super::filter(&view.layer(layer), params, super::Endpoint::LayerSearch)?,
        scope: area.scope,
        origin: area.origin,
        sort: Vec::new(),
        page: area.page,
    })
}

/// The polygon of a POST body: a GeoJSON Polygon or MultiPolygon, a Feature holding one, or
/// `{"geometry": …}`; `relation` from the query string (default `intersects`).
pub fn polygon_body(
    body: &Json,
    params: &Pairs,
) -> Result<(MultiPolygon<f64>, Relation), RequestError> {
    let geometry = match body.get("type").and_then(Json::as_str) {
        Some("Feature") | None => body.get("geometry").ok_or_else(|| {
            RequestError::BadBody(
                "the body must be a GeoJSON Polygon or MultiPolygon, or a Feature holding one"
                    .into(),
            )
        })?,
        Some(_) => body,
    };
    let g = geometry_from_geojson(geometry).map_err(|e| {
        let detail = format!("the body is not a usable polygon: {e}");
        // An open ring is within the schema (closure is an equality it cannot state): 422.
        // The other faults (too few positions, not GeoJSON) break it: 400.
        if matches!(e, crate::ingest::Reject::RingNotClosed { .. }) && rings_have_four(geometry) {
            RequestError::from(QueryError::unprocessable("geometry", detail))
        } else {
            RequestError::BadBody(detail)
        }
    })?;
    let shape = check_polygon(g)?;
    let relation = get(params, "relation")?
        .map(Relation::parse)
        .transpose()?
        .unwrap_or(Relation::Intersects);
    Ok((shape, relation))
}

/// Whether every ring of a GeoJSON Polygon or MultiPolygon has the 4 positions the schema
/// asks for (then only its closure is wrong, which the schema cannot state).
fn rings_have_four(geometry: &Json) -> bool {
    let rings: Vec<&Json> = match (
        geometry.get("type").and_then(Json::as_str),
        geometry.get("coordinates"),
    ) {
        (Some("Polygon"), Some(Json::Array(rings))) => rings.iter().collect(),
        (Some("MultiPolygon"), Some(Json::Array(polys))) => {
            polys.iter().filter_map(Json::as_array).flatten().collect()
        }
        _ => return false,
    };
    rings
        .iter()
        .all(|r| r.as_array().is_some_and(|r| r.len() >= 4))
}

/// A routing `profile` (default `car`).
pub fn parse_profile(v: Option<&str>) -> Result<ProfileId, RequestError> {
    match v {
        None => Ok(ProfileId::Car),
        Some(s) => s.parse::<ProfileId>().map_err(|e| RequestError::Routing {
            param: "profile",
            source: Box::new(RoutingError::from(e)),
        }),
    }
}

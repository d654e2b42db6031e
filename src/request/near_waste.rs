//! The plan of `/sites/near-waste`: sites with enough waste of given materials within a
//! distance (`within_km`) or a drive (`max_drive_min`) of the deposits.

use super::search::{self as sp, DriveSpec};
use super::{Endpoint, Params, RequestError};
use crate::config::Limits;
use crate::index::{Filter, View};
use crate::model::{Layer, MATERIALS};
use crate::query::{NearWasteQuery, SiteFilter, WasteSort, check_radius};

/// Fastest straight-line progress of a car on French roads, km/h (130 km/h motorways at most;
/// a margin for straight roads): a drive of t minutes stays within t × this / 60 km.
const MAX_CROW_KMH: f64 = 150.0;

/// A planned near-waste join.
#[derive(Debug, Clone)]
pub struct NearWastePlan {
    /// The drive-time restriction of the sites (`drive_from`/`drive_to`).
    pub drive: Option<DriveSpec>,
    /// The join, its straight-line reach included.
    pub query: NearWasteQuery,
    /// The longest drive from a deposit to a site, seconds (`max_drive_min`), when the join
    /// is by drive time.
    pub max_drive_s: Option<f64>,
}

/// Reads a near-waste request. `snap_m` is how far the road network snaps a feature (it
/// widens the straight-line reach of a drive).
pub fn plan(
    params: &Params,
    limits: &Limits,
    view: &View,
    snap_m: f64,
) -> Result<NearWastePlan, RequestError> {
    let drive = sp::drive(&params.0, limits)?;
    let (scope, _) = sp::scope(&params.0, limits, view, None)?;
    let page = sp::page(&params.0, limits)?;
    let materials = materials(params.get("materials")?)?;
    let unit = NearWasteQuery::unit_of(&materials)?;
    let max_drive_min = max_drive_min(params, limits)?;
    let within_m = reach_m(params, limits, max_drive_min, snap_m)?;
    let min_total = min_total(params)?;
    let sort = sort(params)?;
    let deposits_limit = deposits_limit(params, limits)?;
    let (site_params, deposit_params) = split_deposit_params(&params.0, &materials);
    let sites = SiteFilter::parse(&site_params, &Endpoint::NearWaste.reserved())?;
    let deposits = Filter::parse(Layer::WasteDeposits, &deposit_params, &[])?;
    let query = NearWasteQuery {
        sites,
        scope,
        deposits,
        materials,
        unit,
        within_m,
        min_total,
        sort,
        deposits_limit,
        page,
    };
    Ok(NearWastePlan {
        drive,
        query,
        max_drive_s: max_drive_min.map(|m| m * 60.0),
    })
}

/// `max_drive_min`: exclusive with `within_km`, above 0, at most the longest drive.
fn max_drive_min(params: &Params, limits: &Limits) -> Result<Option<f64>, RequestError> {
    let Some(m) = params.parse_as::<f64>("max_drive_min", "a drive time in minutes")? else {
        return Ok(None);
    };
    if params.get("within_km")?.is_some() {
        return Err(RequestError::bad_param(
            "max_drive_min",
            "give `within_km` or `max_drive_min`, not both",
        ));
    }
    super::drive_minutes("max_drive_min", m, &m.to_string(), limits).map(Some)
}

/// The straight-line reach of the join, metres: `within_km`, or the bound of a drive of
/// `max_drive_min` (its road part, plus the snapping distance at each end).
fn reach_m(
    params: &Params,
    limits: &Limits,
    max_drive_min: Option<f64>,
    snap_m: f64,
) -> Result<f64, RequestError> {
    if let Some(m) = max_drive_min {
        return Ok(m / 60.0 * MAX_CROW_KMH * 1000.0 + 2.0 * snap_m);
    }
    match params.parse_as::<f64>("within_km", "a distance in kilometres")? {
        Some(km) => within_km(km, limits),
        None => Err(RequestError::bad_param(
            "within_km",
            "missing `within_km` (the largest distance from a site to a deposit, in km) or `max_drive_min` (the longest drive from a deposit to a site, in minutes)",
        )),
    }
}

/// `within_km` as metres, between 0 and the largest radius.
pub fn within_km(km: f64, limits: &Limits) -> Result<f64, RequestError> {
    check_radius("within_km", km * 1000.0, &sp::caps(limits)).map_err(|_| {
        RequestError::bad_param(
            "within_km",
            format!(
                "`within_km` must be between 0 and {} km, got {km}",
                limits.max_radius_m / 1000.0
            ),
        )
    })
}

/// `min_total`: a yearly quantity ≥ 0 (default 0).
fn min_total(params: &Params) -> Result<f64, RequestError> {
    let min_total = params
        .parse_as::<f64>("min_total", "a yearly quantity ≥ 0")?
        .unwrap_or(0.0);
    if !(min_total.is_finite() && min_total >= 0.0) {
        return Err(RequestError::bad_param(
            "min_total",
            format!("`min_total` must be a yearly quantity ≥ 0, got {min_total}"),
        ));
    }
    Ok(min_total)
}

/// `sort` of the join (default by total).
fn sort(params: &Params) -> Result<WasteSort, RequestError> {
    Ok(params
        .get("sort")?
        .map(WasteSort::parse)
        .transpose()?
        .unwrap_or(WasteSort::Total))
}

/// `deposits_limit`: deposits listed per site (default 20, at most the page cap; above it a
/// 400, as for `limit`).
fn deposits_limit(params: &Params, limits: &Limits) -> Result<usize, RequestError> {
    let max = limits.max_limit;
    match params.get("deposits_limit")? {
        None => Ok(20.min(max)),
        Some(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|&n| n <= max)
            .ok_or_else(|| {
                RequestError::bad_param(
                    "deposits_limit",
                    format!("`deposits_limit` must be a whole number from 0 to {max}, got `{v}`"),
                )
            }),
    }
}

/// `materials=wood,plastic`, each from the taxonomy.
fn materials(v: Option<&str>) -> Result<Vec<&'static str>, RequestError> {
    let v = v.ok_or_else(|| {
        RequestError::bad_param(
            "materials",
            format!(
                "missing `materials`: name one or more of {}",
                MATERIALS.join(", ")
            ),
        )
    })?;
    let mut out = Vec::new();
    for m in v.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        let found = crate::model::enum_variant(m, MATERIALS).ok_or_else(|| {
            RequestError::bad_param(
                "materials",
                format!(
                    "unknown material `{m}`; valid materials are: {}",
                    MATERIALS.join(", ")
                ),
            )
        })?;
        if !out.contains(&found) {
            out.push(found);
        }
    }
    Ok(out)
}

type QueryPairs = Vec<(String, String)>;

/// Splits `deposit.<filter>` parameters (conditions on the deposits) from the site parameters,
/// and adds the materials to the deposit conditions.
fn split_deposit_params(
    params: &[(String, String)],
    materials: &[&str],
) -> (QueryPairs, QueryPairs) {
    let mut sites = Vec::new();
    let mut deposits = vec![("material".to_string(), materials.join(","))];
    for (k, v) in params {
        match k.strip_prefix("deposit.") {
            Some(field) => deposits.push((field.to_string(), v.clone())),
            None => sites.push((k.clone(), v.clone())),
        }
    }
    (sites, deposits)
}

/// A planned `/waste_deposits/{id}/sites` request: candidate sites around one deposit.
#[derive(Debug, Clone)]
pub struct DepositSitesPlan {
    pub drive: Option<DriveSpec>,
    /// How far around the deposit to look, metres.
    pub within_m: f64,
    pub page: crate::query::PageRequest,
    pub sort: crate::query::SiteSort,
    pub sites: SiteFilter,
}

/// Reads a deposit-sites request (`within_km` required; sort by distance by default).
pub fn deposit_sites(params: &Params, limits: &Limits) -> Result<DepositSitesPlan, RequestError> {
    let drive = sp::drive(&params.0, limits)?;
    let km = params
        .parse_as::<f64>("within_km", "a distance in kilometres")?
        .ok_or_else(|| {
            RequestError::bad_param(
                "within_km",
                "missing `within_km`: how far around the deposit to look, in km",
            )
        })?;
    let within_m = within_km(km, limits)?;
    let page = sp::page(&params.0, limits)?;
    let sort = match params.get("sort")? {
        Some(s) => crate::query::SiteSort::parse(s, true)?,
        None => crate::query::SiteSort::Distance,
    };
    let sites = SiteFilter::parse(&params.0, &Endpoint::DepositSites.reserved())?;
    Ok(DepositSitesPlan {
        drive,
        within_m,
        page,
        sort,
        sites,
    })
}

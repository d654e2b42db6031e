//! Investor site search: one query over plots and buildings together.
//!
//! Parameters are the filter grammar of each layer ([`Filter`]) with three site-level additions:
//! - `area_ha` (and `area_ha_min`, `area_ha_max`) means the plot's area and, for a building, the
//!   area of the land that comes with it (`land_area_ha`);
//! - `utilities=power,water,rail`: power available (`power_mva` > 0), industrial water
//!   (`water_m3_day` > 0), a rail siding (`rail_siding=true`);
//! - `exclude=flood_zone,seveso,…`: leave out sites known to lie in those zones (a site whose
//!   status is unknown is kept; ask `flood_zone=false` to keep only sites known to be outside).
//!
//! A condition on a field one layer lacks (`floor_area_m2` for plots, `turnkey` for buildings)
//! cannot hold there, so that layer is not searched; a name no site layer knows is an error.
//! `layers=plots` or `layers=buildings` searches one layer only.
//!
//! Steps: per layer, the scope's candidates admitted by the layer's filter and the exclusions →
//! merged → sorted by distance, area or price (unknown values last, ties by layer then id) →
//! one page.

use std::cmp::Ordering;

use geo_types::Point;

use super::QueryError;
use super::drive::DriveGate;
use super::hit::{Hit, Selector};
use super::page::{Page, PageRequest, cut, fnv1a};
use super::scope::Scope;
use super::search::{collect, order};
use crate::index::{Filter, LayerData, ValueRef, View, filterable_names};
use crate::model::{Layer, schema};

/// The layers a site can be.
pub const SITE_LAYERS: [Layer; 2] = [Layer::Plots, Layer::Buildings];

/// Zones an investor may exclude with `exclude=`.
pub const CONSTRAINTS: &[&str] = &["flood_zone", "seveso", "natura2000", "soil_pollution"];

/// Utilities an investor may require with `utilities=`.
pub const UTILITIES: &[&str] = &["power", "water", "rail"];

/// The site-level parameters [`SiteFilter::parse`] reads besides field filters.
pub const SITE_PARAMS: &[&str] = &["layers", "utilities", "exclude"];

/// Which plots and buildings are sites of interest.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteFilter {
    /// One filter per layer searched.
    pub layers: Vec<Filter>,
    /// Constraint fields: a site where one is known to be true is left out.
    pub exclude: Vec<&'static str>,
}

impl SiteFilter {
    /// Every plot and building.
    pub fn all() -> SiteFilter {
        SiteFilter {
            layers: SITE_LAYERS.iter().map(|l| Filter::all(*l)).collect(),
            exclude: Vec::new(),
        }
    }

    /// Reads the site parameters among `params`, skipping those named in `reserved`.
    ///
    /// ```
    /// use terriens::query::SiteFilter;
    /// let p = |k: &str, v: &str| (k.to_string(), v.to_string());
    /// let f = SiteFilter::parse(&[p("area_ha", "5..20"), p("exclude", "seveso")], &[]).unwrap();
    /// assert_eq!(f.layers.len(), 2);
    /// let only_buildings = SiteFilter::parse(&[p("floor_area_m2_min", "500")], &[]).unwrap();
    /// assert_eq!(only_buildings.layers.len(), 1);
    /// assert!(SiteFilter::parse(&[p("colour", "red")], &[]).is_err());
    /// ```
    pub fn parse(params: &[(String, String)], reserved: &[&str]) -> Result<SiteFilter, QueryError> {
        let mut wanted: Vec<Layer> = SITE_LAYERS.to_vec();
        let mut exclude = Vec::new();
        let mut fields: Vec<(String, String)> = Vec::new();
        for (name, value) in params {
            if reserved.contains(&name.as_str()) {
                continue;
            }
            match name.as_str() {
                "layers" => wanted = site_layers(value)?,
                "exclude" => exclude.extend(constraints(value)?),
                "utilities" => fields.extend(utilities(value)?),
                _ => fields.push((name.clone(), value.clone())),
            }
        }
        if wanted.is_empty() {
            return Err(QueryError::invalid(
                "layers",
                "name plots, buildings or both",
            ));
        }
        exclude.sort_unstable();
        exclude.dedup();
        let layers = layer_filters(&fields, &wanted)?;
        Ok(SiteFilter { layers, exclude })
    }

    /// Whether a row of an admitted layer passes the exclusions.
    #[inline]
    pub fn passes_exclusions(&self, data: &LayerData, row: u32) -> bool {
        self.exclude
            .iter()
            .all(|c| data.value_by_name(row, c) != Some(ValueRef::Bool(true)))
    }

    /// A stable text, part of a query's fingerprint.
    pub fn canonical(&self) -> String {
        let layers: Vec<String> = self
            .layers
            .iter()
            .map(|f| format!("{}[{}]", f.layer(), f.canonical()))
            .collect();
        format!("{};exclude={}", layers.join(";"), self.exclude.join(","))
    }

    /// The admitted rows of every searched layer in a scope, exclusions applied.
    pub(crate) fn collect(
        &self,
        view: &View,
        scope: &Scope,
        origin: Option<Point<f64>>,
        drive: Option<DriveGate>,
    ) -> Vec<Hit> {
        let mut hits = Vec::new();
        for filter in &self.layers {
            let layer = view.layer(filter.layer());
            let data = layer.data();
            let select = Selector::new(layer.filter(filter)).with_drive(drive);
            let excluded: Vec<usize> = self
                .exclude
                .iter()
                .filter_map(|c| data.schema().field(c).map(|(i, _)| i))
                .collect();
            hits.extend(collect(scope, origin, &select).into_iter().filter(|h| {
                excluded
                    .iter()
                    .all(|i| data.value(h.row, *i) != Some(ValueRef::Bool(true)))
            }));
        }
        if let Scope::Nearest { k, .. } = scope {
            // Each layer gave its k nearest: keep the k nearest of all.
            hits.sort_unstable_by(order(true));
            hits.truncate(*k);
        }
        hits
    }
}

/// `layers=plots,buildings`: the site layers searched.
fn site_layers(value: &str) -> Result<Vec<Layer>, QueryError> {
    list(value)
        .map(|v| {
            SITE_LAYERS
                .into_iter()
                .find(|l| l.id() == v)
                .ok_or_else(|| QueryError::UnknownValue {
                    param: "layers",
                    value: v.to_string(),
                    valid: "plots, buildings".into(),
                })
        })
        .collect()
}

/// `exclude=seveso,...`: the constraints a site must not have.
fn constraints(value: &str) -> Result<Vec<&'static str>, QueryError> {
    list(value)
        .map(|v| {
            CONSTRAINTS
                .iter()
                .find(|c| **c == v)
                .copied()
                .ok_or_else(|| QueryError::UnknownValue {
                    param: "exclude",
                    value: v.to_string(),
                    valid: CONSTRAINTS.join(", "),
                })
        })
        .collect()
}

/// `utilities=power,water,rail` as field conditions.
fn utilities(value: &str) -> Result<Vec<(String, String)>, QueryError> {
    list(value)
        .map(|v| {
            let (field, cond) = match v {
                // "> 0": the smallest positive bound the grammar can say.
                "power" => ("power_mva_min", "1e-9"),
                "water" => ("water_m3_day_min", "1e-9"),
                "rail" => ("rail_siding", "true"),
                _ => {
                    return Err(QueryError::UnknownValue {
                        param: "utilities",
                        value: v.to_string(),
                        valid: UTILITIES.join(", "),
                    });
                }
            };
            Ok((field.to_string(), cond.to_string()))
        })
        .collect()
}

/// The filter of each wanted site layer from the field conditions (named as on plots): a
/// layer that lacks a field is left out; a field no site layer has is an error.
fn layer_filters(fields: &[(String, String)], wanted: &[Layer]) -> Result<Vec<Filter>, QueryError> {
    let mut layers = Vec::new();
    let mut unknown_everywhere: Option<Vec<String>> = None;
    for layer in SITE_LAYERS {
        let renamed: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (site_field(layer, k), v.clone()))
            .collect();
        let (filter, unknown) = Filter::parse_lenient(layer, &renamed, &[])?;
        // Names as the caller wrote them.
        let unknown: Vec<String> = fields
            .iter()
            .zip(&renamed)
            .filter(|(_, r)| unknown.contains(&r.0))
            .map(|(f, _)| f.0.clone())
            .collect();
        unknown_everywhere = Some(match unknown_everywhere {
            None => unknown.clone(),
            Some(prev) => prev.into_iter().filter(|n| unknown.contains(n)).collect(),
        });
        if unknown.is_empty() && wanted.contains(&layer) {
            layers.push(filter);
        }
    }
    if let Some(name) = unknown_everywhere.and_then(|u| u.into_iter().next()) {
        return Err(QueryError::UnknownParam {
            param: name,
            valid: site_param_names(),
        });
    }
    Ok(layers)
}

fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|v| !v.is_empty())
}

/// The name of a site parameter's field in a layer: a building's `area_ha` is its land area.
fn site_field(layer: Layer, name: &str) -> String {
    if layer == Layer::Buildings
        && let Some(rest) = name.strip_prefix("area_ha")
        && matches!(rest, "" | "_min" | "_max")
    {
        return format!("land_area_ha{rest}");
    }
    name.to_string()
}

/// Every parameter name site filters accept, for error messages.
pub fn site_param_names() -> String {
    format!(
        "{}; plots: {}; buildings: {} (area_ha means land_area_ha for buildings)",
        SITE_PARAMS.join(", "),
        filterable_names(schema(Layer::Plots)),
        filterable_names(schema(Layer::Buildings))
    )
}

/// How to order sites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteSort {
    /// Nearest first (needs a point).
    Distance,
    /// By site area in hectares.
    Area { desc: bool },
    /// By total asking price in euros.
    Price { desc: bool },
}

impl SiteSort {
    /// Parses `distance`, `area`, `-area`, `price`, `-price` (`-`: descending).
    pub fn parse(s: &str, has_point: bool) -> Result<SiteSort, QueryError> {
        let sort = match s.trim() {
            "distance" => SiteSort::Distance,
            "area" => SiteSort::Area { desc: false },
            "-area" => SiteSort::Area { desc: true },
            "price" => SiteSort::Price { desc: false },
            "-price" => SiteSort::Price { desc: true },
            other => {
                return Err(QueryError::UnknownValue {
                    param: "sort",
                    value: other.to_string(),
                    valid: "distance, area, -area, price, -price".into(),
                });
            }
        };
        if sort == SiteSort::Distance && !has_point {
            return Err(QueryError::unprocessable(
                "lon",
                "sort=distance needs a point to measure from: give lon and lat",
            ));
        }
        Ok(sort)
    }

    /// Nearest first with a point, else largest first.
    pub fn default_for(has_point: bool) -> SiteSort {
        if has_point {
            SiteSort::Distance
        } else {
            SiteSort::Area { desc: true }
        }
    }

    fn canonical(&self) -> String {
        format!("{self:?}")
    }
}

/// A site found, with the values it was sorted by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SiteHit {
    pub hit: Hit,
    /// Plot area, or a building's land area, hectares.
    pub area_ha: Option<f64>,
    /// Total asking price, euros: a plot's price per m² times its area, a building's price.
    pub price_eur: Option<f64>,
}

impl SiteHit {
    /// The site values of a hit.
    pub fn of(view: &View, hit: Hit) -> SiteHit {
        SiteFields::of(hit.layer).site(view.layer(hit.layer).data(), hit)
    }
}

/// Positions of the fields site values come from, looked up once per layer.
#[derive(Debug, Clone, Copy)]
struct SiteFields {
    layer: Layer,
    area: Option<usize>,
    /// Plots: price per m²; buildings: price.
    price: Option<usize>,
}

impl SiteFields {
    fn of(layer: Layer) -> SiteFields {
        let s = schema(layer);
        let at = |name: &str| s.field(name).map(|(i, _)| i);
        let (area, price) = match layer {
            Layer::Plots => (at("area_ha"), at("price_eur_m2")),
            _ => (at("land_area_ha"), at("price_eur")),
        };
        SiteFields { layer, area, price }
    }

    fn site(&self, data: &LayerData, hit: Hit) -> SiteHit {
        let num = |i: Option<usize>| {
            i.and_then(|i| data.value(hit.row, i))
                .and_then(ValueRef::as_f64)
        };
        let area_ha = num(self.area);
        let price_eur = match self.layer {
            Layer::Plots => num(self.price).zip(area_ha).map(|(p, a)| p * a * 1e4),
            _ => num(self.price),
        };
        SiteHit {
            hit,
            area_ha,
            price_eur,
        }
    }
}

/// A site search.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteQuery {
    pub sites: SiteFilter,
    pub scope: Scope,
    /// A point to measure distances from, for scopes without a centre.
    pub origin: Option<Point<f64>>,
    pub sort: SiteSort,
    pub page: PageRequest,
}

impl SiteQuery {
    pub fn origin(&self) -> Option<Point<f64>> {
        self.scope.centre().or(self.origin)
    }

    pub fn fingerprint(&self) -> u64 {
        let origin = self.origin().map(|p| (p.x(), p.y()));
        fnv1a(
            format!(
                "sites|{}|{}|{origin:?}|{}",
                self.sites.canonical(),
                self.scope.canonical(),
                self.sort.canonical()
            )
            .as_bytes(),
        )
    }
}

/// Runs a site search. A cursor is checked before any work.
pub fn site_search(
    view: &View,
    q: &SiteQuery,
    drive: Option<DriveGate>,
) -> Result<Page<SiteHit>, QueryError> {
    let fingerprint = q.fingerprint();
    let offset = q.page.offset(view.generation(), fingerprint)?;
    let fields = SITE_LAYERS.map(SiteFields::of);
    let hits: Vec<SiteHit> = q
        .sites
        .collect(view, &q.scope, q.origin(), drive)
        .into_iter()
        .map(|h| {
            let f = fields
                .iter()
                .find(|f| f.layer == h.layer)
                .unwrap_or(&fields[0]);
            f.site(view.layer(h.layer).data(), h)
        })
        .collect();
    let matched = hits.len();
    let items = cut(hits, offset, q.page.limit, site_order(q.sort));
    Ok(Page::new(
        items,
        matched,
        offset,
        q.page.limit,
        view.generation(),
        fingerprint,
    ))
}

/// Unknown values last whatever the direction; ties by layer, then id.
fn site_order(sort: SiteSort) -> impl Fn(&SiteHit, &SiteHit) -> Ordering {
    move |a, b| {
        let key = |s: &SiteHit| match sort {
            SiteSort::Distance => s.hit.distance_m,
            SiteSort::Area { desc } => s.area_ha.map(|v| if desc { -v } else { v }),
            SiteSort::Price { desc } => s.price_eur.map(|v| if desc { -v } else { v }),
        };
        let (ka, kb) = (key(a), key(b));
        ka.is_none()
            .cmp(&kb.is_none())
            .then_with(|| ka.unwrap_or(0.0).total_cmp(&kb.unwrap_or(0.0)))
            .then(a.hit.layer.cmp(&b.hit.layer))
            .then(a.hit.id.cmp(&b.hit.id))
    }
}

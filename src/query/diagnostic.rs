//! The pre-diagnostic of a territory (phase 1 of the programme): land, buildings, waste and
//! workforce, counted over the features whose `territory` is the EPCI's SIREN, as the caller
//! may see them (every layer is read through the caller's [`View`]: a confidential deposit is
//! neither counted nor weighed for a caller without the partners right).
//!
//! Figures are plain sums and counts, so that anyone can recompute them from the source files:
//! hectares are `area_ha` (the geodesic area of a polygon, the declared area of a point site);
//! tonnes are the `quantity` of deposits whose unit is `t`; a field left empty counts under
//! `unknown`, never as `false` or 0.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::index::{LayerView, ValueRef, View};
use crate::model::Layer;

/// Size classes of land, in hectares: `[min, max)`.
pub const SIZE_CLASSES: &[(f64, f64, &str)] = &[
    (0.0, 1.0, "< 1 ha"),
    (1.0, 5.0, "1–5 ha"),
    (5.0, 20.0, "5–20 ha"),
    (20.0, 50.0, "20–50 ha"),
    (50.0, f64::INFINITY, "≥ 50 ha"),
];

/// Constraint flags of plots counted in the land section.
pub const LAND_CONSTRAINTS: &[&str] = &["flood_zone", "seveso", "natura2000", "soil_pollution"];

/// Source attributes of plots broken down when present (Cartofriches).
pub const LAND_SOURCE_BREAKDOWNS: &[&str] = &["site_type", "site_statut"];

/// A count and a total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Tally {
    pub count: usize,
    /// Hectares, square metres or tonnes per year, depending on the section.
    pub total: f64,
}

impl Tally {
    fn add(&mut self, x: f64) {
        self.count += 1;
        self.total += x;
    }
}

/// A tally under a key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub key: String,
    pub count: usize,
    pub total: f64,
}

fn groups(map: BTreeMap<String, Tally>) -> Vec<Group> {
    let mut v: Vec<Group> = map
        .into_iter()
        .map(|(key, t)| Group {
            key,
            count: t.count,
            total: round(t.total),
        })
        .collect();
    v.sort_by(|a, b| {
        b.total
            .total_cmp(&a.total)
            .then(b.count.cmp(&a.count))
            .then(a.key.cmp(&b.key))
    });
    v
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Land: plots of the territory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Land {
    pub count: usize,
    pub area_ha: f64,
    pub by_status: Vec<Group>,
    pub by_size_class: Vec<Group>,
    /// `true`, `false`, `unknown` → count and hectares.
    pub turnkey: Vec<Group>,
    pub brownfield: Vec<Group>,
    /// Constraint → plots flagged `true` (count, hectares).
    pub constraints: Vec<Group>,
    /// Source attribute (e.g. Cartofriches `site_type`) → its values.
    pub by_source_attribute: BTreeMap<String, Vec<Group>>,
}

/// Buildings of the territory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Buildings {
    pub count: usize,
    pub floor_area_m2: f64,
    pub by_status: Vec<Group>,
    pub by_tenure: Vec<Group>,
}

/// Waste: deposits of the territory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Waste {
    pub deposits: usize,
    /// Distinct holders (the `holder` field, else the feature's `name`; a holder with several
    /// streams counts once; names compared without case).
    pub holders: usize,
    /// Deposits with a known quantity in tonnes.
    pub tonnes_per_year: f64,
    /// Material → deposits and tonnes per year (non-hazardous and hazardous together).
    pub by_material: Vec<Group>,
    /// Hazardous streams apart.
    pub hazardous: Tally,
    pub non_hazardous: Tally,
    /// Deposits whose material or quantity is not known yet (e.g. IREP holders).
    pub not_characterised: usize,
    /// Deposits in another unit (m3, MWh): unit → deposits and quantity.
    pub other_units: Vec<Group>,
    /// Confidential streams (partners only): present only for a caller with the right.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partners_only: Option<Tally>,
}

/// The diagnostic's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub siren: String,
    pub land: Land,
    pub buildings: Buildings,
    pub waste: Waste,
}

/// The rows of a layer whose `territory` is `siren`, as the view lets the caller see them.
fn rows_of<'a>(lv: &'a LayerView<'a>, siren: &'a str) -> impl Iterator<Item = u32> + 'a {
    let data = lv.data();
    lv.rows()
        .filter(move |&r| matches!(data.value_by_name(r, "territory"), Some(ValueRef::Text(t)) if t == siren))
}

fn text_key(v: Option<ValueRef<'_>>) -> String {
    match v {
        Some(ValueRef::Text(s)) => s.to_string(),
        Some(ValueRef::Bool(b)) => b.to_string(),
        Some(ValueRef::Int(i)) => i.to_string(),
        Some(other) => other.to_value().to_json().to_string(),
        None => "unknown".to_string(),
    }
}

/// Whether the territory has anything: a feature of the territories layer with this SIREN or
/// any feature tagged with it.
pub fn territory_known(view: &View<'_>, siren: &str) -> bool {
    Layer::ALL.iter().any(|&l| {
        let lv = view.layer(l);
        let field = if l == Layer::Territories {
            "siren"
        } else {
            "territory"
        };
        let data = lv.data();
        lv.rows()
            .any(|r| matches!(data.value_by_name(r, field), Some(ValueRef::Text(t)) if t == siren))
    })
}

/// Computes the diagnostic of the territory `siren` as the view's audience sees it.
pub fn diagnostic(view: &View<'_>, siren: &str) -> Diagnostic {
    Diagnostic {
        siren: siren.to_string(),
        land: land(&view.layer(Layer::Plots), siren),
        buildings: buildings(&view.layer(Layer::Buildings), siren),
        waste: waste(&view.layer(Layer::WasteDeposits), siren),
    }
}

fn land(lv: &LayerView<'_>, siren: &str) -> Land {
    let data = lv.data();
    let mut total = Tally::default();
    let mut status = BTreeMap::new();
    let mut size: Vec<Tally> = vec![Tally::default(); SIZE_CLASSES.len()];
    let (mut turnkey, mut brownfield) = (BTreeMap::new(), BTreeMap::new());
    let mut constraints: BTreeMap<String, Tally> = BTreeMap::new();
    let mut by_source: BTreeMap<String, BTreeMap<String, Tally>> = BTreeMap::new();
    for r in rows_of(lv, siren) {
        let ha = data
            .value_by_name(r, "area_ha")
            .and_then(ValueRef::as_f64)
            .unwrap_or(0.0);
        total.add(ha);
        status
            .entry(text_key(data.value_by_name(r, "status")))
            .or_insert_with(Tally::default)
            .add(ha);
        if let Some(i) = SIZE_CLASSES
            .iter()
            .position(|(lo, hi, _)| ha >= *lo && ha < *hi)
        {
            size[i].add(ha);
        }
        turnkey
            .entry(text_key(data.value_by_name(r, "turnkey")))
            .or_insert_with(Tally::default)
            .add(ha);
        brownfield
            .entry(text_key(data.value_by_name(r, "brownfield")))
            .or_insert_with(Tally::default)
            .add(ha);
        for c in LAND_CONSTRAINTS {
            let e = constraints.entry(c.to_string()).or_default();
            if matches!(data.value_by_name(r, c), Some(ValueRef::Bool(true))) {
                e.add(ha);
            }
        }
        if let Some(extra) = data.extra(r) {
            for attr in LAND_SOURCE_BREAKDOWNS {
                if let Some(v) = extra.get(*attr) {
                    let key = match v {
                        serde_json::Value::String(s) if !s.trim().is_empty() => {
                            s.trim().to_string()
                        }
                        serde_json::Value::Null => "unknown".into(),
                        serde_json::Value::String(_) => "unknown".into(),
                        other => other.to_string(),
                    };
                    by_source
                        .entry(attr.to_string())
                        .or_default()
                        .entry(key)
                        .or_default()
                        .add(ha);
                }
            }
        }
    }
    Land {
        count: total.count,
        area_ha: round(total.total),
        by_status: groups(status),
        by_size_class: SIZE_CLASSES
            .iter()
            .zip(size)
            .map(|((_, _, label), t)| Group {
                key: label.to_string(),
                count: t.count,
                total: round(t.total),
            })
            .collect(),
        turnkey: groups(turnkey),
        brownfield: groups(brownfield),
        constraints: LAND_CONSTRAINTS
            .iter()
            .map(|c| {
                let t = constraints.get(*c).copied().unwrap_or_default();
                Group {
                    key: c.to_string(),
                    count: t.count,
                    total: round(t.total),
                }
            })
            .collect(),
        by_source_attribute: by_source.into_iter().map(|(k, m)| (k, groups(m))).collect(),
    }
}

fn buildings(lv: &LayerView<'_>, siren: &str) -> Buildings {
    let data = lv.data();
    let mut total = Tally::default();
    let (mut status, mut tenure) = (BTreeMap::new(), BTreeMap::new());
    for r in rows_of(lv, siren) {
        let m2 = data
            .value_by_name(r, "floor_area_m2")
            .and_then(ValueRef::as_f64)
            .unwrap_or(0.0);
        total.add(m2);
        status
            .entry(text_key(data.value_by_name(r, "status")))
            .or_insert_with(Tally::default)
            .add(m2);
        tenure
            .entry(text_key(data.value_by_name(r, "tenure")))
            .or_insert_with(Tally::default)
            .add(m2);
    }
    Buildings {
        count: total.count,
        floor_area_m2: round(total.total),
        by_status: groups(status),
        by_tenure: groups(tenure),
    }
}

fn waste(lv: &LayerView<'_>, siren: &str) -> Waste {
    let data = lv.data();
    let mut deposits = 0;
    let mut holders = std::collections::BTreeSet::new();
    let mut tonnes = 0.0;
    let mut by_material = BTreeMap::new();
    let (mut hazardous, mut non_hazardous) = (Tally::default(), Tally::default());
    let mut not_characterised = 0;
    let mut other_units = BTreeMap::new();
    let mut confidential = Tally::default();
    for r in rows_of(lv, siren) {
        deposits += 1;
        // The holder named, else the feature's name (an IREP establishment is its own holder).
        let holder = data
            .value_by_name(r, "holder")
            .or_else(|| data.value_by_name(r, "name"));
        if let Some(ValueRef::Text(h)) = holder {
            holders.insert(h.trim().to_lowercase());
        }
        let material = data.value_by_name(r, "material");
        let quantity = data.value_by_name(r, "quantity").and_then(ValueRef::as_f64);
        let (Some(ValueRef::Text(material)), Some(q)) = (material, quantity) else {
            not_characterised += 1;
            continue;
        };
        let unit = text_key(data.value_by_name(r, "unit"));
        if unit != "t" && unit != "unknown" {
            other_units
                .entry(unit)
                .or_insert_with(Tally::default)
                .add(q);
            continue;
        }
        tonnes += q;
        by_material
            .entry(material.to_string())
            .or_insert_with(Tally::default)
            .add(q);
        if matches!(
            data.value_by_name(r, "hazardous"),
            Some(ValueRef::Bool(true))
        ) {
            hazardous.add(q);
        } else {
            non_hazardous.add(q);
        }
        if matches!(
            data.value_by_name(r, "confidentiality"),
            Some(ValueRef::Text("partners"))
        ) {
            confidential.add(q);
        }
    }
    let round_t = |t: Tally| Tally {
        count: t.count,
        total: round(t.total),
    };
    Waste {
        deposits,
        holders: holders.len(),
        tonnes_per_year: round(tonnes),
        by_material: groups(by_material),
        hazardous: round_t(hazardous),
        non_hazardous: round_t(non_hazardous),
        not_characterised,
        other_units: groups(other_units),
        // A caller who sees every row has the partners right; the others are not told.
        partners_only: lv.sees_all().then(|| round_t(confidential)),
    }
}

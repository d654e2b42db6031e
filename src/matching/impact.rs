//! The impact of a synergy: for each material a matched site would receive, which deposits
//! supply it (nearest by road first, until the need is met), over how many road kilometres,
//! and what that saves and costs in emissions and disposal tax.
//!
//! Every factor comes from one table, [`FACTORS_FILE`] (`factors/impact_factors.csv`): a row per
//! factor with its value, unit, year and published source. The config may name a file of rows
//! in the same format that replace rows of the same key or add rows of a known kind; a row
//! without a source is refused. A figure whose factor has no row is reported as unknown
//! (`None`), never guessed.
//!
//! Per material, with `t_i` the tonnes taken from supplier `i` and `d_i` its route's length:
//! - tonne-kilometres `Σ t_i · d_i / 1000`;
//! - transport emissions `t·km × transport.<profile>` (kg CO2e);
//! - emissions avoided by replacing virgin material `Σ t_i × substitution.<material>`;
//! - disposal avoided: the tonnes supplied, and the landfill tax they would have paid
//!   `Σ t_i × disposal_tax.landfill` (the stream is assumed landfilled otherwise: the route the
//!   tax and the national objective aim at);
//! - the net balance `avoided − transport`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::model::{FeatureId, MATERIALS};
use crate::routing::ProfileId;

/// The embedded factor table.
pub const FACTORS_FILE: &str = include_str!("../../factors/impact_factors.csv");

/// Key of the landfill tax row.
pub const LANDFILL_TAX: &str = "disposal_tax.landfill";

/// One factor of the table.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct Factor {
    pub key: String,
    pub value: f64,
    pub unit: String,
    pub year: u16,
    pub source: String,
}

/// A row of a factor table that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}, row {row}: {detail}")]
pub struct BadFactor {
    pub origin: String,
    /// 1-based data row (the header is row 0).
    pub row: usize,
    pub detail: String,
}

/// The unit a factor's key calls for, `None` for a key of no known kind.
fn unit_of(key: &str) -> Option<&'static str> {
    let (kind, what) = key.split_once('.')?;
    match kind {
        "transport" if what.parse::<ProfileId>().is_ok() => Some("kgCO2e/t.km"),
        "substitution" if MATERIALS.contains(&what) => Some("kgCO2e/t"),
        "disposal_tax" if what == "landfill" => Some("EUR/t"),
        _ => None,
    }
}

/// The factors in force: the embedded table, with the config's rows over it.
#[derive(Debug, Clone, PartialEq)]
pub struct Factors {
    rows: BTreeMap<String, Factor>,
}

impl Default for Factors {
    fn default() -> Self {
        Factors::embedded()
    }
}

impl Factors {
    /// The embedded table (checked by a test, so it always reads).
    pub fn embedded() -> Factors {
        let rows = parse(FACTORS_FILE, "factors/impact_factors.csv")
            .expect("the embedded factor table is valid");
        Factors {
            rows: rows.into_iter().map(|f| (f.key.clone(), f)).collect(),
        }
    }

    /// The embedded table with the rows of a file over it.
    pub fn with_file(path: &Path) -> Result<Factors, BadFactor> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| BadFactor {
            origin: origin.clone(),
            row: 0,
            detail: format!("cannot read: {e}"),
        })?;
        let mut f = Factors::embedded();
        for row in parse(&text, &origin)? {
            f.rows.insert(row.key.clone(), row);
        }
        Ok(f)
    }

    pub fn get(&self, key: &str) -> Option<&Factor> {
        self.rows.get(key)
    }

    pub fn rows(&self) -> impl Iterator<Item = &Factor> {
        self.rows.values()
    }

    fn value(&self, key: &str) -> Option<f64> {
        self.get(key).map(|f| f.value)
    }
}

/// Reads a factor table: a header `key,value,unit,year,source` and one row per factor, each
/// with a key of a known kind in the unit of that kind, a finite value, a year and a source.
pub fn parse(text: &str, origin: &str) -> Result<Vec<Factor>, BadFactor> {
    let bad = |row: usize, detail: String| BadFactor {
        origin: origin.to_string(),
        row,
        detail,
    };
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let mut out: Vec<Factor> = Vec::new();
    for (i, rec) in reader.deserialize::<Factor>().enumerate() {
        let row = i + 1;
        let f =
            rec.map_err(|e| bad(row, format!("not a row of key,value,unit,year,source: {e}")))?;
        let Some(unit) = unit_of(&f.key) else {
            return Err(bad(
                row,
                format!(
                    "unknown key `{}`: transport.<profile>, substitution.<material> or {LANDFILL_TAX}",
                    f.key
                ),
            ));
        };
        if f.unit != unit {
            return Err(bad(
                row,
                format!("`{}` is in {unit}, not `{}`", f.key, f.unit),
            ));
        }
        if !f.value.is_finite() || f.value < 0.0 {
            return Err(bad(row, format!("value {}: a finite number ≥ 0", f.value)));
        }
        if !(1900..=2100).contains(&f.year) {
            return Err(bad(row, format!("year {}: the year of the source", f.year)));
        }
        if f.source.trim().is_empty() {
            return Err(bad(row, format!("`{}` has no source", f.key)));
        }
        if out.iter().any(|o| o.key == f.key) {
            return Err(bad(row, format!("`{}` given twice", f.key)));
        }
        out.push(f);
    }
    Ok(out)
}

/// A deposit that can reach the site: its row, id, tonnes a year and road route.
#[derive(Debug, Clone, PartialEq)]
pub struct Reachable {
    pub row: u32,
    pub id: FeatureId,
    pub tonnes: f64,
    pub drive_s: f64,
}

/// The deposits chosen to meet a need: nearest by road first (then by id), each taking what it
/// has until the need is met; `(index into reachable, tonnes taken)`.
pub fn choose_suppliers(reachable: &[Reachable], need_t: f64) -> Vec<(usize, f64)> {
    let mut order: Vec<usize> = (0..reachable.len())
        .filter(|&i| reachable[i].tonnes > 0.0)
        .collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&reachable[a], &reachable[b]);
        x.drive_s.total_cmp(&y.drive_s).then(x.id.cmp(&y.id))
    });
    let mut left = need_t;
    let mut out = Vec::new();
    for i in order {
        if left <= 0.0 {
            break;
        }
        let take = reachable[i].tonnes.min(left);
        left -= take;
        out.push((i, take));
    }
    out
}

/// A supplier of one material.
#[derive(Debug, Clone, PartialEq)]
pub struct Supplier {
    pub row: u32,
    pub id: FeatureId,
    /// Tonnes a year the deposit produces, and what it is asked for.
    pub available_t: f64,
    pub tonnes: f64,
    pub drive_s: f64,
    /// The route's length along the roads, metres (`None` if it could not be walked back).
    pub road_m: Option<f64>,
}

impl Supplier {
    pub fn tkm(&self) -> Option<f64> {
        self.road_m.map(|m| self.tonnes * m / 1000.0)
    }
}

/// The figures of a supply: of one material, or summed over a site's materials (a sum is
/// unknown when one of its terms is).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Balance {
    pub supplied_t: f64,
    pub tkm: Option<f64>,
    pub transport_kgco2e: Option<f64>,
    pub avoided_kgco2e: Option<f64>,
    /// Tonnes kept out of disposal (the tonnes supplied).
    pub disposal_avoided_t: f64,
    pub tax_saved_eur: Option<f64>,
    /// `avoided − transport`, kg CO2e.
    pub net_kgco2e: Option<f64>,
}

/// The impact of supplying one material of a need.
#[derive(Debug, Clone, PartialEq)]
pub struct MaterialImpact {
    pub material: String,
    pub profile: ProfileId,
    pub need_t: f64,
    pub suppliers: Vec<Supplier>,
    pub balance: Balance,
    /// The factor keys used (present or missing).
    pub factors: Vec<String>,
}

impl MaterialImpact {
    /// Whether the suppliers meet the need.
    pub fn met(&self) -> bool {
        self.balance.supplied_t + 1e-9 >= self.need_t
    }
}

/// The impact of the suppliers of one material, by the factors in force.
pub fn material_impact(
    material: &str,
    profile: ProfileId,
    need_t: f64,
    suppliers: Vec<Supplier>,
    factors: &Factors,
) -> MaterialImpact {
    let supplied_t: f64 = suppliers.iter().map(|s| s.tonnes).sum();
    let tkm = suppliers.iter().map(Supplier::tkm).sum::<Option<f64>>();
    let transport_key = format!("transport.{}", profile.id());
    let substitution_key = format!("substitution.{material}");
    let transport_kgco2e = tkm.zip(factors.value(&transport_key)).map(|(t, f)| t * f);
    let avoided_kgco2e = factors.value(&substitution_key).map(|f| supplied_t * f);
    MaterialImpact {
        material: material.to_string(),
        profile,
        need_t,
        suppliers,
        balance: Balance {
            supplied_t,
            tkm,
            transport_kgco2e,
            avoided_kgco2e,
            disposal_avoided_t: supplied_t,
            tax_saved_eur: factors.value(LANDFILL_TAX).map(|f| supplied_t * f),
            net_kgco2e: avoided_kgco2e.zip(transport_kgco2e).map(|(a, t)| a - t),
        },
        factors: vec![transport_key, substitution_key, LANDFILL_TAX.to_string()],
    }
}

/// The balance of a site's materials together.
pub fn totals(materials: &[MaterialImpact]) -> Balance {
    let sum = |f: fn(&Balance) -> Option<f64>| {
        materials.iter().map(|m| f(&m.balance)).sum::<Option<f64>>()
    };
    Balance {
        supplied_t: materials.iter().map(|m| m.balance.supplied_t).sum(),
        tkm: sum(|b| b.tkm),
        transport_kgco2e: sum(|b| b.transport_kgco2e),
        avoided_kgco2e: sum(|b| b.avoided_kgco2e),
        disposal_avoided_t: materials.iter().map(|m| m.balance.disposal_avoided_t).sum(),
        tax_saved_eur: sum(|b| b.tax_saved_eur),
        net_kgco2e: sum(|b| b.net_kgco2e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_table_reads_and_every_row_has_a_source() {
        let f = Factors::embedded();
        assert!(f.rows().count() >= 4);
        for r in f.rows() {
            assert!(!r.source.trim().is_empty(), "{}", r.key);
            assert_eq!(unit_of(&r.key), Some(r.unit.as_str()));
        }
    }

    #[test]
    fn rows_without_source_or_of_unknown_kind_are_refused() {
        let head = "key,value,unit,year,source\n";
        let e = parse(&format!("{head}transport.hgv,0.1,kgCO2e/t.km,2024,\n"), "t").unwrap_err();
        assert!(e.detail.contains("no source"), "{e}");
        let e = parse(
            &format!("{head}transport.bike,0.1,kgCO2e/t.km,2024,x\n"),
            "t",
        )
        .unwrap_err();
        assert!(e.detail.contains("unknown key"), "{e}");
        let e = parse(&format!("{head}substitution.wood,1,kgCO2/t,2024,x\n"), "t").unwrap_err();
        assert!(e.detail.contains("kgCO2e/t"), "{e}");
        let e = parse(
            &format!("{head}disposal_tax.landfill,-1,EUR/t,2024,x\n"),
            "t",
        )
        .unwrap_err();
        assert!(e.detail.contains("≥ 0"), "{e}");
    }

    #[test]
    fn a_file_replaces_rows_of_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.csv");
        std::fs::write(
            &p,
            "key,value,unit,year,source\ndisposal_tax.landfill,70,EUR/t,2026,Loi de finances 2026\nsubstitution.wood,100,kgCO2e/t,2024,an operator's study\n",
        )
        .unwrap();
        let f = Factors::with_file(&p).unwrap();
        assert_eq!(f.value(LANDFILL_TAX), Some(70.0));
        assert_eq!(f.value("substitution.wood"), Some(100.0));
        assert_eq!(
            f.value("transport.hgv"),
            Factors::embedded().value("transport.hgv")
        );
    }

    #[test]
    fn suppliers_are_taken_nearest_first_until_the_need_is_met() {
        let r = |id: FeatureId, tonnes: f64, drive_s: f64| Reachable {
            row: 0,
            id,
            tonnes,
            drive_s,
        };
        let reach = [r(3, 500.0, 600.0), r(1, 200.0, 60.0), r(2, 400.0, 300.0)];
        // 200 from the nearest, the rest (100) from the next; the farthest is not used.
        assert_eq!(
            choose_suppliers(&reach, 300.0),
            vec![(1, 200.0), (2, 100.0)]
        );
        // Not enough: everything is taken.
        assert_eq!(
            choose_suppliers(&reach, 5000.0),
            vec![(1, 200.0), (2, 400.0), (0, 500.0)]
        );
    }
}

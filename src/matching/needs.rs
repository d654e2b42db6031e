//! The needs of an industrial project, read from JSON with every field checked: what
//! `POST /match` takes in its body.
//!
//! Every error names the field at fault (`materials[1].tonnes_per_year`), so the API can answer
//! a 400 that says which one.

use chrono::NaiveDate;
use serde_json::{Map, Value as Json};

use crate::model::{MATERIALS, TENURES, material_unit};
use crate::query::CONSTRAINTS;
use crate::routing::ProfileId;

/// Most material and occupation needs of one project (each costs one road search per site).
pub const MAX_NEEDS: usize = 10;
/// Longest drive or commute a need may ask for, minutes.
pub const MAX_NEED_MINUTES: f64 = 120.0;
/// Drive or commute when a need does not say, minutes.
pub const DEFAULT_NEED_MINUTES: f64 = 30.0;

/// A field of the needs that is wrong, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {detail}")]
pub struct BadNeed {
    pub field: String,
    pub detail: String,
    /// The needs are well formed but cannot be answered as asked (a 422, not a 400): an
    /// empty range, a need given twice, an occupation the data does not hold, weights
    /// summing to zero.
    pub unprocessable: bool,
}

fn bad(field: impl Into<String>, detail: impl Into<String>) -> BadNeed {
    BadNeed {
        field: field.into(),
        detail: detail.into(),
        unprocessable: false,
    }
}

/// Needs that are well formed but cannot be answered as asked (a 422).
fn unprocessable(field: impl Into<String>, detail: impl Into<String>) -> BadNeed {
    BadNeed {
        unprocessable: true,
        ..bad(field, detail)
    }
}

/// Which kind of site the project looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteType {
    Plot,
    Building,
    Any,
}

/// A material the project would consume.
#[derive(Debug, Clone, PartialEq)]
pub struct MaterialNeed {
    pub material: &'static str,
    pub tonnes_per_year: f64,
    pub max_drive_min: f64,
    pub profile: ProfileId,
}

/// An occupation the project must hire.
#[derive(Debug, Clone, PartialEq)]
pub struct OccupationNeed {
    /// BMO occupation code, e.g. `G0A40`.
    pub code: String,
    pub headcount: f64,
    pub max_commute_min: f64,
}

/// Criteria weights (each ≥ 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    pub land: f64,
    pub materials: f64,
    pub workforce: f64,
}

/// What a project needs of a site and of the territory around it.
#[derive(Debug, Clone, PartialEq)]
pub struct Needs {
    pub name: Option<String>,
    pub naf_code: Option<String>,
    pub site_type: SiteType,
    pub land_min_ha: Option<f64>,
    pub land_max_ha: Option<f64>,
    pub floor_min_m2: Option<f64>,
    pub clear_height_min_m: Option<f64>,
    pub dock_doors_min: Option<f64>,
    /// `sale`, `lease` or `sale_or_lease` (either will do).
    pub tenure: Option<&'static str>,
    pub power_min_mva: Option<f64>,
    pub water_min_m3_day: Option<f64>,
    pub gas: bool,
    pub fibre: bool,
    pub rail_siding: bool,
    /// Zones of [`CONSTRAINTS`] the project accepts; a site known to lie in another is left out.
    pub accepts: Vec<&'static str>,
    pub needed_by: Option<NaiveDate>,
    /// SIREN of the EPCI the site must lie in.
    pub territory: Option<String>,
    pub materials: Vec<MaterialNeed>,
    pub occupations: Vec<OccupationNeed>,
    pub weights: Weights,
}

/// The fields [`Needs::read`] knows.
pub const NEED_FIELDS: &[&str] = &[
    "name",
    "naf_code",
    "site_type",
    "land_min_ha",
    "land_max_ha",
    "floor_min_m2",
    "clear_height_min_m",
    "dock_doors_min",
    "tenure",
    "power_min_mva",
    "water_min_m3_day",
    "gas",
    "fibre",
    "rail_siding",
    "accepts",
    "needed_by",
    "territory",
    "materials",
    "occupations",
    "weights",
];

/// A NAF rév. 2 sub-class code: `NN.NNL`, e.g. `16.10A`.
pub fn is_naf_code(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 6
        && b[0].is_ascii_digit()
        && b[1].is_ascii_digit()
        && b[2] == b'.'
        && b[3].is_ascii_digit()
        && b[4].is_ascii_digit()
        && b[5].is_ascii_uppercase()
}

/// A BMO occupation code (FAP 2009 in 5 characters): letter, digit, letter, two digits, e.g.
/// `G0A40`.
pub fn is_occupation_code(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 5
        && b[0].is_ascii_uppercase()
        && b[1].is_ascii_digit()
        && b[2].is_ascii_uppercase()
        && b[3].is_ascii_digit()
        && b[4].is_ascii_digit()
}

impl Needs {
    /// Reads and checks the needs. `known_occupation` says whether an occupation code exists
    /// ([`super::occupation_known`]: the survey's list, or the codes the data counts); codes must
    /// also be well formed.
    ///
    /// ```
    /// use terriens::matching::Needs;
    /// let body = serde_json::json!({
    ///     "land_min_ha": 5, "land_max_ha": 20,
    ///     "materials": [{"material": "wood", "tonnes_per_year": 300}],
    /// });
    /// let n = Needs::read(body.as_object().unwrap(), &|_| true).unwrap();
    /// assert_eq!(n.materials[0].max_drive_min, 30.0);
    /// let bad = serde_json::json!({"land_min_ha": 20, "land_max_ha": 5});
    /// assert_eq!(Needs::read(bad.as_object().unwrap(), &|_| true).unwrap_err().field, "land_max_ha");
    /// ```
    pub fn read(
        body: &Map<String, Json>,
        known_occupation: &dyn Fn(&str) -> bool,
    ) -> Result<Needs, BadNeed> {
        if let Some(k) = body.keys().find(|k| !NEED_FIELDS.contains(&k.as_str())) {
            return Err(bad(
                k.clone(),
                format!("unknown field; fields are: {}", NEED_FIELDS.join(", ")),
            ));
        }
        if let Some(field) = body.iter().find_map(|(k, v)| null_member(v, k)) {
            return Err(bad(
                field,
                "null is not a value here: leave the member out for its default",
            ));
        }
        let r = Reader(body);
        let naf_code = r.text("naf_code")?;
        if let Some(c) = &naf_code
            && !is_naf_code(c)
        {
            return Err(bad(
                "naf_code",
                format!("`{c}` is not a NAF rév. 2 code: write NN.NNL, e.g. 16.10A"),
            ));
        }
        let site_type = match r.text("site_type")?.as_deref() {
            None | Some("any") => SiteType::Any,
            Some("plot") => SiteType::Plot,
            Some("building") => SiteType::Building,
            Some(o) => {
                return Err(bad(
                    "site_type",
                    format!("`{o}`: one of plot, building, any"),
                ));
            }
        };
        let land_min_ha = r.number("land_min_ha", 100_000.0)?;
        let land_max_ha = r.number("land_max_ha", 100_000.0)?;
        if let (Some(lo), Some(hi)) = (land_min_ha, land_max_ha)
            && lo > hi
        {
            return Err(unprocessable(
                "land_max_ha",
                format!("{hi} is below land_min_ha {lo}: the range is empty"),
            ));
        }
        let tenure =
            match r.text("tenure")? {
                None => None,
                Some(t) => Some(*TENURES.iter().find(|v| **v == t).ok_or_else(|| {
                    bad("tenure", format!("`{t}`: one of {}", TENURES.join(", ")))
                })?),
            };
        let accepts = match body.get("accepts") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let field = format!("accepts[{i}]");
                    let s = v
                        .as_str()
                        .ok_or_else(|| bad(&field, "a zone name (text)"))?;
                    CONSTRAINTS
                        .iter()
                        .find(|c| **c == s)
                        .copied()
                        .ok_or_else(|| {
                            bad(field, format!("`{s}`: one of {}", CONSTRAINTS.join(", ")))
                        })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(bad(
                    "accepts",
                    "a list of zone names, e.g. [\"flood_zone\"]",
                ));
            }
        };
        let needed_by = match r.text("needed_by")? {
            None => None,
            Some(d) => Some(
                NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                    .map_err(|_| bad("needed_by", format!("`{d}`: a date, YYYY-MM-DD")))?,
            ),
        };
        let territory = r.text("territory")?;
        if let Some(t) = &territory
            && !(t.len() == 9 && t.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad(
                "territory",
                format!("`{t}`: a 9-digit SIREN of an EPCI"),
            ));
        }
        let materials = r
            .list("materials")?
            .iter()
            .enumerate()
            .map(|(i, v)| material_need(i, v))
            .collect::<Result<Vec<_>, _>>()?;
        let occupations = r
            .list("occupations")?
            .iter()
            .enumerate()
            .map(|(i, v)| occupation_need(i, v, known_occupation))
            .collect::<Result<Vec<_>, _>>()?;
        for (i, m) in materials.iter().enumerate() {
            if materials[..i].iter().any(|x| x.material == m.material) {
                // One entry per material: a rule across the list the schema cannot state.
                return Err(unprocessable(
                    format!("materials[{i}].material"),
                    format!(
                        "{} is needed twice: give one entry per material",
                        m.material
                    ),
                ));
            }
        }
        for (i, o) in occupations.iter().enumerate() {
            if occupations[..i].iter().any(|x| x.code == o.code) {
                return Err(unprocessable(
                    format!("occupations[{i}].code"),
                    format!("{} is needed twice: give one entry per occupation", o.code),
                ));
            }
        }
        let weights = weights(body.get("weights"))?;
        let needs = Needs {
            name: r.text("name")?,
            naf_code,
            site_type,
            land_min_ha,
            land_max_ha,
            floor_min_m2: r.number("floor_min_m2", 10_000_000.0)?,
            clear_height_min_m: r.number("clear_height_min_m", 100.0)?,
            dock_doors_min: r.number("dock_doors_min", 10_000.0)?,
            tenure,
            power_min_mva: r.number("power_min_mva", 10_000.0)?,
            water_min_m3_day: r.number("water_min_m3_day", 10_000_000.0)?,
            gas: r.flag("gas")?,
            fibre: r.flag("fibre")?,
            rail_siding: r.flag("rail_siding")?,
            accepts,
            needed_by,
            territory,
            materials,
            occupations,
            weights,
        };
        if needs.weight_sum() <= 0.0 {
            return Err(unprocessable(
                "weights",
                "the weights of the criteria this project has (land, materials, workforce) sum to zero: nothing could rank the sites",
            ));
        }
        Ok(needs)
    }

    /// Whether the project states a land range (the land criterion).
    pub fn has_land(&self) -> bool {
        self.land_min_ha.is_some() || self.land_max_ha.is_some()
    }

    /// Σ of the weights of the criteria the project has.
    pub fn weight_sum(&self) -> f64 {
        let mut w = 0.0;
        if self.has_land() {
            w += self.weights.land;
        }
        if !self.materials.is_empty() {
            w += self.weights.materials;
        }
        if !self.occupations.is_empty() {
            w += self.weights.workforce;
        }
        w
    }
}

/// The path (`weights.land`, `materials[0].profile`) of the first member of `v` that is
/// `null`, if any. The needs are documented without nulls (a member left out takes its
/// default), so a `null` is refused rather than read as "left out".
fn null_member(v: &Json, path: &str) -> Option<String> {
    match v {
        Json::Null => Some(path.to_string()),
        Json::Object(m) => m
            .iter()
            .find_map(|(k, v)| null_member(v, &format!("{path}.{k}"))),
        Json::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, v)| null_member(v, &format!("{path}[{i}]"))),
        _ => None,
    }
}

struct Reader<'a>(&'a Map<String, Json>);

impl Reader<'_> {
    fn text(&self, k: &str) -> Result<Option<String>, BadNeed> {
        match self.0.get(k) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.trim().to_string())),
            Some(_) => Err(bad(k, "text expected")),
        }
    }

    fn number(&self, k: &str, max: f64) -> Result<Option<f64>, BadNeed> {
        number_in(self.0.get(k), k, max)
    }

    fn flag(&self, k: &str) -> Result<bool, BadNeed> {
        match self.0.get(k) {
            None | Some(Json::Null) => Ok(false),
            Some(Json::Bool(b)) => Ok(*b),
            Some(_) => Err(bad(k, "true (needed) or false")),
        }
    }

    fn list(&self, k: &str) -> Result<&[Json], BadNeed> {
        match self.0.get(k) {
            None | Some(Json::Null) => Ok(&[]),
            Some(Json::Array(a)) if a.len() > MAX_NEEDS => {
                Err(bad(k, format!("{} entries: at most {MAX_NEEDS}", a.len())))
            }
            Some(Json::Array(a)) => Ok(a),
            Some(_) => Err(bad(k, "a list of objects")),
        }
    }
}

/// A number in `0..=max` (not negative, finite).
fn number_in(v: Option<&Json>, field: &str, max: f64) -> Result<Option<f64>, BadNeed> {
    match v {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Number(n)) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if x.is_finite() && (0.0..=max).contains(&x) {
                Ok(Some(x))
            } else {
                Err(bad(field, format!("{x}: a number from 0 to {max}")))
            }
        }
        Some(_) => Err(bad(field, "a number expected")),
    }
}

fn minutes(v: Option<&Json>, field: &str) -> Result<f64, BadNeed> {
    match number_in(v, field, MAX_NEED_MINUTES)? {
        None => Ok(DEFAULT_NEED_MINUTES),
        Some(m) if m > 0.0 => Ok(m),
        Some(_) => Err(bad(
            field,
            format!("0: minutes from 1 to {MAX_NEED_MINUTES}"),
        )),
    }
}

fn object<'a>(v: &'a Json, field: &str, known: &[&str]) -> Result<&'a Map<String, Json>, BadNeed> {
    let o = v
        .as_object()
        .ok_or_else(|| bad(field, "an object expected"))?;
    if let Some(k) = o.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(bad(
            format!("{field}.{k}"),
            format!("unknown field; fields are: {}", known.join(", ")),
        ));
    }
    Ok(o)
}

fn material_need(i: usize, v: &Json) -> Result<MaterialNeed, BadNeed> {
    let f = format!("materials[{i}]");
    let o = object(
        v,
        &f,
        &["material", "tonnes_per_year", "max_drive_min", "profile"],
    )?;
    let material = match o.get("material").and_then(Json::as_str) {
        Some(m) => MATERIALS
            .iter()
            .find(|x| **x == m)
            .copied()
            .ok_or_else(|| {
                bad(
                    format!("{f}.material"),
                    format!("`{m}`: one of {}", MATERIALS.join(", ")),
                )
            })?,
        None => return Err(bad(format!("{f}.material"), "a material is required")),
    };
    if material_unit(material) != Some("t") {
        return Err(bad(
            format!("{f}.material"),
            format!(
                "{material} is not counted in tonnes: only materials counted in t can be needed"
            ),
        ));
    }
    let tonnes = number_in(
        o.get("tonnes_per_year"),
        &format!("{f}.tonnes_per_year"),
        1e9,
    )?
    .ok_or_else(|| {
        bad(
            format!("{f}.tonnes_per_year"),
            "the tonnes needed per year are required",
        )
    })?;
    if tonnes <= 0.0 {
        return Err(bad(format!("{f}.tonnes_per_year"), "0: more than 0 tonnes"));
    }
    let profile = match o.get("profile") {
        None | Some(Json::Null) => ProfileId::Hgv,
        Some(Json::String(p)) => p
            .parse::<ProfileId>()
            .map_err(|e| bad(format!("{f}.profile"), e.to_string()))?,
        Some(_) => return Err(bad(format!("{f}.profile"), "car, hgv or hgv_hazmat")),
    };
    Ok(MaterialNeed {
        material,
        tonnes_per_year: tonnes,
        max_drive_min: minutes(o.get("max_drive_min"), &format!("{f}.max_drive_min"))?,
        profile,
    })
}

fn occupation_need(
    i: usize,
    v: &Json,
    known: &dyn Fn(&str) -> bool,
) -> Result<OccupationNeed, BadNeed> {
    let f = format!("occupations[{i}]");
    let o = object(v, &f, &["code", "headcount", "max_commute_min"])?;
    let code = o.get("code").and_then(Json::as_str).ok_or_else(|| {
        bad(
            format!("{f}.code"),
            "a BMO occupation code is required, e.g. G0A40",
        )
    })?;
    if !is_occupation_code(code) {
        return Err(bad(
            format!("{f}.code"),
            format!("`{code}` is not a BMO occupation code (e.g. G0A40)"),
        ));
    }
    if !known(code) {
        // Well formed, but not an occupation of the survey this server loaded: the data's
        // answer, not the request's fault (a 422).
        return Err(unprocessable(
            format!("{f}.code"),
            format!("`{code}` is not a known BMO occupation code (e.g. G0A40)"),
        ));
    }
    let headcount =
        number_in(o.get("headcount"), &format!("{f}.headcount"), 1e6)?.ok_or_else(|| {
            bad(
                format!("{f}.headcount"),
                "the headcount to hire is required",
            )
        })?;
    if headcount < 1.0 || headcount.fract() != 0.0 {
        return Err(bad(
            format!("{f}.headcount"),
            format!("{headcount}: a whole number ≥ 1"),
        ));
    }
    Ok(OccupationNeed {
        code: code.to_string(),
        headcount,
        max_commute_min: minutes(o.get("max_commute_min"), &format!("{f}.max_commute_min"))?,
    })
}

fn weights(v: Option<&Json>) -> Result<Weights, BadNeed> {
    let mut w = Weights {
        land: 1.0,
        materials: 1.0,
        workforce: 1.0,
    };
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(w);
    };
    let o = object(v, "weights", &["land", "materials", "workforce"])?;
    for (k, slot) in [
        ("land", &mut w.land),
        ("materials", &mut w.materials),
        ("workforce", &mut w.workforce),
    ] {
        if let Some(x) = number_in(o.get(k), &format!("weights.{k}"), 1_000.0)? {
            *slot = x;
        }
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(v: Json) -> Result<Needs, BadNeed> {
        Needs::read(v.as_object().unwrap(), &|c| c != "Z9Z99")
    }

    /// A `null` is refused and named by its path, at any depth; the 422s are flagged.
    #[test]
    fn nulls_are_named_by_path_and_unanswerable_needs_are_422s() {
        for (v, path) in [
            (serde_json::json!({"gas": null}), "gas"),
            (
                serde_json::json!({"weights": {"land": null}}),
                "weights.land",
            ),
            (
                serde_json::json!({"materials": [{"material": "wood", "tonnes_per_year": 5, "profile": null}]}),
                "materials[0].profile",
            ),
        ] {
            let e = read(v).unwrap_err();
            assert_eq!((e.field.as_str(), e.unprocessable), (path, false));
        }
        for v in [
            serde_json::json!({"land_min_ha": 9, "land_max_ha": 2}),
            serde_json::json!({"occupations": [{"code": "Z9Z99", "headcount": 1}]}),
            serde_json::json!({"land_min_ha": 1, "weights": {"land": 0, "materials": 0, "workforce": 0}}),
        ] {
            assert!(read(v.clone()).unwrap_err().unprocessable, "{v}");
        }
    }

    #[test]
    fn every_bad_field_is_named() {
        let cases = [
            (serde_json::json!({"naf_code": "1610"}), "naf_code"),
            (serde_json::json!({"colour": "red"}), "colour"),
            (serde_json::json!({"land_min_ha": -1}), "land_min_ha"),
            (
                serde_json::json!({"materials": [{"material": "wood", "tonnes_per_year": -5}]}),
                "materials[0].tonnes_per_year",
            ),
            (
                serde_json::json!({"materials": [{"material": "gold", "tonnes_per_year": 5}]}),
                "materials[0].material",
            ),
            (
                serde_json::json!({"materials": [{"material": "water", "tonnes_per_year": 5}]}),
                "materials[0].material",
            ),
            (
                serde_json::json!({"occupations": [{"code": "Z9Z99", "headcount": 3}]}),
                "occupations[0].code",
            ),
            (
                serde_json::json!({"occupations": [{"code": "maintenance", "headcount": 3}]}),
                "occupations[0].code",
            ),
            (
                serde_json::json!({"occupations": [{"code": "G0A40", "headcount": 2.5}]}),
                "occupations[0].headcount",
            ),
            (
                serde_json::json!({"land_min_ha": 5, "weights": {"land": 0}}),
                "weights",
            ),
            (serde_json::json!({}), "weights"),
            (serde_json::json!({"needed_by": "30/06/2027"}), "needed_by"),
            (
                serde_json::json!({"land_min_ha": 1, "accepts": ["lava"]}),
                "accepts[0]",
            ),
        ];
        for (body, field) in cases {
            assert_eq!(read(body.clone()).unwrap_err().field, field, "{body}");
        }
    }

    #[test]
    fn defaults() {
        let n = read(serde_json::json!({
            "land_min_ha": 5,
            "occupations": [{"code": "G0A40", "headcount": 12}],
        }))
        .unwrap();
        assert_eq!(n.site_type, SiteType::Any);
        assert_eq!(n.occupations[0].max_commute_min, 30.0);
        assert_eq!(n.weight_sum(), 2.0);
        assert!(is_naf_code("16.10A") && !is_naf_code("16.10a"));
    }
}

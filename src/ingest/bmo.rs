//! France Travail's BMO survey ("Besoins en Main-d'Œuvre": hiring projects per occupation and
//! employment area, *bassin*) and its commune → bassin table, joined to commune catchments.
//!
//! **Files.** The survey is a CSV (gzip or plain, `,` or `;`, UTF-8 or Latin-1) with one row per
//! (bassin, occupation): `annee`, `Code métier BMO`, `Nom métier BMO`, `Famille_met`,
//! `Lbl_fam_met`, `BE24` (bassin code; `BE23`, `BE25`… accepted), `NOMBE24`, `met` (hiring
//! projects), `xmet` (projects judged difficult), `smet` (seasonal projects). The table maps
//! `code_commune_insee` → `code_bassin_BMO`, `lib_bassin_BMO`. Columns are found by their header
//! names, compared without case, accents, spaces or punctuation.
//!
//! A bassin across several départements has one row per département part (`Dept`): its
//! figure is the sum of the parts, unknown if any part is masked.
//!
//! **Masked values stay unknown.** France Travail masks small counts as `*`: such a value (or an
//! empty cell) is `None`, never 0. On a catchment, an occupation whose figure is masked is absent
//! from the counts and listed in the `*_masked` field, so a reader tells "masked" from "no row".
//!
//! **Spreading a bassin over its communes: by population.** A commune catchment (its
//! `zone_code` is its INSEE code) receives, for every occupation of its bassin, the bassin's
//! figure × `population of the commune / population of the bassin`, where the population of
//! the bassin is the sum of the populations of **all** its communes nationally that are in the
//! COG table (see [`bassin_population_from_cog`]), not only of those loaded as catchments. A
//! bassin partly inside a territory thus contributes only its loaded communes' share. The
//! share used is stored in `bmo_share`. A commune without population, or whose bassin has no
//! known population, gets its bassin's code and name but no figures (unknown).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::{Feature, Layer, Value, schema};

/// What reading or joining the BMO files can fail on.
#[derive(Debug, thiserror::Error)]
pub enum BmoError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: no column for {what} (looked for a header named {wanted}); the header is: {header}"
    )]
    MissingColumn {
        path: PathBuf,
        what: &'static str,
        wanted: &'static str,
        header: String,
    },
    #[error("{path}, line {line}: {reason}")]
    BadRow {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{path}: the file is empty")]
    Empty { path: PathBuf },
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

/// One occupation of the BMO nomenclature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Occupation {
    pub code: String,
    pub label: String,
    /// Family code (`Famille_met`, e.g. `Z`).
    pub family: String,
    /// Family label (`Lbl_fam_met`, e.g. "Autres métiers").
    pub family_label: String,
}

/// One survey row: an occupation in a bassin. `None` is a masked (`*`) or empty value.
#[derive(Debug, Clone, PartialEq)]
pub struct BmoRow {
    pub bassin: String,
    pub bassin_name: String,
    pub occupation: String,
    pub met: Option<f64>,
    pub xmet: Option<f64>,
    pub smet: Option<f64>,
}

/// The survey: its rows, the occupations they name and the year.
#[derive(Debug, Clone, Default)]
pub struct BmoSurvey {
    /// Survey year (`annee`), when the file says it (the largest if it holds several).
    pub year: Option<i64>,
    pub rows: Vec<BmoRow>,
    /// Occupation code → code, label, family.
    pub occupations: BTreeMap<String, Occupation>,
}

impl BmoSurvey {
    /// The rows of one bassin.
    pub fn rows_of<'a>(&'a self, bassin: &'a str) -> impl Iterator<Item = &'a BmoRow> + 'a {
        self.rows.iter().filter(move |r| r.bassin == bassin)
    }
}

/// Commune INSEE code → (bassin code, bassin name).
#[derive(Debug, Clone, Default)]
pub struct BassinTable {
    pub communes: HashMap<String, (String, String)>,
}

impl BassinTable {
    pub fn bassin_of(&self, commune: &str) -> Option<(&str, &str)> {
        self.communes
            .get(commune)
            .map(|(c, n)| (c.as_str(), n.as_str()))
    }
}

/// What [`apply_to_catchments`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BmoReport {
    pub catchments: usize,
    /// Catchments whose zone code is in the commune → bassin table.
    pub communes_matched: usize,
    /// Zone codes not in the table (no BMO figures: unknown).
    pub communes_unmatched: Vec<String>,
    /// Catchments matched to a bassin but without a population (or bassin population): no figures.
    pub communes_without_population: Vec<String>,
    /// Bassins of the matched communes that the survey holds rows for.
    pub bassins_matched: BTreeSet<String>,
    /// Bassins of the matched communes the survey has no row for.
    pub bassins_without_survey: BTreeSet<String>,
    /// Survey rows of the matched bassins.
    pub rows_used: usize,
    /// Of those, rows with `met`, `xmet`, `smet` masked (or empty).
    pub masked_met: usize,
    pub masked_xmet: usize,
    pub masked_smet: usize,
    /// Distinct occupations in the matched bassins.
    pub occupations: usize,
}

impl std::fmt::Display for BmoReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |v: &[String]| {
            if v.len() > 10 {
                format!("{} …", v[..10].join(", "))
            } else {
                v.join(", ")
            }
        };
        writeln!(
            f,
            "catchments: {}; communes matched to a bassin: {}",
            self.catchments, self.communes_matched
        )?;
        if !self.communes_unmatched.is_empty() {
            writeln!(
                f,
                "  not in the commune → bassin table ({}): {}",
                self.communes_unmatched.len(),
                list(&self.communes_unmatched)
            )?;
        }
        if !self.communes_without_population.is_empty() {
            writeln!(
                f,
                "  without population, figures left unknown ({}): {}",
                self.communes_without_population.len(),
                list(&self.communes_without_population)
            )?;
        }
        let b: Vec<String> = self.bassins_matched.iter().cloned().collect();
        writeln!(f, "bassins matched: {} ({})", b.len(), list(&b))?;
        if !self.bassins_without_survey.is_empty() {
            let b: Vec<String> = self.bassins_without_survey.iter().cloned().collect();
            writeln!(f, "  bassins without survey rows: {}", list(&b))?;
        }
        writeln!(
            f,
            "survey rows used: {}; masked (unknown, not 0): met {}, xmet {}, smet {}",
            self.rows_used, self.masked_met, self.masked_xmet, self.masked_smet
        )?;
        write!(f, "occupations: {}", self.occupations)
    }
}

/// A header name compared without case, accents, spaces or punctuation.
fn norm(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'â' | 'ä' | 'á' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' | 'í' => 'i',
            'ô' | 'ö' | 'ó' => 'o',
            'ù' | 'û' | 'ü' | 'ú' => 'u',
            'ç' => 'c',
            'œ' => 'o',
            c => c,
        })
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// The text of a file, gunzipped when it starts with the gzip magic, decoded as UTF-8 or, when
/// it is not, as Latin-1; a byte-order mark is dropped.
fn read_text(path: &Path) -> Result<String, BmoError> {
    let io = |source| BmoError::Io {
        path: path.to_path_buf(),
        source,
    };
    let raw = std::fs::read(path).map_err(io)?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(io)?;
        out
    } else {
        raw
    };
    let text = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => e.into_bytes().iter().map(|&b| char::from(b)).collect(),
    };
    Ok(text.strip_prefix('\u{feff}').unwrap_or(&text).to_string())
}

/// A CSV reader over `text`, with `;` or `,` as delimiter, whichever the header uses more.
fn csv_reader(text: &str) -> csv::Reader<&[u8]> {
    let header = text.lines().next().unwrap_or("");
    let delim = if header.matches(';').count() > header.matches(',').count() {
        b';'
    } else {
        b','
    };
    csv::ReaderBuilder::new()
        .delimiter(delim)
        .flexible(true)
        .from_reader(text.as_bytes())
}

/// Finds columns by normalised header name.
struct Columns<'a> {
    path: &'a Path,
    header: Vec<String>,
}

impl Columns<'_> {
    /// The first column whose normalised name is one of `names` (or matches `pred`).
    fn find(
        &self,
        what: &'static str,
        wanted: &'static str,
        pred: impl Fn(&str) -> bool,
    ) -> Result<usize, BmoError> {
        self.header
            .iter()
            .position(|h| pred(&norm(h)))
            .ok_or_else(|| BmoError::MissingColumn {
                path: self.path.to_path_buf(),
                what,
                wanted,
                header: self.header.join(", "),
            })
    }

    fn optional(&self, pred: impl Fn(&str) -> bool) -> Option<usize> {
        self.header.iter().position(|h| pred(&norm(h)))
    }
}

/// `BE24`, `BE23`…: a bassin code column of some survey year.
fn is_be_year(h: &str) -> bool {
    h.len() == 4 && h.starts_with("be") && h[2..].bytes().all(|b| b.is_ascii_digit())
}

/// A survey count: `*` or empty is unknown (`None`); otherwise a non-negative number
/// (a decimal comma is accepted).
fn parse_count(s: &str) -> Result<Option<f64>, String> {
    let s = s.trim();
    if s.is_empty() || s == "*" {
        return Ok(None);
    }
    match s.replace(',', ".").parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
        _ => Err(format!(
            "`{s}` is not a count (a number, or `*` for a masked value)"
        )),
    }
}

fn records<'a>(
    path: &'a Path,
    text: &str,
) -> Result<(Columns<'a>, Vec<csv::StringRecord>), BmoError> {
    let mut rdr = csv_reader(text);
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| BmoError::BadRow {
            path: path.to_path_buf(),
            line: 1,
            reason: e.to_string(),
        })?
        .iter()
        .map(str::to_string)
        .collect();
    if header.iter().all(|h| h.trim().is_empty()) {
        return Err(BmoError::Empty {
            path: path.to_path_buf(),
        });
    }
    let mut rows = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        rows.push(rec.map_err(|e| BmoError::BadRow {
            path: path.to_path_buf(),
            line: i + 2,
            reason: e.to_string(),
        })?);
    }
    Ok((Columns { path, header }, rows))
}

/// Reads France Travail's BMO survey (see the module documentation for the columns).
pub fn read_bmo(path: &Path) -> Result<BmoSurvey, BmoError> {
    let text = read_text(path)?;
    let (cols, recs) = records(path, &text)?;
    let c_code = cols.find("the occupation code", "Code métier BMO", |h| {
        h == "codemetierbmo" || h == "codemetier"
    })?;
    let c_label = cols.find("the occupation label", "Nom métier BMO", |h| {
        h == "nommetierbmo" || h == "nommetier" || h == "libellemetier"
    })?;
    let c_fam = cols.find("the occupation family", "Famille_met", |h| {
        h == "famillemet" || h == "famille"
    })?;
    let c_fam_label = cols.find("the family label", "Lbl_fam_met", |h| {
        h == "lblfammet" || h == "libellefamille"
    })?;
    let c_bassin = cols.find("the bassin code", "BE24", |h| {
        is_be_year(h) || h == "codebassinbmo" || h == "codebassin"
    })?;
    let c_bassin_name = cols.find("the bassin name", "NOMBE24", |h| {
        (h.starts_with("nom") && is_be_year(&h[3..])) || h == "libbassinbmo" || h == "nombassin"
    })?;
    let c_met = cols.find("hiring projects", "met", |h| h == "met")?;
    let c_xmet = cols.find("difficult projects", "xmet", |h| h == "xmet")?;
    let c_smet = cols.find("seasonal projects", "smet", |h| h == "smet")?;
    let c_year = cols.optional(|h| h == "annee" || h == "year");
    let c_dept = cols.optional(|h| h == "dept" || h == "dep" || h == "departement");
    let mut survey = BmoSurvey::default();
    let mut seen: HashMap<(String, String), (usize, usize, Vec<String>)> = HashMap::new();
    for (i, rec) in recs.iter().enumerate() {
        let line = i + 2;
        let bad = |reason: String| BmoError::BadRow {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let get = |c: usize| rec.get(c).unwrap_or("").trim();
        if rec.iter().all(|v| v.trim().is_empty()) {
            continue;
        }
        let (code, bassin) = (get(c_code), get(c_bassin));
        if code.is_empty() || bassin.is_empty() {
            return Err(bad("no occupation code or no bassin code".into()));
        }
        let count = |c: usize, name: &str| {
            parse_count(get(c)).map_err(|e| bad(format!("column {name}: {e}")))
        };
        let row = BmoRow {
            bassin: bassin.to_string(),
            bassin_name: get(c_bassin_name).to_string(),
            occupation: code.to_string(),
            met: count(c_met, "met")?,
            xmet: count(c_xmet, "xmet")?,
            smet: count(c_smet, "smet")?,
        };
        let dept = c_dept.map(|c| get(c).to_string()).unwrap_or_default();
        let key = (row.bassin.clone(), row.occupation.clone());
        match seen.get_mut(&key) {
            // A bassin across départements: one row per part, summed.
            Some((at, _, depts)) if !dept.is_empty() && !depts.contains(&dept) => {
                depts.push(dept);
                let merged: &mut BmoRow = &mut survey.rows[*at];
                let sum = |a: Option<f64>, b: Option<f64>| Some(a? + b?);
                merged.met = sum(merged.met, row.met);
                merged.xmet = sum(merged.xmet, row.xmet);
                merged.smet = sum(merged.smet, row.smet);
                continue;
            }
            Some((_, first, _)) => {
                return Err(bad(format!(
                    "bassin {} and occupation {} already on line {first}",
                    row.bassin, row.occupation
                )));
            }
            None => {
                seen.insert(key, (survey.rows.len(), line, vec![dept]));
            }
        }
        if let Some(Ok(y)) = c_year.map(|c| get(c).parse::<i64>()) {
            survey.year = Some(survey.year.map_or(y, |old| old.max(y)));
        }
        survey
            .occupations
            .entry(code.to_string())
            .or_insert_with(|| Occupation {
                code: code.to_string(),
                label: get(c_label).to_string(),
                family: get(c_fam).to_string(),
                family_label: get(c_fam_label).to_string(),
            });
        survey.rows.push(row);
    }
    if survey.rows.is_empty() {
        return Err(BmoError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(survey)
}

/// Reads the commune → bassin table (`code_commune_insee`, `code_bassin_BMO`, `lib_bassin_BMO`).
pub fn read_bassins(path: &Path) -> Result<BassinTable, BmoError> {
    let text = read_text(path)?;
    let (cols, recs) = records(path, &text)?;
    let c_commune = cols.find("the commune INSEE code", "code_commune_insee", |h| {
        matches!(
            h,
            "codecommuneinsee" | "codecommune" | "codeinsee" | "insee"
        )
    })?;
    let c_bassin = cols.find("the bassin code", "code_bassin_BMO", |h| {
        h == "codebassinbmo" || h == "codebassin" || is_be_year(h)
    })?;
    let c_name = cols.find("the bassin name", "lib_bassin_BMO", |h| {
        h == "libbassinbmo" || h == "nombassin" || (h.starts_with("nom") && is_be_year(&h[3..]))
    })?;
    let mut table = BassinTable::default();
    for (i, rec) in recs.iter().enumerate() {
        let get = |c: usize| rec.get(c).unwrap_or("").trim();
        if rec.iter().all(|v| v.trim().is_empty()) {
            continue;
        }
        let (commune, bassin) = (get(c_commune), get(c_bassin));
        if commune.is_empty() || bassin.is_empty() {
            return Err(BmoError::BadRow {
                path: path.to_path_buf(),
                line: i + 2,
                reason: "no commune code or no bassin code".into(),
            });
        }
        // A 4-digit code lost its leading zero (a spreadsheet read it as a number).
        let commune = if commune.len() == 4 && commune.bytes().all(|b| b.is_ascii_digit()) {
            format!("0{commune}")
        } else {
            commune.to_string()
        };
        table
            .communes
            .insert(commune, (bassin.to_string(), get(c_name).to_string()));
    }
    if table.communes.is_empty() {
        return Err(BmoError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(table)
}

/// Bassin code → total population of all its communes found in the COG communes table
/// (`code_insee`, `population_municipale`, as in `communes_france_cog2021_attributs.csv`):
/// the denominator of the population spreading rule.
pub fn bassin_population_from_cog(
    cog: &Path,
    bassins: &BassinTable,
) -> Result<HashMap<String, f64>, BmoError> {
    let text = read_text(cog)?;
    let (cols, recs) = records(cog, &text)?;
    let c_code = cols.find("the commune INSEE code", "code_insee", |h| {
        matches!(
            h,
            "codeinsee" | "codecommuneinsee" | "codecommune" | "insee"
        )
    })?;
    let c_pop = cols.find("the population", "population_municipale", |h| {
        h == "populationmunicipale" || h == "population" || h == "pmun"
    })?;
    let mut out: HashMap<String, f64> = HashMap::new();
    for rec in &recs {
        let code = rec.get(c_code).unwrap_or("").trim();
        let Some((bassin, _)) = bassins.bassin_of(code) else {
            continue;
        };
        if let Ok(p) = rec.get(c_pop).unwrap_or("").trim().parse::<f64>() {
            *out.entry(bassin.to_string()).or_insert(0.0) += p;
        }
    }
    Ok(out)
}

/// The BMO fields a join writes on a catchment (all reset first, so a re-import replaces).
pub const BMO_FIELDS: &[&str] = &[
    "bassin_code",
    "bassin_name",
    "bmo_year",
    "bmo_share",
    "hiring_projects",
    "difficult_projects",
    "seasonal_projects",
    "hiring_masked",
    "difficult_masked",
    "seasonal_masked",
    "difficult_share",
];

/// Joins BMO figures to catchment features (`zone_code` = commune INSEE code), spreading each
/// bassin's figures over its communes by population share: commune population /
/// `bassin_population[bassin]`, the population of **all** the bassin's communes in the COG
/// (computed nationally by [`bassin_population_from_cog`]), so a bassin partly inside a
/// territory contributes only its loaded communes' share. Masked values are left out of the
/// counts and listed in `hiring_masked`, `difficult_masked`, `seasonal_masked` (unknown, never
/// 0). `difficult_share` is Σ xmet / Σ met over the occupations where both are known.
pub fn apply_to_catchments(
    catchments: &mut [Feature],
    survey: &BmoSurvey,
    bassins: &BassinTable,
    bassin_population: &HashMap<String, f64>,
) -> BmoReport {
    let s = schema(Layer::Catchments);
    let idx = |name: &str| s.index_of(name);
    let mut by_bassin: HashMap<&str, Vec<&BmoRow>> = HashMap::new();
    for r in &survey.rows {
        by_bassin.entry(r.bassin.as_str()).or_default().push(r);
    }
    let mut report = BmoReport {
        catchments: catchments.len(),
        ..BmoReport::default()
    };
    let mut occupations = BTreeSet::new();
    for f in catchments.iter_mut() {
        for name in BMO_FIELDS {
            f.props[idx(name)] = None;
        }
        let code = f
            .get(s, "zone_code")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let Some((bassin, bassin_name)) = bassins.bassin_of(&code) else {
            report.communes_unmatched.push(code);
            continue;
        };
        report.communes_matched += 1;
        f.props[idx("bassin_code")] = Some(Value::Text(bassin.to_string()));
        f.props[idx("bassin_name")] = Some(Value::Text(bassin_name.to_string()));
        let Some(rows) = by_bassin.get(bassin) else {
            report.bassins_without_survey.insert(bassin.to_string());
            continue;
        };
        if report.bassins_matched.insert(bassin.to_string()) {
            report.rows_used += rows.len();
            report.masked_met += rows.iter().filter(|r| r.met.is_none()).count();
            report.masked_xmet += rows.iter().filter(|r| r.xmet.is_none()).count();
            report.masked_smet += rows.iter().filter(|r| r.smet.is_none()).count();
            occupations.extend(rows.iter().map(|r| r.occupation.clone()));
        }
        if let Some(y) = survey.year {
            f.props[idx("bmo_year")] = Some(Value::Int(y));
        }
        let population = f.get(s, "population").and_then(Value::as_f64);
        let total = bassin_population.get(bassin).copied();
        let share = match (population, total) {
            (Some(p), Some(t)) if t > 0.0 => p / t,
            _ => {
                report.communes_without_population.push(code);
                continue;
            }
        };
        f.props[idx("bmo_share")] = Some(Value::Float(share));
        let mut put = |counts: &str, masked: &str, pick: fn(&BmoRow) -> Option<f64>| {
            let mut known = BTreeMap::new();
            let mut unknown = Vec::new();
            for r in rows {
                match pick(r) {
                    Some(v) => {
                        known.insert(r.occupation.clone(), v * share);
                    }
                    None => unknown.push(r.occupation.clone()),
                }
            }
            f.props[idx(counts)] = Some(Value::Counts(known));
            if !unknown.is_empty() {
                unknown.sort();
                f.props[idx(masked)] = Some(Value::Text(unknown.join(",")));
            }
        };
        put("hiring_projects", "hiring_masked", |r| r.met);
        put("difficult_projects", "difficult_masked", |r| r.xmet);
        put("seasonal_projects", "seasonal_masked", |r| r.smet);
        let (met, xmet) = rows
            .iter()
            .filter_map(|r| Some((r.met?, r.xmet?)))
            .fold((0.0, 0.0), |(a, b), (m, x)| (a + m, b + x));
        if met > 0.0 {
            f.props[idx("difficult_share")] = Some(Value::Float((xmet / met).min(1.0)));
        }
    }
    report.occupations = occupations.len();
    report
}

/// The occupations table kept next to the layers (`bmo_occupations.json`): the labels and
/// families of the occupation codes the catchments' counts use.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OccupationTable {
    pub year: Option<i64>,
    pub occupations: BTreeMap<String, Occupation>,
}

/// File name of the occupations table in a data directory.
pub const OCCUPATIONS_FILE: &str = "bmo_occupations.json";

impl OccupationTable {
    pub fn of_survey(survey: &BmoSurvey) -> OccupationTable {
        OccupationTable {
            year: survey.year,
            occupations: survey.occupations.clone(),
        }
    }

    /// Writes `bmo_occupations.json` into a data directory (through a temporary file).
    pub fn write(&self, dir: &Path) -> Result<(), BmoError> {
        let path = dir.join(OCCUPATIONS_FILE);
        let err = |reason: String| BmoError::Write {
            path: path.clone(),
            reason,
        };
        let tmp = dir.join(format!("{OCCUPATIONS_FILE}.tmp"));
        let body = serde_json::to_vec_pretty(self).map_err(|e| err(e.to_string()))?;
        std::fs::write(&tmp, body).map_err(|e| err(e.to_string()))?;
        std::fs::rename(&tmp, &path).map_err(|e| err(e.to_string()))
    }

    /// Reads `bmo_occupations.json` from a data directory; `None` when there is none.
    pub fn read(dir: &Path) -> Result<Option<OccupationTable>, BmoError> {
        let path = dir.join(OCCUPATIONS_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| BmoError::BadRow {
                    path,
                    line: e.line(),
                    reason: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(BmoError::Io { path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, body: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    const SURVEY: &str = "annee,Code métier BMO,Nom métier BMO,Famille_met,Lbl_fam_met,REG,NOM_REG,Dept,NomDept,BE24,NOMBE24,met,xmet,smet\n\
        2024,A0X40,Agriculteurs,Z,Autres métiers,28,Normandie,76,Seine-Maritime,2806,LE HAVRE,34,13,18\n\
        2024,A3X41,Marins,Z,Autres métiers,28,Normandie,76,Seine-Maritime,2806,LE HAVRE,*,*,*\n\
        2024,A2X70,Techniciens,Z,Autres métiers,28,Normandie,76,Seine-Maritime,2806,LE HAVRE,50,41,*\n";

    #[test]
    fn masked_values_are_unknown_not_zero() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "bmo.csv", SURVEY.as_bytes());
        let s = read_bmo(&p).unwrap();
        assert_eq!(s.year, Some(2024));
        assert_eq!(s.rows.len(), 3);
        assert_eq!(s.rows[1].met, None);
        assert_eq!(s.rows[2].smet, None);
        assert_eq!(s.rows[2].xmet, Some(41.0));
        assert_eq!(s.occupations["A3X41"].label, "Marins");
        assert_eq!(s.occupations["A0X40"].family_label, "Autres métiers");
    }

    #[test]
    fn gzip_semicolons_latin1_and_other_case() {
        let dir = tempfile::tempdir().unwrap();
        // Latin-1 header with other case and `;`.
        let mut body: Vec<u8> = b"ANNEE;CODE M\xc9TIER BMO;nom metier bmo;famille_met;lbl_fam_met;be25;nombe25;MET;XMET;SMET\n".to_vec();
        body.extend_from_slice(
            b"2025;A0X40;Agriculteurs;Z;Autres m\xe9tiers;2806;LE HAVRE;34;*;1,5\n",
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&body).unwrap();
        let p = write(dir.path(), "bmo.csv.gz", &gz.finish().unwrap());
        let s = read_bmo(&p).unwrap();
        assert_eq!(s.year, Some(2025));
        assert_eq!(s.rows[0].bassin, "2806");
        assert_eq!(s.rows[0].xmet, None);
        assert_eq!(s.rows[0].smet, Some(1.5));
        assert_eq!(s.occupations["A0X40"].family_label, "Autres métiers");
    }

    #[test]
    fn bad_header_and_bad_values_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "x.csv", b"annee,code,met\n2024,A,1\n");
        let e = read_bmo(&p).unwrap_err().to_string();
        assert!(
            e.contains("no column for the occupation code") && e.contains("Code métier BMO"),
            "{e}"
        );
        let p = write(
            dir.path(),
            "y.csv",
            SURVEY.replace(",34,13,18", ",34,-2,18").as_bytes(),
        );
        let e = read_bmo(&p).unwrap_err().to_string();
        assert!(
            e.contains("line 2") && e.contains("xmet") && e.contains("-2"),
            "{e}"
        );
        let p = write(dir.path(), "z.csv", b"");
        assert!(matches!(read_bmo(&p), Err(BmoError::Empty { .. })));
        let p = write(dir.path(), "b.csv", b"reg,dep,commune\n28,76,76351\n");
        let e = read_bassins(&p).unwrap_err().to_string();
        assert!(e.contains("code_commune_insee"), "{e}");
        let dup =
            format!("{SURVEY}2024,A3X41,Marins,Z,Autres métiers,28,N,76,S,2806,LE HAVRE,1,1,1\n");
        let p = write(dir.path(), "d.csv", dup.as_bytes());
        let e = read_bmo(&p).unwrap_err().to_string();
        assert!(e.contains("already on line 3"), "{e}");
    }

    #[test]
    fn a_bassin_across_departements_sums_its_parts() {
        let dir = tempfile::tempdir().unwrap();
        let body = "annee,Code métier BMO,Nom métier BMO,Famille_met,Lbl_fam_met,Dept,BE24,NOMBE24,met,xmet,smet\n\
            2024,A0X40,Agriculteurs,Z,Autres,77,1118,PORTE SUD,6,6,*\n\
            2024,A0X40,Agriculteurs,Z,Autres,91,1118,PORTE SUD,12,*,2\n";
        let s = read_bmo(&write(dir.path(), "bmo.csv", body.as_bytes())).unwrap();
        assert_eq!(s.rows.len(), 1);
        assert_eq!(s.rows[0].met, Some(18.0));
        // One part masked: the bassin's figure is unknown.
        assert_eq!((s.rows[0].xmet, s.rows[0].smet), (None, None));
    }

    #[test]
    fn spread_by_population_keeps_masked_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let survey = read_bmo(&write(dir.path(), "bmo.csv", SURVEY.as_bytes())).unwrap();
        let bassins = read_bassins(&write(
            dir.path(),
            "b.csv",
            "reg,dep,code_commune_insee,code_bassin_BMO,lib_bassin_BMO\n28,76,76351,2806,LE HAVRE\n28,76,76552,2806,LE HAVRE\n"
                .as_bytes(),
        ))
        .unwrap();
        let s = schema(Layer::Catchments);
        let feature = |code: &str, pop: Option<i64>| {
            let mut props = vec![None; s.fields.len()];
            props[s.index_of("zone_code")] = Some(Value::Text(code.into()));
            props[s.index_of("population")] = pop.map(Value::Int);
            Feature {
                id: 1,
                version: 1,
                geometry: geo_types::Point::new(0.0, 0.0).into(),
                props,
                extra: Default::default(),
            }
        };
        let mut fs = vec![
            feature("76351", Some(750)),
            feature("76552", None),
            feature("99999", Some(1)),
        ];
        let pop = HashMap::from([("2806".to_string(), 1000.0)]);
        let r = apply_to_catchments(&mut fs, &survey, &bassins, &pop);
        assert_eq!(r.communes_matched, 2);
        assert_eq!(r.communes_unmatched, vec!["99999".to_string()]);
        assert_eq!(r.communes_without_population, vec!["76552".to_string()]);
        assert_eq!((r.rows_used, r.masked_met, r.masked_smet), (3, 1, 2));
        let hp = match fs[0].get(s, "hiring_projects") {
            Some(Value::Counts(m)) => m.clone(),
            v => panic!("{v:?}"),
        };
        assert_eq!(hp.get("A0X40"), Some(&(34.0 * 0.75)));
        assert_eq!(hp.get("A3X41"), None, "masked is not 0");
        assert_eq!(
            fs[0].get(s, "hiring_masked"),
            Some(&Value::Text("A3X41".into()))
        );
        assert_eq!(
            fs[0].get(s, "seasonal_masked"),
            Some(&Value::Text("A2X70,A3X41".into()))
        );
        assert_eq!(
            fs[0].get(s, "difficult_share"),
            Some(&Value::Float(54.0 / 84.0))
        );
        // No population: the bassin is named, the figures are unknown.
        assert_eq!(
            fs[1].get(s, "bassin_code"),
            Some(&Value::Text("2806".into()))
        );
        assert_eq!(fs[1].get(s, "hiring_projects"), None);
    }
}

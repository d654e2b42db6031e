//! The reasons of a match in words: French (the users' language, the default) or English.

use chrono::NaiveDate;

use super::needs::{MaterialNeed, OccupationNeed};
use crate::model::Layer;

/// The language of reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Fr,
    En,
}

impl Lang {
    /// From an `Accept-Language` header: English when its first language is English, French
    /// otherwise.
    ///
    /// ```
    /// use terriens::matching::Lang;
    /// assert_eq!(Lang::from_accept_language(Some("en-GB,en;q=0.9")), Lang::En);
    /// assert_eq!(Lang::from_accept_language(Some("fr-FR,fr;q=0.9,en;q=0.5")), Lang::Fr);
    /// assert_eq!(Lang::from_accept_language(None), Lang::Fr);
    /// ```
    pub fn from_accept_language(h: Option<&str>) -> Lang {
        let first = h.and_then(|h| h.split(',').next()).map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        match first {
            Some(t) if t == "en" || t.starts_with("en-") => Lang::En,
            _ => Lang::Fr,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }
}

/// A number as people write it: grouped thousands, no decimals from 10 up, one below.
pub fn number(x: f64, lang: Lang) -> String {
    let (int, frac) = if x.abs() >= 10.0 {
        (format!("{:.0}", x), None)
    } else {
        let s = format!("{:.1}", x);
        let (i, f) = s.split_once('.').unwrap_or((&s, "0"));
        (i.to_string(), (f != "0").then(|| f.to_string()))
    };
    let (neg, digits) = match int.strip_prefix('-') {
        Some(d) => (true, d.to_string()),
        None => (false, int),
    };
    let sep = match lang {
        Lang::Fr => '\u{202f}',
        Lang::En => ',',
    };
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(sep);
        }
        grouped.push(c);
    }
    let mut out = if neg { format!("-{grouped}") } else { grouped };
    if let Some(f) = frac {
        out.push(if lang == Lang::Fr { ',' } else { '.' });
        out.push_str(&f);
    }
    out
}

fn material_fr(m: &str) -> &str {
    match m {
        "wood" => "bois",
        "concrete" => "béton",
        "plastic" => "plastique",
        "metal" => "métaux",
        "shells" => "coquillages",
        "raw_earth" => "terre crue",
        "organic" => "matière organique",
        "paper_cardboard" => "papier-carton",
        "glass" => "verre",
        "textile" => "textile",
        other => other,
    }
}

fn profile_words(p: crate::routing::ProfileId, lang: Lang) -> &'static str {
    use crate::routing::ProfileId::*;
    match (p, lang) {
        (Car, Lang::Fr) => "en voiture",
        (Hgv, Lang::Fr) => "en poids lourd",
        (HgvHazmat, Lang::Fr) => "en poids lourd de matières dangereuses",
        (Car, Lang::En) => "by car",
        (Hgv, Lang::En) => "by HGV",
        (HgvHazmat, Lang::En) => "by hazmat HGV",
    }
}

/// The words of one answer.
pub(super) struct Words(pub Lang);

impl Words {
    fn n(&self, x: f64) -> String {
        number(x, self.0)
    }

    fn fr(&self) -> bool {
        self.0 == Lang::Fr
    }

    pub fn site_type(&self, layer: Layer, wanted: &str) -> String {
        let is = if layer == Layer::Plots {
            "plot"
        } else {
            "building"
        };
        match (self.fr(), is == wanted) {
            (true, true) => format!(
                "{} demandé",
                if is == "plot" { "terrain" } else { "bâtiment" }
            ),
            (true, false) => format!(
                "le projet cherche un {}",
                if wanted == "plot" {
                    "terrain"
                } else {
                    "bâtiment"
                }
            ),
            (false, true) => format!("a {is}, as asked"),
            (false, false) => format!("the project looks for a {wanted}"),
        }
    }

    pub fn status(&self, status: Option<&str>) -> String {
        match (self.fr(), status) {
            (true, Some("available")) => "disponible".into(),
            (true, Some(s)) => format!("non disponible ({s})"),
            (true, None) => "statut commercial inconnu".into(),
            (false, Some("available")) => "available".into(),
            (false, Some(s)) => format!("not available ({s})"),
            (false, None) => "commercial status unknown".into(),
        }
    }

    pub fn available(&self, from: Option<NaiveDate>, by: NaiveDate) -> String {
        match (self.fr(), from) {
            (true, Some(d)) if d <= by => format!("disponible le {d}, avant le {by} demandé"),
            (true, Some(d)) => format!("disponible le {d} seulement, après le {by} demandé"),
            (true, None) => "date de disponibilité inconnue".into(),
            (false, Some(d)) if d <= by => format!("available on {d}, before the {by} needed"),
            (false, Some(d)) => format!("available only on {d}, after the {by} needed"),
            (false, None) => "availability date unknown".into(),
        }
    }

    fn field_words(&self, field: &str) -> &'static str {
        match (self.fr(), field) {
            (true, "land") => "surface",
            (true, "floor_area_m2") => "surface de plancher",
            (true, "clear_height_m") => "hauteur libre",
            (true, "dock_doors") => "quais de chargement",
            (true, "power_mva") => "puissance électrique",
            (true, "water_m3_day") => "eau industrielle",
            (false, "land") => "area",
            (false, "floor_area_m2") => "floor area",
            (false, "clear_height_m") => "clear height",
            (false, "dock_doors") => "dock doors",
            (false, "power_mva") => "electrical power",
            (false, "water_m3_day") => "industrial water",
            _ => "value",
        }
    }

    pub fn at_least(&self, field: &str, v: Option<f64>, min: f64, unit: &str) -> String {
        let what = self.field_words(field);
        let u = if unit.is_empty() {
            String::new()
        } else {
            format!(" {unit}")
        };
        match (self.fr(), v) {
            (true, Some(v)) => format!("{what} {}{u} pour {}{u} minimum", self.n(v), self.n(min)),
            (true, None) => format!("{what} inconnue ({}{u} minimum demandés)", self.n(min)),
            (false, Some(v)) => format!("{what} {}{u} for {}{u} at least", self.n(v), self.n(min)),
            (false, None) => format!("{what} unknown ({}{u} at least needed)", self.n(min)),
        }
    }

    pub fn utility(&self, name: &str, v: Option<bool>) -> String {
        let what = match (self.fr(), name) {
            (true, "gas") => "raccordement au gaz",
            (true, "fibre") => "fibre optique",
            (true, _) => "embranchement ferroviaire",
            (false, "gas") => "gas connection",
            (false, "fibre") => "fibre",
            (false, _) => "rail siding",
        };
        match (self.fr(), v) {
            (true, Some(true)) => format!("{what} : oui"),
            (true, Some(false)) => format!("{what} : non"),
            (true, None) => format!("{what} : inconnu"),
            (false, Some(true)) => format!("{what}: yes"),
            (false, Some(false)) => format!("{what}: no"),
            (false, None) => format!("{what}: unknown"),
        }
    }

    pub fn zone(&self, zone: &str) -> String {
        match (self.fr(), zone) {
            (true, "flood_zone") => "en zone inondable, que le projet n'accepte pas".into(),
            (true, "seveso") => "dans un périmètre Seveso, que le projet n'accepte pas".into(),
            (true, "natura2000") => "en zone Natura 2000, que le projet n'accepte pas".into(),
            (true, _) => "sol pollué, que le projet n'accepte pas".into(),
            (false, "flood_zone") => "in a flood zone, which the project does not accept".into(),
            (false, "seveso") => {
                "inside a Seveso perimeter, which the project does not accept".into()
            }
            (false, "natura2000") => {
                "in a Natura 2000 area, which the project does not accept".into()
            }
            (false, _) => "polluted soil, which the project does not accept".into(),
        }
    }

    pub fn tenure(&self, offered: Option<&str>, wanted: &str) -> String {
        match (self.fr(), offered) {
            (true, Some(o)) => format!("proposé en {o}, le projet veut {wanted}"),
            (true, None) => "mode de cession inconnu".into(),
            (false, Some(o)) => format!("offered for {o}, the project wants {wanted}"),
            (false, None) => "tenure unknown".into(),
        }
    }

    pub fn territory(&self, v: Option<&str>, siren: &str) -> String {
        match (self.fr(), v) {
            (true, Some(t)) if t == siren => format!("dans le territoire {siren}"),
            (true, Some(t)) => format!("dans le territoire {t}, pas {siren}"),
            (true, None) => "territoire inconnu".into(),
            (false, Some(t)) if t == siren => format!("in territory {siren}"),
            (false, Some(t)) => format!("in territory {t}, not {siren}"),
            (false, None) => "territory unknown".into(),
        }
    }

    pub fn land(&self, area: Option<f64>, min: Option<f64>, max: Option<f64>) -> String {
        let range = match (min, max, self.fr()) {
            (Some(a), Some(b), true) => format!("{} à {} ha", self.n(a), self.n(b)),
            (Some(a), None, true) => format!("au moins {} ha", self.n(a)),
            (None, Some(b), true) => format!("au plus {} ha", self.n(b)),
            (Some(a), Some(b), false) => format!("{} to {} ha", self.n(a), self.n(b)),
            (Some(a), None, false) => format!("at least {} ha", self.n(a)),
            (None, Some(b), false) => format!("at most {} ha", self.n(b)),
            (None, None, _) => String::new(),
        };
        match (area, self.fr()) {
            (Some(a), true) => format!("{} ha pour {range} demandés", self.n(a)),
            (Some(a), false) => format!("{} ha for {range} needed", self.n(a)),
            (None, true) => format!("surface inconnue ({range} demandés)"),
            (None, false) => format!("area unknown ({range} needed)"),
        }
    }

    pub fn material(
        &self,
        need: &MaterialNeed,
        tonnes: f64,
        nearest_s: Option<f64>,
        on_roads: bool,
    ) -> String {
        let p = profile_words(need.profile, self.0);
        let (m, mins) = (need.material, self.n(need.max_drive_min));
        if !on_roads {
            return if self.fr() {
                format!(
                    "{} : site hors du réseau routier, aucun gisement mesurable",
                    material_fr(m)
                )
            } else {
                format!("{m}: the site is off the road network, no source can be measured")
            };
        }
        let nearest = nearest_s.map(|s| self.n((s / 60.0).round()));
        match (self.fr(), nearest) {
            (true, Some(n)) => format!(
                "{} : {} t/an accessibles à moins de {mins} min {p} pour {} t/an demandées ; gisement le plus proche à {n} min",
                material_fr(m),
                self.n(tonnes),
                self.n(need.tonnes_per_year)
            ),
            (true, None) => format!(
                "{} : aucun gisement à moins de {mins} min {p} ({} t/an demandées)",
                material_fr(m),
                self.n(need.tonnes_per_year)
            ),
            (false, Some(n)) => format!(
                "{m}: {} t/yr reachable within {mins} min {p} for {} t/yr needed; the nearest source {n} min away",
                self.n(tonnes),
                self.n(need.tonnes_per_year)
            ),
            (false, None) => format!(
                "{m}: no source within {mins} min {p} ({} t/yr needed)",
                self.n(need.tonnes_per_year)
            ),
        }
    }

    /// The supply of one material: suppliers, road kilometres and the balance.
    pub fn impact(&self, m: &super::MaterialImpact) -> String {
        let name = if self.fr() {
            material_fr(&m.material).to_string()
        } else {
            m.material.clone()
        };
        if m.suppliers.is_empty() {
            return if self.fr() {
                format!("{name} : aucun gisement ne peut approvisionner le site")
            } else {
                format!("{name}: no source can supply the site")
            };
        }
        let n = m.suppliers.len();
        let km = m.suppliers.iter().filter_map(|s| s.road_m).sum::<f64>() / 1000.0;
        let fr = self.fr();
        let unknown = if fr {
            "inconnu (pas de facteur sourcé)"
        } else {
            "unknown (no sourced factor)"
        };
        let t_co2e = |x: Option<f64>| {
            x.map(|x| format!("{} t CO2e", self.n((x / 1000.0 * 10.0).round() / 10.0)))
                .unwrap_or_else(|| unknown.into())
        };
        let b = &m.balance;
        let transport = t_co2e(b.transport_kgco2e);
        let avoided = t_co2e(b.avoided_kgco2e);
        let tax = b
            .tax_saved_eur
            .map(|e| format!("{} €", self.n(e.round())))
            .unwrap_or_else(|| unknown.into());
        let tkm = b
            .tkm
            .map(|t| format!("{} t·km", self.n(t.round())))
            .unwrap_or_else(|| unknown.into());
        let met = m.met();
        if fr {
            format!(
                "{name} : {} t/an de {n} gisement{} (les plus proches par la route{}), {} km de route, {tkm} ; transport : {transport}, émissions évitées : {avoided} ; {} t détournées de l'enfouissement (TGAP évitée : {tax})",
                self.n(b.supplied_t),
                if n > 1 { "s" } else { "" },
                if met { "" } else { ", besoin non couvert" },
                self.n((km * 10.0).round() / 10.0),
                self.n(b.disposal_avoided_t),
            )
        } else {
            format!(
                "{name}: {} t/yr from {n} source{} (nearest by road first{}), {} road km, {tkm}; transport: {transport}, emissions avoided: {avoided}; {} t kept out of landfill (landfill tax saved: {tax})",
                self.n(b.supplied_t),
                if n > 1 { "s" } else { "" },
                if met { "" } else { "; the need is not met" },
                self.n((km * 10.0).round() / 10.0),
                self.n(b.disposal_avoided_t),
            )
        }
    }

    pub fn workforce(
        &self,
        need: &OccupationNeed,
        seekers: Option<f64>,
        difficult: Option<f64>,
        on_roads: bool,
    ) -> String {
        let (code, mins, head) = (
            &need.code,
            self.n(need.max_commute_min),
            self.n(need.headcount),
        );
        if !on_roads {
            return if self.fr() {
                format!("{code} : site hors du réseau routier, main-d'œuvre non mesurable")
            } else {
                format!("{code}: the site is off the road network, workforce cannot be measured")
            };
        }
        let s = self.n(seekers.unwrap_or(0.0).round());
        let d = difficult.map(|d| self.n(d.round()));
        match (self.fr(), d) {
            (true, Some(d)) => format!(
                "{code} : {s} demandeurs d'emploi et {d} projets de recrutement jugés difficiles à moins de {mins} min de trajet, pour {head} à recruter"
            ),
            (true, None) => format!(
                "{code} : {s} demandeurs d'emploi à moins de {mins} min de trajet, pour {head} à recruter"
            ),
            (false, Some(d)) => format!(
                "{code}: {s} job seekers and {d} hiring projects judged difficult within a {mins}-minute commute, for {head} to hire"
            ),
            (false, None) => format!(
                "{code}: {s} job seekers within a {mins}-minute commute, for {head} to hire"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(number(1240.0, Lang::En), "1,240");
        assert_eq!(number(1240.0, Lang::Fr), "1\u{202f}240");
        assert_eq!(number(2.5, Lang::Fr), "2,5");
        assert_eq!(number(3.0, Lang::En), "3");
        assert_eq!(number(1_234_567.0, Lang::En), "1,234,567");
    }
}

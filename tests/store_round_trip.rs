//! Import GeoJSON → store (FlatGeobuf, atomic write) → reload gives the same ids, geometries
//! (within 1e-9°) and attributes, extras included.

use geo::CoordsIter;
use indicatif::ProgressBar;
use terriens::index::LayerData;
use terriens::ingest::{Format, ImportOptions, import_bytes};
use terriens::model::{Feature, Layer};
use terriens::store::DataDir;
use terriens::store::embedded_snapshot;

fn assert_same(a: &Feature, b: &Feature) {
    assert_eq!(a.id, b.id);
    assert_eq!(a.version, b.version);
    assert_eq!(a.props, b.props, "feature {}", a.id);
    assert_eq!(a.extra, b.extra, "feature {}", a.id);
    let (ca, cb): (Vec<_>, Vec<_>) = (
        a.geometry.coords_iter().collect(),
        b.geometry.coords_iter().collect(),
    );
    assert_eq!(ca.len(), cb.len(), "feature {}", a.id);
    for (p, q) in ca.iter().zip(&cb) {
        assert!(
            (p.x - q.x).abs() < 1e-9 && (p.y - q.y).abs() < 1e-9,
            "feature {}",
            a.id
        );
    }
    assert_eq!(
        std::mem::discriminant(&a.geometry),
        std::mem::discriminant(&b.geometry)
    );
}

#[test]
fn every_demo_layer_round_trips() {
    let snap = embedded_snapshot().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = DataDir::open(dir.path()).unwrap();
    for data in snap.layers() {
        store.save_layer(data).unwrap();
    }
    let reloaded = store.load().unwrap();
    for layer in Layer::ALL {
        let (a, b) = (snap.layer(layer), reloaded.layer(layer));
        assert_eq!(a.len(), b.len(), "{layer}");
        for row in 0..a.len() as u32 {
            let fa = a.feature(row);
            let rb = b
                .row_of(fa.id)
                .unwrap_or_else(|| panic!("{layer} id {} lost", fa.id));
            assert_same(&fa, &b.feature(rb));
        }
    }
    // No temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn mixed_geometries_extras_and_odd_values_round_trip() {
    let doc = r#"{"type":"FeatureCollection","features":[
      {"type":"Feature","id":"76351_0001","properties":{"site_surface":15000,"name":"Friche à l'Eure","comm_insee":"76351","urba_zone_lib":"UX","colour":"rust","nested":{"a":[1,2]},"nothing":null},
       "geometry":{"type":"Point","coordinates":[0.1234567891,49.4944]}},
      {"type":"Feature","id":7,"properties":{"status":"Available","available_from":"2027-01-15","turnkey":"oui","price_eur_m2":"12,5"},
       "geometry":{"type":"MultiPolygon","coordinates":[[[[0.1,49.5],[0.11,49.5],[0.11,49.51],[0.1,49.5]]],[[[0.2,49.5],[0.21,49.5],[0.21,49.51],[0.2,49.5]]]]}}
    ]}"#;
    let out = import_bytes(
        doc.as_bytes(),
        Format::GeoJson,
        &ImportOptions::new(Layer::Plots),
        &ProgressBar::hidden(),
    )
    .unwrap();
    assert_eq!(out.report.rejected, vec![]);
    let data = LayerData::build(Layer::Plots, out.features.clone());
    let dir = tempfile::tempdir().unwrap();
    let store = DataDir::open(dir.path()).unwrap();
    store.save_layer(&data).unwrap();
    let back = store.load_layer(Layer::Plots).unwrap();
    for f in &out.features {
        assert_same(f, &back.feature(back.row_of(f.id).unwrap()));
    }
    // The string id is hashed to a stable number and kept as source_id.
    let s = terriens::model::schema(Layer::Plots);
    let point = out.features.iter().find(|f| f.id != 7).unwrap();
    assert_eq!(point.id, terriens::ingest::string_id("76351_0001"));
    assert_eq!(
        point.get(s, "source_id"),
        Some(&terriens::model::Value::Text("76351_0001".into()))
    );
    // A point plot takes its area from the declared surface (m² → ha).
    assert_eq!(
        point.get(s, "area_ha"),
        Some(&terriens::model::Value::Float(1.5))
    );
    assert_eq!(
        point.get(s, "area_source"),
        Some(&terriens::model::Value::Text("declared".into()))
    );
}

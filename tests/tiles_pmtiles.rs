//! The PMTiles export read back with the independent Python `pmtiles` reader: same tiles as
//! the server renders, TileJSON metadata with `vector_layers`, a header that says gzip and MVT.

use crate::common::python;
use crate::common::world;

use std::collections::BTreeSet;

use indicatif::ProgressBar;
use serde_json::Value as Json;

use terriens::model::{Audience, Layer};
use terriens::tiles::{
    ExportOptions, TileConfig, TileCoord, TileEngine, TileSet, export_pmtiles, lonlat_to_world,
    render_tile,
};

fn export_and_read(
    set: &TileSet,
    minzoom: u8,
    maxzoom: u8,
    root_max: Option<usize>,
) -> (Json, tempfile::TempDir, terriens::tiles::ExportReport) {
    let snap = world::world(7, world::Counts::SMALL);
    let cfg = TileConfig::default();
    let engine = TileEngine::new(cfg.clone());
    let prepared = engine.prepared(&snap);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("world.pmtiles");
    let report = export_pmtiles(
        &prepared,
        set,
        &cfg,
        &ExportOptions {
            root_max_bytes: root_max.unwrap_or(16_384 - 127),
            ..ExportOptions::new(out.clone(), minzoom, maxzoom)
        },
        &ProgressBar::hidden(),
    )
    .unwrap();
    let tiles_dir = dir.path().join("tiles");
    std::fs::create_dir(&tiles_dir).unwrap();
    let read: Json = serde_json::from_str(&python::run(
        "read_pmtiles.py",
        "pmtiles",
        &[&out, &tiles_dir],
    ))
    .unwrap();
    // Every tile equals the server's.
    let mut seen = BTreeSet::new();
    for t in read["tiles"].as_array().unwrap() {
        let c = TileCoord::new(
            t[0].as_u64().unwrap(),
            t[1].as_u64().unwrap(),
            t[2].as_u64().unwrap(),
        )
        .unwrap();
        let bytes = std::fs::read(tiles_dir.join(format!("{}_{}_{}.mvt", c.z, c.x, c.y))).unwrap();
        assert_eq!(
            bytes,
            render_tile(&prepared, set, c, &cfg).bytes,
            "tile {c}"
        );
        assert!(seen.insert(c), "tile {c} twice");
    }
    assert_eq!(seen.len() as u64, report.addressed_tiles);
    assert_eq!(read["found_by_get"], read["sampled"]);
    // Every tile holding a feature's anchor is in the archive, from the zoom where the layer
    // is complete (below it features under a pixel may be left out).
    for (layer, _) in &set.layers {
        let data = snap.layer(*layer);
        let from = prepared
            .layer(*layer)
            .complete_from
            .unwrap_or(u8::MAX)
            .max(minzoom);
        for row in (0..data.len() as u32).step_by(11) {
            let Some(r) = geo::BoundingRect::bounding_rect(data.geometry(row)) else {
                continue;
            };
            let [wx, wy] = lonlat_to_world(r.center().x, r.center().y);
            for z in from..=maxzoom {
                let n = f64::from(1u32 << z);
                let c = TileCoord {
                    z,
                    x: (wx * n) as u32,
                    y: (wy * n) as u32,
                };
                assert!(seen.contains(&c), "{layer} row {row}: tile {c} missing");
            }
        }
    }
    (read, dir, report)
}

#[test]
fn archive_reads_back_with_the_same_tiles_and_metadata() {
    let set = TileSet::new(&Layer::ALL, Audience::Public);
    let (read, _dir, report) = export_and_read(&set, 0, 14, None);
    let h = &read["header"];
    assert_eq!(h["tile_type"], "MVT");
    assert_eq!(h["tile_compression"], "GZIP");
    assert_eq!(h["min_zoom"], 0);
    assert_eq!(h["max_zoom"], 14);
    assert!(h["min_lon_e7"].as_i64().unwrap() > 0);
    let m = &read["metadata"];
    let ids: Vec<&str> = m["vector_layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![
            "plots",
            "buildings",
            "waste_deposits",
            "catchments",
            "territories"
        ]
    );
    assert_eq!(m["vector_layers"][0]["fields"]["status"], "String");
    assert!(report.tile_contents <= report.addressed_tiles);
}

#[test]
fn large_archives_use_leaf_directories_and_run_lengths() {
    // The territory alone: most tiles are identical (inside the boundary), so deduplication and
    // run-length encoding matter; a small root limit sends the entries to leaf directories.
    let set = TileSet::new(&[Layer::Territories], Audience::Public);
    let (_read, _dir, report) = export_and_read(&set, 0, 14, Some(60));
    assert!(report.addressed_tiles > 500, "{report:?}");
    assert!(
        report.tile_contents * 3 < report.addressed_tiles,
        "{report:?}"
    );
    assert!(report.tile_entries < report.addressed_tiles, "{report:?}");
    assert!(report.leaf_directories > 0, "{report:?}");
}

//! Radius, nearest, box and polygon search on real data against brute force with GeographicLib:
//! the Cerema Cartofriches brownfields of Seine-Maritime (points, as plots), the IREP 2021
//! industrial sites (points, as waste-stream holders), the 707 communes of Seine-Maritime
//! (multipolygons, as catchments) and the Le Havre Seine Métropole boundary (the query polygon).
//! The folder comes from `TERRIENS_REALDATA`; without it the test says so and skips.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use geo_types::{Geometry, Point, point};
use indicatif::ProgressBar;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use common::{in_polygon, oracle_distance, rough_lower_bound, tolerance};
use terriens::index::{Filter, LayerData, Snapshot};
use terriens::ingest::{ImportOptions, import_file};
use terriens::model::{Access, Layer};
use terriens::query::{LayerQuery, PageRequest, Relation, Scope, search};

fn load(dir: &std::path::Path, file: &str, layer: Layer, as_holders: bool) -> LayerData {
    let mut opts = ImportOptions::new(layer);
    opts.as_holders = as_holders;
    let out = import_file(&dir.join(file), &opts, &ProgressBar::hidden())
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(!out.features.is_empty(), "{file} has features");
    LayerData::build(layer, out.features)
}

fn all_hits(snap: &Snapshot, layer: Layer, scope: Scope) -> Vec<terriens::query::Hit> {
    let mut q = LayerQuery {
        layer,
        scope,
        filter: Filter::all(layer),
        origin: None,
        sort: Vec::new(),
        page: PageRequest::first(1000),
    };
    let mut out = Vec::new();
    loop {
        let page = search(&snap.view(&Access::PARTNER), &q, None).unwrap();
        out.extend(page.items);
        match page.next {
            Some(c) => q.page.cursor = Some(c),
            None => return out,
        }
    }
}

#[test]
fn real_brownfields_irep_and_communes_equal_brute_force() {
    let Some(dir) = common::realdata("search_realdata") else {
        return;
    };
    let seed = 76_351;
    println!("seed {seed}");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let snap = Snapshot::new(
        1,
        [
            load(&dir, "cartofriches_76_wgs84.geojson", Layer::Plots, false),
            load(
                &dir,
                "irep_2021_etablissements_76_wgs84.geojson",
                Layer::WasteDeposits,
                true,
            ),
            load(
                &dir,
                "communes_76_seine-maritime_wgs84.geojson",
                Layer::Catchments,
                false,
            ),
            load(
                &dir,
                "epci_cu_le_havre_seine_metropole_wgs84.geojson",
                Layer::Territories,
                false,
            ),
        ],
    );
    for l in [Layer::Plots, Layer::WasteDeposits, Layer::Catchments] {
        println!("{l}: {} features", snap.layer(l).len());
    }
    // Query points: real sites (brownfields, IREP) jittered, and random points of the département.
    let anchors: Vec<Point<f64>> = [Layer::Plots, Layer::WasteDeposits]
        .iter()
        .flat_map(|l| snap.layer(*l).geometries().iter())
        .filter_map(|g| match g {
            Geometry::Point(p) => Some(*p),
            _ => None,
        })
        .collect();
    let bounds = snap.layer(Layer::Catchments).bounds().unwrap();
    let centre = |rng: &mut ChaCha8Rng| -> Point<f64> {
        if rng.random_bool(0.6) {
            let a = anchors[rng.random_range(0..anchors.len())];
            point!(x: a.x() + rng.random_range(-0.02..0.02), y: a.y() + rng.random_range(-0.02..0.02))
        } else {
            point!(x: rng.random_range(bounds.min().x..bounds.max().x), y: rng.random_range(bounds.min().y..bounds.max().y))
        }
    };
    let (mut radius_q, mut knn_q, mut bbox_q) = (0, 0, 0);
    for i in 0..240 {
        let layer = [Layer::Plots, Layer::WasteDeposits, Layer::Catchments][i % 3];
        let data = snap.layer(layer);
        let c = centre(&mut rng);
        // Radius.
        let max_r: f64 = if layer == Layer::Catchments {
            4_000.0
        } else {
            30_000.0
        };
        let r = rng.random_range(100f64.ln()..max_r.ln()).exp();
        let hits = all_hits(
            &snap,
            layer,
            Scope::Radius {
                centre: c,
                radius_m: r,
            },
        );
        let got: BTreeMap<u32, f64> = hits
            .iter()
            .map(|h| (h.row, h.distance_m.unwrap()))
            .collect();
        for row in 0..data.len() as u32 {
            let g = data.geometry(row);
            if rough_lower_bound(c, g) > r + 100.0 {
                assert!(!got.contains_key(&row));
                continue;
            }
            let d = oracle_distance(c, g, 25.0);
            match got.get(&row) {
                Some(mine) => assert!(
                    (mine - d).abs() <= tolerance(d) && d <= r + tolerance(d),
                    "{layer} row {row}: {mine} vs oracle {d} (radius {r})"
                ),
                None => assert!(
                    d > r - tolerance(d),
                    "{layer} row {row} at {d} m missing from {r} m around {c:?}"
                ),
            }
            if matches!(g, Geometry::Point(_)) {
                assert_eq!(got.contains_key(&row), d <= r);
            }
        }
        radius_q += 1;
        // Nearest.
        let k = rng.random_range(1..=25);
        let hits = all_hits(
            &snap,
            layer,
            Scope::Nearest {
                centre: c,
                k,
                within_m: None,
            },
        );
        let mut by_bound: Vec<(f64, u32)> = (0..data.len() as u32)
            .map(|r| (rough_lower_bound(c, data.geometry(r)), r))
            .collect();
        by_bound.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut oracle: Vec<f64> = Vec::new();
        for (lb, r) in by_bound {
            if oracle.len() >= k {
                oracle.sort_by(f64::total_cmp);
                if lb > oracle[k - 1] + 50.0 {
                    break;
                }
            }
            oracle.push(oracle_distance(c, data.geometry(r), 25.0));
        }
        oracle.sort_by(f64::total_cmp);
        assert_eq!(hits.len(), k.min(data.len()));
        for (j, h) in hits.iter().enumerate() {
            let (mine, o) = (h.distance_m.unwrap(), oracle[j]);
            assert!(
                (mine - o).abs() <= tolerance(o),
                "{layer} kNN #{j}: {mine} vs {o}"
            );
        }
        knn_q += 1;
        // Box.
        let (w, h) = (rng.random_range(0.005..0.5), rng.random_range(0.005..0.3));
        let b = [
            c.x() - w / 2.0,
            c.y() - h / 2.0,
            c.x() + w / 2.0,
            c.y() + h / 2.0,
        ];
        if layer != Layer::Catchments {
            let got: BTreeSet<u32> = all_hits(&snap, layer, Scope::BBox(b))
                .iter()
                .map(|h| h.row)
                .collect();
            let want: BTreeSet<u32> = (0..data.len() as u32)
                .filter(|r| match data.geometry(*r) {
                    Geometry::Point(p) => {
                        p.x() >= b[0] && p.x() <= b[2] && p.y() >= b[1] && p.y() <= b[3]
                    }
                    _ => unreachable!("point layers"),
                })
                .collect();
            assert_eq!(got, want, "{layer} bbox {b:?}");
            bbox_q += 1;
        }
    }
    // Polygon: the real EPCI boundary, both relations, over the point layers.
    let epci = snap.layer(Layer::Territories);
    let shape = match epci.geometry(0) {
        Geometry::Polygon(p) => geo_types::MultiPolygon(vec![p.clone()]),
        Geometry::MultiPolygon(mp) => mp.clone(),
        _ => panic!("EPCI is a polygon"),
    };
    for layer in [Layer::Plots, Layer::WasteDeposits] {
        let data = snap.layer(layer);
        let want: BTreeSet<u32> = (0..data.len() as u32)
            .filter(|r| match data.geometry(*r) {
                Geometry::Point(p) => shape.0.iter().any(|poly| in_polygon(*p, poly)),
                _ => false,
            })
            .collect();
        for relation in [Relation::Intersects, Relation::Within] {
            let got: BTreeSet<u32> = all_hits(
                &snap,
                layer,
                Scope::Polygon {
                    shape: shape.clone(),
                    relation,
                },
            )
            .iter()
            .map(|h| h.row)
            .collect();
            assert_eq!(got, want, "{layer} {relation:?} the EPCI");
        }
        println!("{layer}: {} inside CU Le Havre Seine Métropole", want.len());
    }
    println!("{radius_q} radius, {knn_q} nearest, {bbox_q} box queries checked");
}

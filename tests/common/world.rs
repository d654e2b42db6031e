//! A synthetic world for tile tests and benches, drawn on the demo territory: the EPCI
//! boundary, its communes as catchments, plots, buildings and waste deposits placed 30 % in the
//! industrial zones, 30 % within 3 km of town centres and 40 % anywhere in the territory's box
//! (dense spots and a spread-out background, as on a real territory). Deterministic for a
//! seed.

#![allow(dead_code)]

use std::collections::BTreeMap;

use geo_types::{Coord, Geometry, LineString, MultiPolygon, Point, Polygon};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Map;

use terriens::index::{LayerData, Snapshot};
use terriens::model::{
    BUILDING_STATUS, Feature, Layer, MATERIALS, PLOT_STATUS, Value, material_unit, schema,
};
use terriens_demo::{LocalFrame, Territory};

/// How many features of each kind.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    pub plots: usize,
    pub buildings: usize,
    pub deposits: usize,
    /// Territory scale (communes, size); see `Territory::generate`.
    pub scale: u32,
}

impl Counts {
    /// A small world for tests.
    pub const SMALL: Counts = Counts {
        plots: 300,
        buildings: 120,
        deposits: 1500,
        scale: 1,
    };
    /// The `--scale` size of the issue: 1M deposits, 200k plots.
    pub const LARGE: Counts = Counts {
        plots: 200_000,
        buildings: 40_000,
        deposits: 1_000_000,
        scale: 500,
    };
}

fn feature(layer: Layer, id: u64, geometry: Geometry<f64>, values: Vec<(&str, Value)>) -> Feature {
    let s = schema(layer);
    let mut props = vec![None; s.fields.len()];
    for (name, v) in values {
        props[s.index_of(name)] = Some(v);
    }
    Feature {
        id,
        version: 1,
        geometry,
        props,
        extra: Map::new(),
    }
}

/// A rectangle of `w × h` metres turned by `angle`, centred on local metres (x, y).
fn rect(frame: &LocalFrame, x: f64, y: f64, w: f64, h: f64, angle: f64) -> Polygon<f64> {
    let (s, c) = angle.sin_cos();
    let mut ring: Vec<Coord<f64>> = [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)]
        .iter()
        .map(|(dx, dy)| {
            let (lx, ly) = (dx * w / 2.0, dy * h / 2.0);
            let (lon, lat) = frame.to_lonlat(x + lx * c - ly * s, y + lx * s + ly * c);
            Coord { x: lon, y: lat }
        })
        .collect();
    ring.push(ring[0]);
    Polygon::new(LineString(ring), vec![])
}

/// Builds the world's snapshot (generation 1).
pub fn world(seed: u64, counts: Counts) -> Snapshot {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let t = Territory::generate(seed, counts.scale);
    let frame = LocalFrame::new();
    let territories = vec![feature(
        Layer::Territories,
        1,
        Geometry::Polygon(t.boundary.clone()),
        vec![
            ("siren", Value::Text(t.siren.clone())),
            ("name", Value::Text(t.name.clone())),
            ("epci_type", Value::Text("CA".into())),
        ],
    )];
    let catchments: Vec<Feature> = t
        .towns
        .iter()
        .enumerate()
        .map(|(i, town)| {
            let mut cand = BTreeMap::new();
            for code in ["H2913", "N1103", "I1304", "H3203"] {
                cand.insert(code.to_string(), f64::from(rng.random_range(0..900u32)));
            }
            feature(
                Layer::Catchments,
                100 + i as u64,
                Geometry::MultiPolygon(town.boundary.clone()),
                vec![
                    ("zone_code", Value::Text(town.insee.clone())),
                    ("zone_name", Value::Text(town.name.clone())),
                    ("population", Value::Int(i64::from(town.population))),
                    ("candidates", Value::Counts(cand)),
                ],
            )
        })
        .collect();
    let (bx0, by0) = frame.to_local(t.bbox[0], t.bbox[1]);
    let (bx1, by1) = frame.to_local(t.bbox[2], t.bbox[3]);
    let zone_point = |rng: &mut ChaCha8Rng| -> (f64, f64) {
        let pick: f64 = rng.random();
        let (cx, cy, radius) = if pick < 0.3 {
            let z = &t.zones[rng.random_range(0..t.zones.len())];
            let (cx, cy) = frame.to_local(z.lon, z.lat);
            (cx, cy, z.radius_m)
        } else if pick < 0.6 {
            let town = &t.towns[rng.random_range(0..t.towns.len())];
            let (cx, cy) = frame.to_local(town.lon, town.lat);
            (cx, cy, 3_000.0)
        } else {
            return (rng.random_range(bx0..bx1), rng.random_range(by0..by1));
        };
        let r = radius * rng.random::<f64>().sqrt();
        let a = rng.random::<f64>() * std::f64::consts::TAU;
        (cx + r * a.cos(), cy + r * a.sin())
    };
    let mut plots = Vec::with_capacity(counts.plots);
    for i in 0..counts.plots {
        let (x, y) = zone_point(&mut rng);
        let status = PLOT_STATUS[rng.random_range(0..PLOT_STATUS.len())];
        let id = 10_000 + i as u64;
        if rng.random::<f64>() < 0.05 {
            let (lon, lat) = frame.to_lonlat(x, y);
            let area = rng.random_range(0.5..30.0);
            plots.push(feature(
                Layer::Plots,
                id,
                Geometry::Point(Point::new(lon, lat)),
                vec![
                    ("name", Value::Text(format!("Friche {i}"))),
                    ("status", Value::Text(status.into())),
                    ("area_ha", Value::Float(area)),
                    ("area_source", Value::Text("declared".into())),
                    ("brownfield", Value::Bool(true)),
                ],
            ));
            continue;
        }
        let w = rng.random_range(40.0..350.0);
        let h = rng.random_range(40.0..350.0);
        let angle = rng.random_range(0.0..1.5);
        plots.push(feature(
            Layer::Plots,
            id,
            Geometry::Polygon(rect(&frame, x, y, w, h, angle)),
            vec![
                ("name", Value::Text(format!("Lot {i}"))),
                ("status", Value::Text(status.into())),
                ("area_ha", Value::Float(w * h / 1e4)),
                ("area_source", Value::Text("geometry".into())),
                ("turnkey", Value::Bool(rng.random())),
                ("price_eur_m2", Value::Float(rng.random_range(10.0..90.0))),
            ],
        ));
    }
    let mut buildings = Vec::with_capacity(counts.buildings);
    for i in 0..counts.buildings {
        let (x, y) = zone_point(&mut rng);
        let w = rng.random_range(20.0..120.0);
        let h = rng.random_range(20.0..80.0);
        let status = BUILDING_STATUS[rng.random_range(0..BUILDING_STATUS.len())];
        buildings.push(feature(
            Layer::Buildings,
            500_000 + i as u64,
            Geometry::Polygon(rect(&frame, x, y, w, h, rng.random_range(0.0..1.5))),
            vec![
                ("name", Value::Text(format!("Bâtiment {i}"))),
                ("status", Value::Text(status.into())),
                ("floor_area_m2", Value::Float((w * h).round())),
                ("dock_doors", Value::Int(rng.random_range(0..12))),
            ],
        ));
    }
    let mut deposits = Vec::with_capacity(counts.deposits);
    for i in 0..counts.deposits {
        let (x, y) = zone_point(&mut rng);
        let (lon, lat) = frame.to_lonlat(x, y);
        let material = MATERIALS[rng.random_range(0..MATERIALS.len())];
        let confidential = rng.random::<f64>() < 0.1;
        deposits.push(feature(
            Layer::WasteDeposits,
            2_000_000 + i as u64,
            Geometry::Point(Point::new(lon, lat)),
            vec![
                ("name", Value::Text(format!("Gisement {i}"))),
                ("material", Value::Text(material.into())),
                (
                    "quantity",
                    Value::Float((rng.random_range(0.0..9.0f64)).exp().round()),
                ),
                (
                    "unit",
                    Value::Text(material_unit(material).unwrap_or("t").into()),
                ),
                ("holder", Value::Text(format!("Holder {}", i % 97))),
                (
                    "confidentiality",
                    Value::Text(if confidential { "partners" } else { "public" }.into()),
                ),
                ("hazardous", Value::Bool(rng.random::<f64>() < 0.1)),
            ],
        ));
    }
    let _ = MultiPolygon::<f64>(Vec::new());
    Snapshot::new(
        1,
        [
            LayerData::build(Layer::Territories, territories),
            LayerData::build(Layer::Catchments, catchments),
            LayerData::build(Layer::Plots, plots),
            LayerData::build(Layer::Buildings, buildings),
            LayerData::build(Layer::WasteDeposits, deposits),
        ],
    )
}

//! The synthetic territory every demo layer is drawn on: an EPCI boundary, its communes
//! (Voronoi cells of their town centres, clipped to the boundary) and its industrial zones.
//! Made-up names and codes (département `99`, SIREN `299…`), so nobody mistakes it for a real
//! place.

use geo::{BooleanOps, Contains, Voronoi, VoronoiClip, VoronoiParams};
use geo_types::{Coord, LineString, MultiPoint, MultiPolygon, Point, Polygon};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use terriens::geo_util::metres_per_degree;

/// What the demo data says of itself, in every feature's `source`.
pub const SOURCE: &str = "terriens synthetic demo data (not a real place)";

/// A commune and its main town.
#[derive(Debug, Clone)]
pub struct Town {
    pub insee: String,
    pub name: String,
    /// Town centre, WGS84.
    pub lon: f64,
    pub lat: f64,
    pub population: u32,
    /// The commune's area (WGS84).
    pub boundary: MultiPolygon<f64>,
}

/// An industrial zone (zone d'activités) where plots and buildings cluster.
#[derive(Debug, Clone)]
pub struct Zone {
    pub name: String,
    pub lon: f64,
    pub lat: f64,
    pub radius_m: f64,
    /// INSEE code of the commune it lies in.
    pub insee: String,
}

/// The whole synthetic territory.
#[derive(Debug, Clone)]
pub struct Territory {
    pub siren: String,
    pub name: String,
    /// EPCI boundary (WGS84).
    pub boundary: Polygon<f64>,
    /// `[min_lon, min_lat, max_lon, max_lat]` of the boundary.
    pub bbox: [f64; 4],
    pub towns: Vec<Town>,
    pub zones: Vec<Zone>,
}

/// Centre of the territory (an inland spot of Normandy; the data is made up).
const CENTRE: (f64, f64) = (1.0, 49.52);

/// A local metric frame around [`CENTRE`]: metres east/north ↔ lon/lat.
#[derive(Debug, Clone, Copy)]
pub struct LocalFrame {
    m_per_deg_lat: f64,
    m_per_deg_lon: f64,
}

impl LocalFrame {
    pub fn new() -> LocalFrame {
        let (m_per_deg_lat, m_per_deg_lon) = metres_per_degree(CENTRE.1);
        LocalFrame {
            m_per_deg_lat,
            m_per_deg_lon,
        }
    }

    /// Metres east and north of the centre → (lon, lat), rounded to 1e-7° (about 1 cm).
    pub fn to_lonlat(&self, x: f64, y: f64) -> (f64, f64) {
        let round = |v: f64| (v * 1e7).round() / 1e7;
        (
            round(CENTRE.0 + x / self.m_per_deg_lon),
            round(CENTRE.1 + y / self.m_per_deg_lat),
        )
    }

    /// (lon, lat) → metres east and north of the centre.
    pub fn to_local(&self, lon: f64, lat: f64) -> (f64, f64) {
        (
            (lon - CENTRE.0) * self.m_per_deg_lon,
            (lat - CENTRE.1) * self.m_per_deg_lat,
        )
    }

    fn polygon_to_lonlat(&self, p: &Polygon<f64>) -> Polygon<f64> {
        let ring = |l: &LineString<f64>| {
            LineString(
                l.0.iter()
                    .map(|c| {
                        let (x, y) = self.to_lonlat(c.x, c.y);
                        Coord { x, y }
                    })
                    .collect(),
            )
        };
        Polygon::new(ring(p.exterior()), p.interiors().iter().map(ring).collect())
    }
}

impl Default for LocalFrame {
    fn default() -> Self {
        LocalFrame::new()
    }
}

const SYLLABLES: &[&str] = &[
    "bel", "mont", "val", "ville", "court", "bec", "fleur", "mare", "houle", "tot", "beuf",
    "lande", "ham", "rouge", "clair", "fonte", "saule", "orme", "cour", "pré",
];
const PREFIXES: &[&str] = &["Saint-", "Notre-Dame-de-", "Le ", "La ", "", "", "", ""];
const SUFFIXES: &[&str] = &[
    "-sur-Synthe",
    "-en-Caux-Fictif",
    "-la-Rivière",
    "",
    "",
    "",
    "",
];

fn town_name(rng: &mut ChaCha8Rng, taken: &mut Vec<String>) -> String {
    loop {
        let n = rng.random_range(2..=3);
        let mut stem: String = (0..n)
            .map(|_| SYLLABLES[rng.random_range(0..SYLLABLES.len())])
            .collect();
        if let Some(first) = stem.get(..1) {
            stem = first.to_uppercase() + &stem[1..];
        }
        let name = format!(
            "{}{}{}",
            PREFIXES[rng.random_range(0..PREFIXES.len())],
            stem,
            SUFFIXES[rng.random_range(0..SUFFIXES.len())]
        );
        if !taken.contains(&name) {
            taken.push(name.clone());
            return name;
        }
    }
}

impl Territory {
    /// The territory for a seed. `scale` ≥ 1 enlarges it (side × √scale, capped at the size of
    /// a département) and adds communes, so large data sets keep a realistic density.
    ///
    /// Steps, in the order they draw from the random generator: the boundary → the town
    /// centres → the communes (population, Voronoi cell, name) → the industrial zones.
    pub fn generate(seed: u64, scale: u32) -> Territory {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let frame = LocalFrame::new();
        let grow = f64::from(scale.max(1)).sqrt().min(3.0);
        let (half_w, half_h) = (26_000.0 * grow, 20_000.0 * grow);
        let boundary_local = wobbly_ellipse(&mut rng, half_w, half_h);
        let n_towns = ((40.0 * grow * grow) as usize).min(700);
        let min_gap = (half_w * half_h * 4.0 / n_towns as f64).sqrt() * 0.55;
        let centres = town_centres(
            &mut rng,
            &boundary_local,
            (half_w, half_h),
            n_towns,
            min_gap,
        );
        let towns = communes(&mut rng, &frame, &boundary_local, &centres, min_gap);
        let n_zones = (12.0 * grow * grow) as usize;
        let zones = industrial_zones(&mut rng, &frame, &boundary_local, &towns, n_zones);
        let boundary = frame.polygon_to_lonlat(&boundary_local);
        let bbox = {
            let xs = boundary.exterior().0.iter().map(|c| c.x);
            let ys = boundary.exterior().0.iter().map(|c| c.y);
            [
                xs.clone().fold(f64::INFINITY, f64::min),
                ys.clone().fold(f64::INFINITY, f64::min),
                xs.fold(f64::NEG_INFINITY, f64::max),
                ys.fold(f64::NEG_INFINITY, f64::max),
            ]
        };
        Territory {
            siren: "299000001".into(),
            name: "Communauté d'agglomération de la Vallée Synthétique".into(),
            boundary,
            bbox,
            towns,
            zones,
        }
    }
}

/// The boundary, in local metres: a wobbly ellipse of half-axes `half_w` × `half_h`.
fn wobbly_ellipse(rng: &mut ChaCha8Rng, half_w: f64, half_h: f64) -> Polygon<f64> {
    let n = 72;
    let phase: [f64; 3] = [rng.random(), rng.random(), rng.random()];
    let mut ring: Vec<Coord<f64>> = (0..n)
        .map(|i| {
            let t = i as f64 / n as f64 * std::f64::consts::TAU;
            let wobble = 1.0
                + 0.08 * (3.0 * t + phase[0] * 6.0).sin()
                + 0.05 * (5.0 * t + phase[1] * 6.0).sin()
                + 0.03 * (9.0 * t + phase[2] * 6.0).sin();
            Coord {
                x: half_w * wobble * t.cos(),
                y: half_h * wobble * t.sin(),
            }
        })
        .collect();
    ring.push(ring[0]);
    Polygon::new(LineString(ring), vec![])
}

/// Town centres in local metres: rejection sampling inside the boundary with a minimum
/// spacing (halved after 100,000 tries), the main town (nearest the middle) first.
fn town_centres(
    rng: &mut ChaCha8Rng,
    boundary_local: &Polygon<f64>,
    (half_w, half_h): (f64, f64),
    n_towns: usize,
    min_gap: f64,
) -> Vec<(f64, f64)> {
    let mut centres: Vec<(f64, f64)> = Vec::with_capacity(n_towns);
    let mut tries = 0;
    while centres.len() < n_towns && tries < 200_000 {
        tries += 1;
        let p = (
            rng.random_range(-half_w..half_w),
            rng.random_range(-half_h..half_h),
        );
        if !boundary_local.contains(&Point::new(p.0, p.1)) {
            continue;
        }
        let gap = if tries > 100_000 {
            min_gap * 0.5
        } else {
            min_gap
        };
        if centres
            .iter()
            .all(|c| ((c.0 - p.0).powi(2) + (c.1 - p.1).powi(2)).sqrt() > gap)
        {
            centres.push(p);
        }
    }
    // The main town is the one nearest the middle.
    centres.sort_by(|a, b| (a.0.hypot(a.1)).total_cmp(&b.0.hypot(b.1)));
    centres
}

/// The communes: each town's population (a main town, three larger ones, log-uniform
/// villages), its Voronoi cell clipped to the boundary, and a made-up name.
fn communes(
    rng: &mut ChaCha8Rng,
    frame: &LocalFrame,
    boundary_local: &Polygon<f64>,
    centres: &[(f64, f64)],
    min_gap: f64,
) -> Vec<Town> {
    let sites = MultiPoint(centres.iter().map(|c| Point::new(c.0, c.1)).collect());
    let cells = sites
        .voronoi_cells_with_params(VoronoiParams::new().clip(VoronoiClip::Padded))
        .unwrap_or_default();
    let mut names = Vec::new();
    let mut towns = Vec::with_capacity(centres.len());
    for (i, c) in centres.iter().enumerate() {
        let population = if i == 0 {
            58_000 + rng.random_range(0..4_000)
        } else if i < 4 {
            8_000 + rng.random_range(0..7_000)
        } else {
            // Log-uniform 300 .. 4,000 inhabitants.
            (300.0 * (rng.random::<f64>() * (4000.0f64 / 300.0).ln()).exp()) as u32
        };
        let p = Point::new(c.0, c.1);
        let cell = cells
            .iter()
            .find(|cell| cell.contains(&p))
            .cloned()
            .unwrap_or_else(|| square(c.0, c.1, min_gap / 2.0));
        let clipped = cell.intersection(boundary_local);
        let boundary = MultiPolygon(clipped.iter().map(|p| frame.polygon_to_lonlat(p)).collect());
        let (lon, lat) = frame.to_lonlat(c.0, c.1);
        towns.push(Town {
            insee: format!("99{:03}", i + 1),
            name: town_name(rng, &mut names),
            lon,
            lat,
            population,
            boundary,
        });
    }
    towns
}

/// Industrial zones: next to the six largest towns, plus some next to towns drawn at random
/// (those that would fall outside the boundary are dropped).
fn industrial_zones(
    rng: &mut ChaCha8Rng,
    frame: &LocalFrame,
    boundary_local: &Polygon<f64>,
    towns: &[Town],
    n_zones: usize,
) -> Vec<Zone> {
    let mut zones = Vec::with_capacity(n_zones);
    for z in 0..n_zones {
        let town = if z < 6 {
            z.min(towns.len().saturating_sub(1))
        } else {
            rng.random_range(0..towns.len().max(1))
        };
        let (tx, ty) = frame.to_local(towns[town].lon, towns[town].lat);
        let angle = rng.random::<f64>() * std::f64::consts::TAU;
        let dist = rng.random_range(800.0..2_500.0);
        let (x, y) = (tx + dist * angle.cos(), ty + dist * angle.sin());
        if !boundary_local.contains(&Point::new(x, y)) {
            continue;
        }
        let (lon, lat) = frame.to_lonlat(x, y);
        let insee = towns
            .iter()
            .find(|t| t.boundary.contains(&Point::new(lon, lat)))
            .map_or_else(|| towns[town].insee.clone(), |t| t.insee.clone());
        zones.push(Zone {
            name: format!("ZA {} {}", towns[town].name, z + 1),
            lon,
            lat,
            radius_m: rng.random_range(500.0..1_500.0),
            insee,
        });
    }
    zones
}

fn square(x: f64, y: f64, h: f64) -> Polygon<f64> {
    Polygon::new(
        LineString::from(vec![
            (x - h, y - h),
            (x + h, y - h),
            (x + h, y + h),
            (x - h, y + h),
            (x - h, y - h),
        ]),
        vec![],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_plausible() {
        let a = Territory::generate(76, 1);
        let b = Territory::generate(76, 1);
        assert_eq!(a.towns.len(), b.towns.len());
        assert_eq!(a.towns[5].name, b.towns[5].name);
        assert_eq!(a.towns[5].boundary, b.towns[5].boundary);
        assert!((35..=45).contains(&a.towns.len()), "{}", a.towns.len());
        assert!(a.zones.len() >= 8);
        for t in &a.towns {
            assert!(!t.boundary.0.is_empty(), "{} has no area", t.name);
        }
    }
}

//! Mapbox Vector Tile 2.1 encoding: snapping to the integer grid, ring cleaning and winding,
//! geometry commands, and layers with deduplicated keys and typed values. Only the geometry type
//! enum is geozero's (`geozero::mvt::tile::GeomType`); the protobuf layers are written by hand
//! here (see `LayerWriter`), and tests decode them with geozero's prost types.

use std::borrow::Cow;

use geo_types::{LineString, MultiPolygon};
use geozero::mvt::tile::GeomType;

use crate::geo_util::grid_valid::{GridPolygon, make_valid, ring_area2};

const MOVE_TO: u32 = 1;
const LINE_TO: u32 = 2;
const CLOSE_PATH: u32 = 7;

#[inline]
fn command(id: u32, count: u32) -> u32 {
    (id & 0x7) | (count << 3)
}

#[inline]
fn zigzag(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

/// Snaps a ring (tile coordinates, floating point) to integers and cleans it: no repeated
/// points, no spikes (A→B→A), closing point left out. `None` if fewer than three points or no
/// area remain.
pub fn snap_ring(ring: &LineString<f64>) -> Option<Vec<[i32; 2]>> {
    let mut pts: Vec<[i32; 2]> = Vec::with_capacity(ring.0.len());
    for c in &ring.0 {
        let p = [c.x.round() as i32, c.y.round() as i32];
        push_clean(&mut pts, p);
    }
    // Close the loop: drop a last point equal to the first, and spikes across the seam.
    loop {
        let n = pts.len();
        if n >= 2 && pts[n - 1] == pts[0] {
            pts.pop();
        } else if n >= 3 && pts[n - 2] == pts[0] {
            // ... X, first: the last step goes out and back.
            pts.pop();
        } else if n >= 3 && pts[n - 1] == pts[1] {
            // last, first, last: the first point is a spike.
            pts.remove(0);
        } else {
            break;
        }
    }
    if pts.len() < 3 || ring_area2(&pts) == 0 {
        return None;
    }
    Some(pts)
}

fn push_clean(pts: &mut Vec<[i32; 2]>, p: [i32; 2]) {
    if pts.last() == Some(&p) {
        return;
    }
    let n = pts.len();
    if n >= 2 && pts[n - 2] == p {
        // A→B→A: B is a spike.
        pts.pop();
        return;
    }
    pts.push(p);
}

/// Geometry commands of polygons in tile coordinates (already clipped). Rings are snapped to
/// the integer grid and cleaned ([`snap_ring`]), then the polygon is made valid as a whole
/// ([`make_valid`]): rounding can leave a ring running along the clip edge and back over
/// itself, or two rings touching along a segment, which MVT 2.1 forbids. Exterior rings come
/// out with a positive area (clockwise on screen, y down), each followed by its holes (negative).
/// `None` if nothing survives.
pub fn polygon_commands(mp: &MultiPolygon<f64>) -> Option<Vec<u32>> {
    let snapped: Vec<GridPolygon> =
        mp.0.iter()
            .filter_map(|p| {
                let mut poly = vec![snap_ring(p.exterior())?];
                poly.extend(p.interiors().iter().filter_map(snap_ring));
                Some(poly)
            })
            .collect();
    let mut out = Vec::new();
    let mut cursor = [0i32; 2];
    for poly in make_valid(&snapped) {
        for ring in &poly {
            ring_commands(ring, &mut cursor, &mut out);
        }
    }
    (!out.is_empty()).then_some(out)
}

fn ring_commands(pts: &[[i32; 2]], cursor: &mut [i32; 2], out: &mut Vec<u32>) {
    out.reserve(pts.len() * 2 + 3);
    let mut delta = |p: [i32; 2], out: &mut Vec<u32>| {
        out.push(zigzag(p[0] - cursor[0]));
        out.push(zigzag(p[1] - cursor[1]));
        *cursor = p;
    };
    out.push(command(MOVE_TO, 1));
    delta(pts[0], out);
    out.push(command(LINE_TO, (pts.len() - 1) as u32));
    for p in &pts[1..] {
        delta(*p, out);
    }
    out.push(command(CLOSE_PATH, 1));
}

/// Geometry commands of one point in tile coordinates.
pub fn point_commands(p: [f64; 2]) -> Vec<u32> {
    let x = p[0].round() as i32;
    let y = p[1].round() as i32;
    vec![command(MOVE_TO, 1), zigzag(x), zigzag(y)]
}

/// Number of bytes the varints of `words` take.
pub fn varint_bytes(words: &[u32]) -> usize {
    words
        .iter()
        .map(|w| match *w {
            0..=0x7f => 1,
            0x80..=0x3fff => 2,
            0x4000..=0x1f_ffff => 3,
            0x20_0000..=0xfff_ffff => 4,
            _ => 5,
        })
        .sum()
}

/// A property value borrowed from the data, before it enters a layer's value table.
#[derive(Debug, Clone, PartialEq)]
pub enum PropValue<'a> {
    Str(Cow<'a, str>),
    Double(f64),
    Int(i64),
    Bool(bool),
}

/// A property: key and value.
pub type Prop<'a> = (Cow<'static, str>, PropValue<'a>);

/// The tables hash short keys per feature, where SipHash showed in profiles: FxHash (rustc's,
/// from `rustc-hash`). Only looked up, never iterated: the hash does not reach the tile bytes.
type FxMap<K, V> = rustc_hash::FxHashMap<K, V>;

#[inline]
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[inline]
fn put_key(out: &mut Vec<u8>, field: u32, wire: u32) {
    put_varint(out, u64::from(field << 3 | wire));
}

fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(out, field, 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_packed(out: &mut Vec<u8>, field: u32, words: &[u32]) {
    put_key(out, field, 2);
    put_varint(out, varint_bytes(words) as u64);
    for w in words {
        put_varint(out, u64::from(*w));
    }
}

/// Builds one MVT layer straight into protobuf bytes (vector_tile.proto, MVT 2.1): features,
/// and the key and value tables they index into. No allocation per feature once the tables
/// hold a value; lookups of keys and strings borrow.
pub struct LayerWriter {
    name: String,
    extent: u32,
    features: Vec<u8>,
    keys: FxMap<String, u32>,
    key_list: Vec<u8>,
    n_keys: u32,
    values: Vec<u8>,
    n_values: u32,
    strings: FxMap<String, u32>,
    doubles: FxMap<u64, u32>,
    ints: FxMap<i64, u32>,
    bools: [Option<u32>; 2],
    tags: Vec<u32>,
    scratch: Vec<u8>,
}

impl LayerWriter {
    pub fn new(name: &str, extent: u32) -> LayerWriter {
        LayerWriter {
            name: name.to_string(),
            extent,
            features: Vec::new(),
            keys: FxMap::default(),
            key_list: Vec::new(),
            n_keys: 0,
            values: Vec::new(),
            n_values: 0,
            strings: FxMap::default(),
            doubles: FxMap::default(),
            ints: FxMap::default(),
            bools: [None; 2],
            tags: Vec::new(),
            scratch: Vec::new(),
        }
    }

    fn key(&mut self, k: &str) -> u32 {
        if let Some(i) = self.keys.get(k) {
            return *i;
        }
        let i = self.n_keys;
        self.n_keys += 1;
        put_bytes(&mut self.key_list, 3, k.as_bytes());
        self.keys.insert(k.to_string(), i);
        i
    }

    fn push_value(values: &mut Vec<u8>, n: &mut u32, v: &PropValue<'_>) -> u32 {
        let mut m = Vec::with_capacity(16);
        match v {
            PropValue::Str(s) => put_bytes(&mut m, 1, s.as_bytes()),
            PropValue::Double(f) => {
                put_key(&mut m, 3, 1);
                m.extend_from_slice(&f.to_le_bytes());
            }
            PropValue::Int(i) => {
                put_key(&mut m, 4, 0);
                put_varint(&mut m, *i as u64);
            }
            PropValue::Bool(b) => {
                put_key(&mut m, 7, 0);
                m.push(u8::from(*b));
            }
        }
        put_bytes(values, 4, &m);
        *n += 1;
        *n - 1
    }

    fn value(&mut self, v: &PropValue<'_>) -> u32 {
        let (values, n) = (&mut self.values, &mut self.n_values);
        match v {
            PropValue::Str(s) => match self.strings.get(s.as_ref()) {
                Some(i) => *i,
                None => {
                    let i = Self::push_value(values, n, v);
                    self.strings.insert(s.to_string(), i);
                    i
                }
            },
            PropValue::Double(f) => *self
                .doubles
                .entry(f.to_bits())
                .or_insert_with(|| Self::push_value(values, n, v)),
            PropValue::Int(i) => *self
                .ints
                .entry(*i)
                .or_insert_with(|| Self::push_value(values, n, v)),
            PropValue::Bool(b) => {
                *self.bools[usize::from(*b)].get_or_insert_with(|| Self::push_value(values, n, v))
            }
        }
    }

    /// Adds a feature.
    pub fn add(&mut self, id: Option<u64>, ty: GeomType, geometry: &[u32], props: &[Prop<'_>]) {
        let mut tags = std::mem::take(&mut self.tags);
        tags.clear();
        for (k, v) in props {
            tags.push(self.key(k));
            tags.push(self.value(v));
        }
        let mut f = std::mem::take(&mut self.scratch);
        f.clear();
        if let Some(id) = id {
            put_key(&mut f, 1, 0);
            put_varint(&mut f, id);
        }
        if !tags.is_empty() {
            put_packed(&mut f, 2, &tags);
        }
        put_key(&mut f, 3, 0);
        put_varint(&mut f, ty as u64);
        put_packed(&mut f, 4, geometry);
        put_bytes(&mut self.features, 2, &f);
        self.scratch = f;
        self.tags = tags;
    }

    /// Appends the layer, as field 3 of a Tile message, to `tile`.
    pub fn finish_into(self, tile: &mut Vec<u8>) {
        let mut l = Vec::with_capacity(
            self.features.len() + self.key_list.len() + self.values.len() + self.name.len() + 16,
        );
        put_key(&mut l, 15, 0);
        put_varint(&mut l, 2);
        put_bytes(&mut l, 1, self.name.as_bytes());
        l.extend_from_slice(&self.features);
        l.extend_from_slice(&self.key_list);
        l.extend_from_slice(&self.values);
        put_key(&mut l, 5, 0);
        put_varint(&mut l, u64::from(self.extent));
        put_bytes(tile, 3, &l);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{Coord, LineString, Polygon};

    fn ring(pts: &[(f64, f64)]) -> LineString<f64> {
        LineString(pts.iter().map(|(x, y)| Coord { x: *x, y: *y }).collect())
    }

    #[test]
    fn layers_decode_with_prost() {
        use geozero::mvt::{Message, Tile};
        let mut w = LayerWriter::new("plots", 4096);
        let props: Vec<Prop<'_>> = vec![
            ("name".into(), PropValue::Str("Lot".into())),
            ("area_ha".into(), PropValue::Double(2.5)),
            ("dock_doors".into(), PropValue::Int(-3)),
            ("turnkey".into(), PropValue::Bool(true)),
        ];
        w.add(
            Some(1 << 52),
            GeomType::Point,
            &point_commands([10.0, 20.0]),
            &props,
        );
        w.add(
            None,
            GeomType::Point,
            &point_commands([11.0, 21.0]),
            &props[..2],
        );
        let mut bytes = Vec::new();
        w.finish_into(&mut bytes);
        let t = Tile::decode(&bytes[..]).unwrap();
        let l = &t.layers[0];
        assert_eq!(
            (l.name.as_str(), l.version, l.extent),
            ("plots", 2, Some(4096))
        );
        assert_eq!(l.features.len(), 2);
        assert_eq!(l.features[0].id, Some(1 << 52));
        assert_eq!(l.features[1].id, None);
        assert_eq!(l.keys, vec!["name", "area_ha", "dock_doors", "turnkey"]);
        assert_eq!(l.values.len(), 4);
        assert_eq!(l.values[2].int_value, Some(-3));
        assert_eq!(l.values[3].bool_value, Some(true));
        assert_eq!(l.features[1].tags, vec![0, 0, 1, 1]);
        assert_eq!(l.features[0].geometry, vec![9, 20, 40]);
    }

    #[test]
    fn zigzag_matches_the_spec_examples() {
        // MVT 2.1 §4.3.2: 0→0, -1→1, 1→2, -2→3, 2→4.
        assert_eq!([0, -1, 1, -2, 2].map(zigzag), [0, 1, 2, 3, 4]);
        assert_eq!(command(MOVE_TO, 1), 9);
        assert_eq!(command(LINE_TO, 3), 26);
        assert_eq!(command(CLOSE_PATH, 1), 15);
    }

    #[test]
    fn spec_example_polygon() {
        // MVT 2.1 §4.3.5.3 (Polygon): (3,6) (8,12) (20,34) encodes as
        // [9, 6, 12, 18, 10, 12, 24, 44, 15].
        let mp = MultiPolygon(vec![Polygon::new(
            ring(&[(3.0, 6.0), (8.0, 12.0), (20.0, 34.0), (3.0, 6.0)]),
            vec![],
        )]);
        assert_eq!(
            polygon_commands(&mp).unwrap(),
            vec![9, 6, 12, 18, 10, 12, 24, 44, 15]
        );
    }

    #[test]
    fn exterior_rings_are_made_clockwise_and_holes_counter_clockwise() {
        let ccw_on_screen = ring(&[
            (0.0, 0.0),
            (0.0, 10.0),
            (10.0, 10.0),
            (10.0, 0.0),
            (0.0, 0.0),
        ]);
        let hole_cw = ring(&[(2.0, 2.0), (4.0, 2.0), (4.0, 4.0), (2.0, 4.0), (2.0, 2.0)]);
        let mp = MultiPolygon(vec![Polygon::new(ccw_on_screen, vec![hole_cw])]);
        let cmds = polygon_commands(&mp).unwrap();
        // Decode the two rings back and check their signed areas.
        let mut rings: Vec<Vec<[i32; 2]>> = Vec::new();
        let (mut x, mut y, mut i) = (0i32, 0i32, 0usize);
        let unzig = |v: u32| ((v >> 1) as i32) ^ -((v & 1) as i32);
        while i < cmds.len() {
            let (id, count) = (cmds[i] & 7, cmds[i] >> 3);
            i += 1;
            if id == MOVE_TO {
                rings.push(Vec::new());
            }
            if id == CLOSE_PATH {
                continue;
            }
            for _ in 0..count {
                x += unzig(cmds[i]);
                y += unzig(cmds[i + 1]);
                i += 2;
                if let Some(r) = rings.last_mut() {
                    r.push([x, y]);
                }
            }
        }
        assert_eq!(rings.len(), 2);
        assert!(ring_area2(&rings[0]) > 0);
        assert!(ring_area2(&rings[1]) < 0);
    }

    #[test]
    fn snapping_removes_repeats_spikes_and_slivers() {
        let r = ring(&[
            (0.0, 0.0),
            (0.2, 0.1),
            (10.0, 0.0),
            (20.0, 0.0),
            (10.0, 0.0),
            (10.0, 10.0),
            (0.0, 0.0),
        ]);
        assert_eq!(snap_ring(&r).unwrap(), vec![[0, 0], [10, 0], [10, 10]]);
        let sliver = ring(&[(0.0, 0.0), (10.0, 0.2), (20.0, 0.0), (0.0, 0.0)]);
        assert!(snap_ring(&sliver).is_none());
    }
}

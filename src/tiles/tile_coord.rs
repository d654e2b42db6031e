//! Tile addresses and the web-mercator maths behind them.
//!
//! "World" coordinates are web mercator (EPSG:3857) scaled to the unit square with y pointing
//! down (north at 0), the frame of XYZ tiles: tile (z, x, y) covers
//! `[x / 2^z, (x+1) / 2^z] × [y / 2^z, (y+1) / 2^z]`. Working in this frame makes the MVT
//! Y flip a plain scale, and a tile's box in lon/lat is still a box (mercator is separable).

use std::f64::consts::PI;

use super::TileError;

/// Largest zoom served.
pub const MAX_ZOOM: u8 = 22;

/// Largest latitude of web mercator.
pub const MAX_LAT: f64 = 85.051_128_779_806_59;

/// One tile address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileCoord {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

impl TileCoord {
    /// A checked tile address: `z <= 22`, `x, y < 2^z`.
    ///
    /// ```
    /// use terriens::tiles::TileCoord;
    /// assert!(TileCoord::new(14, 8196, 5600).is_ok());
    /// assert!(TileCoord::new(23, 0, 0).is_err());
    /// assert!(TileCoord::new(2, 4, 0).is_err());
    /// ```
    pub fn new(z: u64, x: u64, y: u64) -> Result<TileCoord, TileError> {
        if z > u64::from(MAX_ZOOM) {
            return Err(TileError::ZoomTooHigh { z, max: MAX_ZOOM });
        }
        let z8 = z as u8;
        let n = 1u64 << z;
        for (axis, value) in [("x", x), ("y", y)] {
            if value >= n {
                return Err(TileError::OutOfRange {
                    axis,
                    value,
                    z: z8,
                    max: n - 1,
                });
            }
        }
        Ok(TileCoord {
            z: z8,
            x: x as u32,
            y: y as u32,
        })
    }

    /// Parses the three path segments; `y` may end in `.mvt` or `.pbf`.
    pub fn parse(z: &str, x: &str, y: &str) -> Result<TileCoord, TileError> {
        let num = |what: &'static str, s: &str| -> Result<u64, TileError> {
            match s.parse::<u64>() {
                Ok(n) => Ok(n),
                // Digits too many for u64: a number, beyond every zoom's grid.
                Err(_) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => Ok(u64::MAX),
                Err(_) => Err(TileError::BadCoordinate {
                    what,
                    segment: s.to_string(),
                }),
            }
        };
        let y_digits = y
            .strip_suffix(".mvt")
            .or_else(|| y.strip_suffix(".pbf"))
            .unwrap_or(y);
        TileCoord::new(num("z", z)?, num("x", x)?, num("y", y_digits)?)
    }

    /// Number of tiles along one side of the world at this zoom.
    pub fn tiles_per_side(self) -> f64 {
        f64::from(1u32 << self.z)
    }

    /// The tile's box in world coordinates, grown by `buffer` tile units on each side
    /// (`[min_x, min_y, max_x, max_y]`, y down).
    pub fn world_bounds(self, buffer: f64, extent: f64) -> [f64; 4] {
        let n = self.tiles_per_side();
        let b = buffer / extent;
        [
            (f64::from(self.x) - b) / n,
            (f64::from(self.y) - b) / n,
            (f64::from(self.x) + 1.0 + b) / n,
            (f64::from(self.y) + 1.0 + b) / n,
        ]
    }

    /// The tile's box in lon/lat (`[min_lon, min_lat, max_lon, max_lat]`), grown by `buffer`
    /// tile units on each side.
    pub fn lonlat_bounds(self, buffer: f64, extent: f64) -> [f64; 4] {
        let w = self.world_bounds(buffer, extent);
        let [lon0, lat1] = world_to_lonlat(w[0], w[1]);
        let [lon1, lat0] = world_to_lonlat(w[2], w[3]);
        [lon0, lat0, lon1, lat1]
    }
}

impl std::fmt::Display for TileCoord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.z, self.x, self.y)
    }
}

/// WGS84 lon/lat (degrees) → world coordinates (unit square, y down). Latitudes beyond
/// web mercator's ±85.05° are clamped.
///
/// ```
/// use terriens::tiles::lonlat_to_world;
/// let [x, y] = lonlat_to_world(0.0, 0.0);
/// assert!((x - 0.5).abs() < 1e-12 && (y - 0.5).abs() < 1e-12);
/// ```
#[inline]
pub fn lonlat_to_world(lon: f64, lat: f64) -> [f64; 2] {
    let lat = lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    let x = (lon + 180.0) / 360.0;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / PI) / 2.0;
    [x, y]
}

/// World coordinates → WGS84 lon/lat (degrees).
#[inline]
pub fn world_to_lonlat(x: f64, y: f64) -> [f64; 2] {
    let lon = x * 360.0 - 180.0;
    let lat = (PI * (1.0 - 2.0 * y)).sinh().atan().to_degrees();
    [lon, lat]
}

/// Length of one tile unit (of an `extent`-unit tile) at zoom `z`, in world units.
#[inline]
pub fn tile_unit(z: u8, extent: f64) -> f64 {
    1.0 / (f64::from(1u32 << z) * extent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_round_trip() {
        for (lon, lat) in [(0.1, 49.5), (-179.0, -80.0), (179.9, 85.0), (7.4, 43.7)] {
            let [x, y] = lonlat_to_world(lon, lat);
            let [lo, la] = world_to_lonlat(x, y);
            assert!((lo - lon).abs() < 1e-9 && (la - lat).abs() < 1e-9);
        }
    }

    #[test]
    fn tile_of_le_havre_at_z14() {
        // Independent reference: the slippy-map formula from the OSM wiki, computed by hand:
        // Le Havre city hall (0.1079, 49.4944) lies in tile 14/8196/5592.
        let [x, y] = lonlat_to_world(0.1079, 49.4944);
        assert_eq!(((x * 16384.0) as u32, (y * 16384.0) as u32), (8196, 5592));
        let t = TileCoord::new(14, 8196, 5592).unwrap();
        let b = t.lonlat_bounds(0.0, 4096.0);
        assert!(b[0] < 0.1079 && 0.1079 < b[2] && b[1] < 49.4944 && 49.4944 < b[3]);
    }

    #[test]
    fn parse_checks_ranges_and_suffixes() {
        assert_eq!(
            TileCoord::parse("3", "2", "5.mvt").unwrap(),
            TileCoord { z: 3, x: 2, y: 5 }
        );
        assert!(TileCoord::parse("3", "2", "5.pbf").is_ok());
        assert!(matches!(
            TileCoord::parse("3", "8", "0"),
            Err(TileError::OutOfRange { axis: "x", .. })
        ));
        assert!(matches!(
            TileCoord::parse("23", "0", "0"),
            Err(TileError::ZoomTooHigh { .. })
        ));
        assert!(matches!(
            TileCoord::parse("3", "a", "0"),
            Err(TileError::BadCoordinate { what: "x", .. })
        ));
        assert!(TileCoord::parse("3", "1", "5.png").is_err());
    }
}
